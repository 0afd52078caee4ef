"""The ``alphazero`` command: subcommands, config loading, and one-line user errors.

Every subcommand takes ``--config FILE`` and any number of ``--set key=value`` overrides;
flags named for a config field (``--sims``, ``--games``...) are shorthands for those overrides.
A user error (bad config, missing file, refused pickle, wrong checkpoint) prints one line on
stderr naming the problem and the fix, and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from alphazero import __version__
from alphazero.run.commands import (
    cmd_analyse,
    cmd_config,
    cmd_export,
    cmd_info,
    cmd_pipeline,
    cmd_play,
    cmd_self_play,
    cmd_serve,
    cmd_show,
    cmd_status,
    cmd_train,
)
from alphazero.run.evaluate import cmd_evaluate
from alphazero.run.options import EXIT_USER_ERROR, add_config_args, os_error_message, user_errors

# --------------------------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------------------------


def _parser_info(sub) -> None:
    """The `info` subcommand's arguments."""
    p = sub.add_parser("info", help="versions, installed extras, the device and inference "
                                    "backend that would be used, thread count")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)


def _parser_self_play(sub) -> None:
    """The `self-play` subcommand's arguments."""
    p = sub.add_parser("self-play", help="play games with a net and write dataset files")
    add_config_args(p)
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


def _parser_train(sub) -> None:
    """The `train` subcommand's arguments."""
    p = sub.add_parser("train", help="train a net on dataset folders")
    add_config_args(p)
    p.add_argument("--data", nargs="+", required=True, metavar="DIR",
                   help="folders of dataset files (ours or the seed's format)")
    p.add_argument("--checkpoint", metavar="IN", help="net to start from (default: fresh)")
    p.add_argument("--out", required=True, metavar="OUT", help="where to write the trained net")
    p.add_argument("--epochs", type=float, help="passes over the data (train.epochs)")
    p.add_argument("--lr", type=float, help="learning rate (train.lr)")
    p.add_argument("--batch-size", type=int, help="positions per step (train.batch_size)")
    p.add_argument("--device", help="auto, cpu or cuda (train.device)")
    p.add_argument("--tb", metavar="DIR", help="write TensorBoard scalars here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def _parser_evaluate(sub) -> None:
    """The `evaluate` subcommand's arguments."""
    p = sub.add_parser("evaluate", help="a match between players, or mistakes on solved "
                                        "positions")
    add_config_args(p)
    p.add_argument("--player", metavar="CKPT|random|greedy|alphabeta:K|solver",
                   help="the player measured (default: the shipped checkpoint)")
    p.add_argument("--checkpoint", metavar="CKPT", help="same as --player CKPT")
    p.add_argument("--opponent", metavar="CKPT|random|greedy|alphabeta:K|solver",
                   help="what the player meets: a checkpoint, or a built-in opponent (random; "
                        "greedy: wins or blocks in one; alphabeta:K: depth-K search; solver: "
                        "perfect play, needs the solver extra)")
    p.add_argument("--openings", type=int, metavar="PLIES",
                   help="random opening moves before the players take over "
                        "(arena.opening_plies; 0 = every game from the empty board)")
    p.add_argument("--games", type=int, default=100, help="games in the match (default 100)")
    p.add_argument("--sims", type=int, help="simulations per move (default arena.num_simulations)")
    p.add_argument("--positions", nargs="?", const="pons", metavar="pons|c4|FILE",
                   help="score against solver-labelled positions: pons (Pons' 6 x 1000, the "
                        "default), c4 (by game phase), or a file in either format")
    p.add_argument("--limit", type=int, help="use about this many positions, spread evenly")
    p.add_argument("--breadth", nargs="?", type=int, const=100, metavar="N",
                   help="play N won and N drawn starts (default 100 each) after random opening "
                        "moves out against the perfect solver: how often the player keeps the "
                        "win or holds the draw (the solver extra)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the openings and of the built-in opponents' random choices")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate)


def _parser_pipeline(sub) -> None:
    """The `pipeline` subcommand's arguments."""
    p = sub.add_parser("pipeline", help="self-play -> train -> arena iterations in a run folder")
    add_config_args(p)
    p.add_argument("--run-dir", metavar="DIR", help="run folder (default runs/<config name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    p.add_argument("--init-from", metavar="CKPT",
                   help="start the new run from this checkpoint's net (and optimizer state, "
                        "if it has one) instead of a fresh net, e.g. checkpoints/best.pt")
    p.add_argument("--ray", metavar="ADDRESS", help="play self-play on a Ray cluster: auto (the "
                   "cluster this machine joined), HOST:PORT, or local (start one here)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_pipeline)


def _parser_play(sub) -> None:
    """The `play` subcommand's arguments."""
    p = sub.add_parser("play", help="play against a net in the terminal")
    add_config_args(p)
    p.add_argument("--checkpoint", metavar="PATH", help="net to play (default: the shipped one)")
    p.add_argument("--first", choices=("human", "ai"), help="who moves first (default: asked "
                   "in a terminal, the human when moves come from a pipe)")
    p.add_argument("--moves", default="", metavar="MOVES",
                   help="start from the position after these columns, e.g. 4453 (the first "
                        "mover is then whoever is to move there)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for the net (default 1: a batch-1 search ran 3x faster on "
                        "one thread than on two on a busy machine)")
    p.add_argument("--sims", type=int, help="AI simulations per move (default "
                                            "mcts.num_simulations; 0 = its raw policy)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=cmd_play)


def _parser_analyse(sub) -> None:
    """The `analyse` subcommand's arguments."""
    p = sub.add_parser("analyse", help="one position through the net, the search and (with the "
                                       "solver extra) a perfect solver")
    add_config_args(p)
    p.add_argument("moves", metavar="MOVES", help="the moves so far, columns 1-7, e.g. 4453 "
                                                  "('' for the empty board)")
    p.add_argument("--checkpoint", metavar="PATH", help="net to ask (default: the shipped one)")
    p.add_argument("--sims", type=int, help="search simulations (default mcts.num_simulations; "
                                            "0 = no search)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_analyse)


def _parser_serve(sub) -> None:
    """The `serve` subcommand's arguments."""
    p = sub.add_parser("serve", help="play the net in a browser, watch it think, replay a run's "
                                     "games (the web extra)")
    add_config_args(p)
    p.add_argument("--checkpoint", metavar="PATH", help="net to serve (default: the shipped one)")
    p.add_argument("--run", metavar="RUN_DIR", help="a run folder whose self-play games the page "
                                                   "can replay (the only folder it reads)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                                                       "127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-sims", type=int, default=1600, help="most simulations a request may "
                                                              "ask for (default 1600)")
    p.add_argument("--searches", type=int, default=2, help="searches run at once; more requests "
                                                           "wait, 8 at most, then get a 503")
    p.set_defaults(func=cmd_serve)


def _parser_export(sub) -> None:
    """The `export` subcommand's arguments."""
    p = sub.add_parser("export", help="write a checkpoint's net as an ONNX file (the export "
                                      "extra)")
    p.add_argument("--checkpoint", metavar="PATH", help="net to export (default: the shipped "
                                                        "one)")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="where to write it")
    p.set_defaults(func=cmd_export)


def _parser_show(sub) -> None:
    """The `show` subcommand's arguments."""
    p = sub.add_parser("show", help="replay a recorded self-play game with its policy targets "
                                    "and values")
    p.add_argument("source", metavar="DATA_FILE|DATA_DIR|RUN_DIR",
                   help="a dataset file, a folder of them (its first file), or a run folder "
                        "(its latest iteration's first file)")
    p.add_argument("--game", type=int, default=0, help="which game of the file (from 0)")
    p.set_defaults(func=cmd_show)


def _parser_status(sub) -> None:
    """The `status` subcommand's arguments."""
    p = sub.add_parser("status", help="a run at a glance: iterations, best net, strength "
                                      "curve, time spent, how to go on")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_status)


def _parser_config(sub) -> None:
    """The `config` subcommand's arguments."""
    p = sub.add_parser("config", help="list every config field with its meaning, or print the "
                                      "resolved config of --config/--set")
    add_config_args(p)
    p.set_defaults(func=cmd_config)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one small function per subcommand declares its arguments."""
    parser = argparse.ArgumentParser(
        prog="alphazero", description="AlphaZero for Connect Four: self-play, training, "
                                      "evaluation and play.")
    parser.add_argument("--version", action="version", version=f"alphazero-c4 {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_parser_info, _parser_self_play, _parser_train, _parser_evaluate,
                _parser_pipeline, _parser_play, _parser_analyse, _parser_serve, _parser_export,
                _parser_show, _parser_status, _parser_config):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at the interpreter's exit
        return code
    except user_errors() as e:
        print(f"alphazero {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        if os.environ.get("ALPHAZERO_DEBUG"):
            raise
        message = os_error_message(e, args.command)
        if message is None:  # the reader went away (| head): stop quietly, as Unix tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        print(f"alphazero {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"alphazero {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
