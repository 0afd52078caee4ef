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
from importlib import resources
from typing import Any

import torch

from alphazero.core import atomic
from alphazero.core.config import NetConfig
from alphazero.nn.net import ConnectNet, to_device

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


def _write(obj: Any, path: str | os.PathLike) -> None:
    # Serialise in memory first: torch's zip writer turns a full disk into an opaque
    # RuntimeError, while a plain write reports ENOSPC as the OSError it is.
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic.write_bytes(path, buf.getbuffer(), kind="checkpoint_")


def save(path: str | os.PathLike, net: ConnectNet, iteration: int = 0,
         optimizer: torch.optim.Optimizer | dict | None = None, meta: dict | None = None) -> None:
    """Write ``net`` (and optionally the optimizer state) atomically to ``path``."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer.state_dict()
    _write({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "net": dataclasses.asdict(net.cfg),
        "iteration": int(iteration),
        "state_dict": state,
        "optimizer": optimizer,
        "meta": dict(meta or {}),
    }, path)


def same_arch(a: NetConfig, b: NetConfig) -> bool:
    """Whether two resolved net configs describe the same architecture (presets aside)."""
    return a.sizes() == b.sizes() and a.reply_head == b.reply_head


def load(path: str | os.PathLike, device: torch.device | str = "cpu",
         expect: NetConfig | None = None) -> Checkpoint:
    """Load a checkpoint onto ``device`` and rebuild its net.

    ``expect``: a resolved NetConfig the caller needs; a different architecture is a
    ``CheckpointError``. Missing, truncated, corrupted and foreign files are ``CheckpointError``s.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        hint = (f" (its best net: {os.path.join(path, 'best.pt')!r})"
                if os.path.isfile(os.path.join(path, "best.pt")) else "")
        raise CheckpointError(f"checkpoint {path!r} is a folder; pass a .pt file{hint}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} not found; pass an existing .pt file")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive; a text file is not one
        raise CheckpointError(f"{path!r} is not a checkpoint file (not a torch archive); pass a "
                              ".pt file written by 'alphazero train' or the pipeline")
    try:
        raw = torch.load(path, map_location=device, weights_only=True)
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as e:
        reason = str(e).splitlines()[0].split(". ")[0] if str(e) else type(e).__name__
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
    if expect is not None and not same_arch(expect, cfg):
        raise CheckpointError(
            f"checkpoint {path!r} holds a {cfg.describe()} net but the config asks for "
            f"{expect.describe()} ({cfg.differences(expect)}); match the checkpoint with "
            f"{cfg.set_lines(expect)}, or start a new run")
    net = ConnectNet(cfg)
    try:
        net.load_state_dict(raw["state_dict"])
    except (RuntimeError, KeyError) as e:
        reason = str(e).splitlines()[0]
        raise CheckpointError(f"checkpoint {path!r} weights do not fit its own architecture "
                              f"({reason}); the file is damaged") from None
    net = to_device(net, device)
    return Checkpoint(net=net, net_config=cfg, iteration=int(raw.get("iteration", 0)),
                      optimizer=raw.get("optimizer"), meta=dict(raw.get("meta") or {}))


#: Where ``play`` and ``evaluate`` look for a trained net when none is named: the checkpoint
#: shipped inside the package (``alphazero/data/best.pt``, which in a source checkout links to
#: ``checkpoints/best.pt``), then ``checkpoints/best.pt`` under the current folder.
DEFAULT_PATHS = (
    str(resources.files("alphazero") / "data" / "best.pt"),
    os.path.join("checkpoints", "best.pt"),
)


def default_path() -> str | None:
    """The shipped trained checkpoint, if this install has one."""
    for path in DEFAULT_PATHS:
        if os.path.isfile(path):
            return path
    return None
