"""Where the inference backend that ``auto`` chose is kept: one JSON file per machine user.

A choice holds for one machine, library versions, device, net shape and thread count (the
``key``); ``inference.resolve_backend`` times the backends once and keeps the winner here, so
later processes on the same machine start at once. Delete the file to time again.
"""

from __future__ import annotations

import json
import os
import platform

import torch

from alphazero.core import atomic
from alphazero.core.config import NetConfig


def cache_dir() -> str:
    """Where this machine's calibrations are kept: ``$ALPHAZERO_CACHE_DIR``, else
    ``~/.cache/alphazero-c4``."""
    return os.environ.get("ALPHAZERO_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "alphazero-c4")


def _path() -> str:
    return os.path.join(cache_dir(), "calibration.json")


def _machine() -> str:
    """The CPU model and the library versions a calibration depends on."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith(
                "model name")), model)
    except OSError:
        pass
    try:
        import openvino
        ov = openvino.__version__
    except ImportError:
        ov = "none"
    return f"{model} | torch {torch.__version__} | openvino {ov} | {os.cpu_count()} cpus"


def _device_name(device: torch.device) -> str:
    if device.type != "cuda":
        return str(device)
    return f"{device} {torch.cuda.get_device_name(device)} | cuda {torch.version.cuda}"


def key(c: NetConfig, device: torch.device) -> str:
    """What a choice depends on: machine, libraries, net shape (resolved ``c``), device and
    this process's thread count."""
    return (f"{_machine()} | {c.blocks}x{c.channels}/{c.policy_channels}/{c.value_channels}/"
            f"{c.value_hidden} | {_device_name(device)} | {torch.get_num_threads()} threads")


def _read() -> dict:
    try:
        with open(_path(), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def known(k: str) -> dict | None:
    """``{"backend": name, "rates": {backend: positions/s}}`` kept for ``k``, or None."""
    return _read().get(k)


def keep(k: str, backend: str, rates: dict[str, float]) -> None:
    """Keep the choice for ``k`` beside the others (a read-only home: timed again next time)."""
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        # Its own fault points (cache_write, ...): a run's drills count the run's writes only.
        atomic.write_json(_path(), {**_read(), k: {"backend": backend, "rates": rates}},
                          "cache_")
    except OSError:
        pass
