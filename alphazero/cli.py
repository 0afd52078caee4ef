"""The ``alphazero`` command: subcommands, config loading, and one-line user errors.

Every subcommand takes ``--config FILE`` and any number of ``--set key=value`` overrides;
flags named for a config field (``--sims``, ``--games``...) are shorthands for those overrides.
A user error (bad config, missing file, refused pickle, wrong checkpoint) prints one line on
stderr naming the problem and the fix, and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from . import __version__
from .config import ConfigError, load as load_config

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Anything the user can fix; printed as one line."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from .checkpoint import CheckpointError
    from .data import DataError
    from .game import IllegalMoveError
    from .net import DeviceError

    return (UserError, ConfigError, CheckpointError, DataError, IllegalMoveError, DeviceError)


def _config(args: argparse.Namespace, extra: list[str] | None = None):
    overrides = list(extra or []) + list(args.set or [])
    return load_config(args.config, overrides)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config field, e.g. --set mcts.num_simulations=200")


def _shorthands(args: argparse.Namespace, mapping: dict[str, str]) -> list[str]:
    """``--flag value`` pairs turned into ``key=value`` overrides (only flags given)."""
    out = []
    for attr, key in mapping.items():
        v = getattr(args, attr, None)
        if v is not None:
            out.append(f"{key}={v}")
    return out


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    import numpy
    import torch

    from .net import select_device

    dev = select_device("auto")
    info = {
        "alphazero-c4": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": str(dev),
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(info))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_self_play(args: argparse.Namespace) -> int:
    from .checkpoint import load as load_checkpoint
    from .net import select_device
    from .selfplay import run_pool

    cfg = _config(args, _shorthands(args, {
        "games": "selfplay.games", "sims": "mcts.num_simulations", "workers": "selfplay.workers",
        "parallel_games": "selfplay.parallel_games", "seed": "selfplay.seed",
        "device": "selfplay.device", "preset": "net.preset"}))
    select_device(cfg.selfplay.device)
    if args.checkpoint is not None:
        load_checkpoint(args.checkpoint)  # a bad file fails here, in one line, not in a worker
    stats = run_pool(args.checkpoint, cfg.net, cfg.mcts, cfg.selfplay, args.out,
                     progress=not args.quiet)
    rate = stats["positions"] / stats["seconds"] if stats["seconds"] else 0.0
    print(f"self-play: {stats['games']} games, {stats['positions']} positions in "
          f"{stats['seconds']:.1f}s ({rate:.0f} positions/s) -> {args.out}")
    return 0


# --------------------------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphazero", description="AlphaZero for Connect Four: self-play, training, "
                                      "evaluation and play.")
    parser.add_argument("--version", action="version", version=f"alphazero-c4 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="versions, the device that would be used, thread count")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("self-play", help="play games with a net and write dataset files")
    _add_config_args(p)
    p.add_argument("--checkpoint", metavar="PATH",
                   help="net to play with (default: a fresh net of the configured preset)")
    p.add_argument("--games", type=int, help="games to play (selfplay.games)")
    p.add_argument("--sims", type=int, help="simulations per move (mcts.num_simulations)")
    p.add_argument("--workers", type=int, help="worker processes (selfplay.workers)")
    p.add_argument("--parallel-games", type=int, help="games in flight per worker")
    p.add_argument("--seed", type=int, help="run seed (selfplay.seed)")
    p.add_argument("--device", help="auto, cpu or cuda (selfplay.device)")
    p.add_argument("--preset", help="net preset for a fresh net (net.preset)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the dataset files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_self_play)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _user_errors() as e:
        print(f"alphazero {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"alphazero {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
