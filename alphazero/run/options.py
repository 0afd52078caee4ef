"""What every command shares: its config from ``--config``, ``--set`` and flag shorthands,
its console, and user errors with their one line (``os_error_message`` names an OS error's
real cause and fix)."""

from __future__ import annotations

import argparse
import errno
import os

from alphazero.core import atomic, config
from alphazero.core.config import ConfigError
from alphazero.report.reporter import Reporter

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Anything the user can fix; printed as one line."""


def user_errors() -> tuple[type[BaseException], ...]:
    from alphazero.core.opponents import OpponentError
    from alphazero.nn.checkpoint import CheckpointError
    from alphazero.nn.inference import BackendError
    from alphazero.nn.net import DeviceError
    from alphazero.replay.shards import DataError
    from alphazero.rules.game import IllegalMoveError
    from alphazero.rules.solver import SolverUnavailable
    from alphazero.stages.workers import WorkerError

    return (UserError, ConfigError, CheckpointError, DataError, IllegalMoveError, DeviceError,
            WorkerError, SolverUnavailable, OpponentError, BackendError)


def _user_path(name) -> str:
    """The path a person named, for an OS error's file name: an atomic writer's hidden temp
    file (``.NAME.XXXX.tmp``) stands for the NAME it was writing."""
    path = os.fsdecode(name)
    folder, base = os.path.split(path)
    if atomic.is_temp(base) and base.count(".") >= 3:
        path = os.path.join(folder, base[len(atomic.TEMP_PREFIX):].rsplit(".", 2)[0])
    return repr(path)


def os_error_message(e: OSError, command: str) -> str | None:
    """One line naming the real cause of ``e`` and the fix; None for a closed pipe."""
    if isinstance(e, BrokenPipeError):
        return None
    path = _user_path(e.filename2 or e.filename) if (e.filename2 or e.filename) else "a file"
    again = (" then run the same command again: finished work is kept"
             if command in ("pipeline", "self-play") else " then try again")
    if e.errno == errno.ENOSPC:
        return f"cannot write {path}: {e.strerror}; free disk space,{again}"
    if e.errno == errno.EROFS:
        return (f"cannot write {path}: {e.strerror}; mount it writable or choose another "
                f"folder,{again}")
    if isinstance(e, PermissionError):
        return (f"cannot use {path}: {e.strerror}; fix its permissions or choose another "
                f"path,{again}")
    if isinstance(e, IsADirectoryError):
        return f"{path} is a folder; name a file"
    if isinstance(e, NotADirectoryError):
        return f"a part of {path} is a file, not a folder; name a path through folders"
    if isinstance(e, FileExistsError):
        return f"{path} already exists and is not a folder; remove it or choose another path"
    if isinstance(e, FileNotFoundError):
        return f"{path} not found; check the path"
    return f"cannot write or read {path}: {e.strerror or e};{again}"


def config_of(args: argparse.Namespace, shorthands: dict[str, str] | None = None):
    """The config of ``--config`` and ``--set``, with ``--flag value`` shorthands
    (``{flag attribute: config key}``) applied first; a bad shorthand value is reported
    under its flag, not under the config key the user never typed."""
    given = {key: attr for attr, key in (shorthands or {}).items()
             if getattr(args, attr, None) is not None}
    overrides = [f"{key}={getattr(args, attr)}" for key, attr in given.items()]
    try:
        return config.load(args.config, overrides + list(args.set or []))
    except config.ConfigError as e:
        key, _, rest = str(e).partition(": ")
        if key in given:
            flag = given[key]
            raise UserError(f"--{flag.replace('_', '-')} {getattr(args, flag)} ({key}): "
                            f"{rest}") from None
        raise


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config field, e.g. --set mcts.num_simulations=200")



def console_of(args: argparse.Namespace) -> Reporter:
    """Progress bars unless ``--quiet``; lines printed."""
    return Reporter(bars=not getattr(args, "quiet", False), log=print)


def start_net(path: str | None, cfg, device_name: str):
    """``path``'s checkpoint on the device, or one holding a fresh net of the configured preset
    (seeded by ``selfplay.seed``) when ``path`` is None."""
    from alphazero.nn import checkpoint
    from alphazero.nn.net import fresh_net, select_device

    device = select_device(device_name)
    if path is not None:
        return checkpoint.load(path, device), device
    net = fresh_net(cfg.net, cfg.selfplay.seed, device)
    return checkpoint.Checkpoint(net, net.cfg, iteration=0, optimizer=None, meta={}), device


def sims_of(args: argparse.Namespace, default: int) -> int:
    """``--sims``, or ``default``; 0 means the raw policy, no search."""
    if args.sims is None:
        return default
    if args.sims < 0:
        raise UserError(f"--sims {args.sims}: use 0 (the raw policy, no search) or more "
                        "simulations per move")
    return args.sims


def at_least_one(args: argparse.Namespace, *flags: str) -> None:
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} {value}: use at least 1")
