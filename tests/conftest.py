"""Fixtures shared by the test files."""

import os
import tempfile

import pytest
import torch

import alphazero  # noqa: F401  first: it sets OpenMP's waiting before torch loads
from alphazero.core.config import NetConfig
from alphazero.nn.checkpoint import save
from alphazero.nn.net import build_net

# Backend calibrations (inference.backend: auto) go to a folder of the test session, shared by
# the commands the tests start, never to the user's home.
os.environ["ALPHAZERO_CACHE_DIR"] = tempfile.mkdtemp(prefix="alphazero-cache-")


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    """A checkpoint of an untrained ``tiny`` net (seed 0): a Path."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save(path, build_net(NetConfig(preset="tiny")))
    return path
