"""Self-describing checkpoints: atomic writes, safe loads, errors that name the fix.

A checkpoint is a ``torch.save`` of a plain dict::

    {"format": "alphazero-c4", "format_version": 1, "net": {resolved NetConfig fields},
     "iteration": int, "state_dict": {...}, "optimizer": {...} | None, "meta": {...}}

It is loaded with ``weights_only=True`` (no code runs) and ``map_location``, so a file written
on a CUDA machine loads on a CPU-only one.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import torch

from . import faults
from .config import NetConfig
from .net import ConnectNet

FORMAT = "alphazero-c4"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, phrased for the user."""


@dataclass
class Checkpoint:
    """What a checkpoint file holds, with the net rebuilt from its own description."""

    net: ConnectNet
    net_config: NetConfig
    iteration: int
    optimizer: dict | None
    meta: dict


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path.tmp``, fsync, then ``os.replace``: readers never see half a file."""
    path = os.fspath(path)
    tmp = f"{path}.tmp"
    # Serialise in memory first: torch's zip writer turns a full disk into an opaque
    # RuntimeError, while a plain write reports ENOSPC as the OSError it is.
    buf = io.BytesIO()
    torch.save(obj, buf)
    try:
        with open(tmp, "wb") as fh:
            faults.point("checkpoint_write", path)
            fh.write(buf.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        faults.point("checkpoint_replace", path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(path: str | os.PathLike, net: ConnectNet, iteration: int = 0,
         optimizer: torch.optim.Optimizer | dict | None = None, meta: dict | None = None) -> None:
    """Write ``net`` (and optionally the optimizer state) atomically to ``path``."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer.state_dict()
    atomic_torch_save({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "net": dataclasses.asdict(net.cfg),
        "iteration": int(iteration),
        "state_dict": state,
        "optimizer": optimizer,
        "meta": dict(meta or {}),
    }, path)


def _arch(cfg: NetConfig) -> tuple:
    return (cfg.blocks, cfg.channels, cfg.policy_channels, cfg.value_channels, cfg.value_hidden)


def load(path: str | os.PathLike, device: torch.device | str = "cpu",
         expect: NetConfig | None = None) -> Checkpoint:
    """Load a checkpoint onto ``device`` and rebuild its net.

    ``expect``: a resolved NetConfig the caller needs; a different architecture is a
    ``CheckpointError``. Missing, truncated, corrupted and foreign files are ``CheckpointError``s.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} not found; pass an existing .pt file")
    try:
        raw = torch.load(path, map_location=device, weights_only=True)
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"checkpoint {path!r} is truncated or corrupted ({reason}); "
                              "use another checkpoint or re-create it") from None
    except Exception as e:  # weights_only refusals are pickle.UnpicklingError
        raise CheckpointError(f"checkpoint {path!r} is not a plain-data checkpoint and was "
                              f"refused ({type(e).__name__}); only load files this project "
                              "wrote") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not an alphazero-c4 checkpoint; pass a file written "
                              "by 'alphazero train' or the pipeline")
    if raw.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path!r} has format version "
                              f"{raw.get('format_version')}, this program reads "
                              f"{FORMAT_VERSION}; use a matching alphazero-c4 version")
    try:
        cfg = NetConfig(**raw["net"])
    except TypeError as e:
        raise CheckpointError(f"checkpoint {path!r} has an unreadable net description ({e})") \
            from None
    if expect is not None and _arch(expect) != _arch(cfg):
        raise CheckpointError(
            f"checkpoint {path!r} holds a {cfg.describe()} net with heads "
            f"{_arch(cfg)[2:]}, but {expect.describe()} with heads {_arch(expect)[2:]} "
            "is configured; set net.preset to match the checkpoint or start a new run")
    net = ConnectNet(cfg).to(device)
    try:
        net.load_state_dict(raw["state_dict"])
    except (RuntimeError, KeyError) as e:
        reason = str(e).splitlines()[0]
        raise CheckpointError(f"checkpoint {path!r} weights do not fit its own architecture "
                              f"({reason}); the file is damaged") from None
    if torch.device(device).type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    return Checkpoint(net=net, net_config=cfg, iteration=int(raw.get("iteration", 0)),
                      optimizer=raw.get("optimizer"), meta=dict(raw.get("meta") or {}))
