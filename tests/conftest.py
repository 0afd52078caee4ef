"""Fixtures shared by the test files."""

import alphazero  # noqa: F401  first: it sets OpenMP's waiting before torch loads
import pytest
import torch

from alphazero.checkpoint import save
from alphazero.config import NetConfig
from alphazero.net import build_net


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    """A checkpoint of an untrained ``tiny`` net (seed 0): a Path."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save(path, build_net(NetConfig(preset="tiny")))
    return path
