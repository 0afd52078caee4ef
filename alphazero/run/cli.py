"""The ``alphazero`` command: subcommands, config loading, and one-line user errors.

Every subcommand takes ``--config FILE`` and any number of ``--set key=value`` overrides;
flags named for a config field (``--sims``, ``--games``...) are shorthands for those overrides.
A user error (bad config, missing file, refused pickle, wrong checkpoint) prints one line on
stderr naming the problem and the fix, and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import platform
import sys

from alphazero import __version__
from alphazero.core import atomic, config
from alphazero.core.config import ConfigError
from alphazero.report.reporter import Reporter

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Anything the user can fix; printed as one line."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from alphazero.nn.checkpoint import CheckpointError
    from alphazero.nn.net import DeviceError
    from alphazero.replay.shards import DataError
    from alphazero.rules.game import IllegalMoveError
    from alphazero.rules.solver import SolverUnavailable
    from alphazero.stages.workers import WorkerError

    return (UserError, ConfigError, CheckpointError, DataError, IllegalMoveError, DeviceError,
            WorkerError, SolverUnavailable)


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


def _config(args: argparse.Namespace, shorthands: dict[str, str] | None = None):
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


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config field, e.g. --set mcts.num_simulations=200")


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


#: Each optional extra and the modules that tell whether it is installed.
EXTRAS = {"fast": ("openvino", "numba"), "gpu": ("numba", "bitbully"), "solver": ("bitbully",),
          "ray": ("ray",), "web": ("starlette", "uvicorn"), "export": ("onnx", "onnxruntime"),
          "plots": ("matplotlib",)}


def _installed_extras() -> str:
    import importlib.util

    have = [e for e, mods in EXTRAS.items()
            if all(importlib.util.find_spec(m) is not None for m in mods)]
    return ", ".join(have) or "none"


def cmd_status(args: argparse.Namespace) -> int:
    from alphazero.run.status import render, summarise

    status = summarise(args.run_dir)
    print(json.dumps(status.to_dict()) if args.json else render(status))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import numpy
    import torch

    from alphazero.core.config import NetConfig
    from alphazero.nn.inference import resolve_backend
    from alphazero.nn.net import select_device

    dev = select_device("auto")
    net = NetConfig().resolve(dev.type == "cuda")
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
        "extras": _installed_extras(),
        "backend": f"{resolve_backend('auto', net, dev)[0]} (what inference.backend: auto "
                   f"picks for the {net.describe()} net on this device)",
    }
    if args.json:
        print(json.dumps(info))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def _console(args: argparse.Namespace) -> Reporter:
    """Progress bars unless ``--quiet``; lines printed."""
    return Reporter(bars=not getattr(args, "quiet", False), log=print)


def cmd_self_play(args: argparse.Namespace) -> int:
    from alphazero.nn import checkpoint
    from alphazero.nn.net import select_device
    from alphazero.search.mcts import tree_step
    from alphazero.stages.workers import run_pool, work_summary

    cfg = _config(args, {
        "games": "selfplay.games", "sims": "mcts.num_simulations", "workers": "selfplay.workers",
        "parallel_games": "selfplay.parallel_games", "seed": "selfplay.seed",
        "device": "selfplay.device", "preset": "net.preset"})
    select_device(cfg.selfplay.device)
    if args.checkpoint is not None:
        checkpoint.load(args.checkpoint)  # a bad file fails here, in one line, not in a worker
    _check_out_folder(args.out, args.checkpoint, cfg)
    for warning in cfg.selfplay.warnings():  # stdout, as the pipeline's: stderr is for errors
        print(f"warning: {warning}")
    stats = run_pool(args.checkpoint, cfg.net, cfg.mcts, cfg.selfplay, args.out,
                     reporter=_console(args), inference=cfg.inference)
    rate = stats["positions"] / stats["seconds"] if stats["seconds"] else 0.0
    print(f"self-play: {stats['games']} games, {stats['positions']} positions in "
          f"{stats['seconds']:.1f}s ({rate:.0f} positions/s) -> {args.out}")
    if work := work_summary(stats):
        print(f"inference: {work['backend']}, tree step {tree_step(cfg.mcts)}, "
              f"{work['evals_per_cpu_s']:.0f} network evaluations per worker CPU-second "
              f"({work['net_cpu_share']:.0%} of it in the network), cache hit rate "
              f"{work['cache_hit_rate']:.1%}, mean batch occupancy "
              f"{work['mean_batch_occupancy']:.1%}"
              + (f", {work['noised_visits_inherited']:.0%} of the visits at noised roots "
                 "made before the noise" if "noised_visits_inherited" in work else ""))
    return 0


def _check_out_folder(out: str, checkpoint_path: str | None, cfg) -> None:
    """Say what a --out folder that already holds games means: the same job's chunks are kept
    and only the missing ones played (said); another job's games are refused."""
    from alphazero.replay.shards import DataError, read_samples
    from alphazero.stages.selfplay import chunk_path, missing_chunks, num_chunks

    if not os.path.isdir(out):
        return
    sp = cfg.selfplay
    have = [c for c in range(num_chunks(sp)) if c not in missing_chunks(out, sp)]
    if not have:
        return
    try:
        meta = read_samples(chunk_path(out, have[0])).meta
    except DataError:
        return  # the pool replays nothing that exists; a damaged file is reported on reading
    def where(path):
        return os.path.realpath(path) if path and os.path.exists(path) else path
    mine = {"checkpoint": where(checkpoint_path), "seed": sp.seed,
            "sims": cfg.mcts.num_simulations}
    theirs = {**{k: meta.get(k) for k in mine}, "checkpoint": where(meta.get("checkpoint"))}
    if theirs != mine:
        differs = ", ".join(f"{k} {theirs[k]!r} (now {mine[k]!r})" for k in mine
                            if theirs[k] != mine[k])
        raise UserError(f"--out {out!r} already holds games of another job ({differs}); "
                        "choose another --out, or delete the folder to start afresh")
    left = num_chunks(sp) - len(have)
    print(f"self-play: {out} already holds {len(have)} of the {num_chunks(sp)} chunks of this "
          "job (same checkpoint, seed and simulations); "
          + (f"playing the {left} missing" if left else "nothing left to play: choose another "
             "--out or --seed for more games"))


def _start(path: str | None, cfg, device_name: str):
    """``path``'s checkpoint on the device, or one holding a fresh net of the configured preset
    (seeded by ``selfplay.seed``) when ``path`` is None."""
    from alphazero.nn import checkpoint
    from alphazero.nn.net import fresh_net, select_device

    device = select_device(device_name)
    if path is not None:
        return checkpoint.load(path, device), device
    net = fresh_net(cfg.net, cfg.selfplay.seed, device)
    return checkpoint.Checkpoint(net, net.cfg, iteration=0, optimizer=None, meta={}), device


def cmd_train(args: argparse.Namespace) -> int:
    from alphazero.stages.train import train_and_save

    cfg = _config(args, {"epochs": "train.epochs", "lr": "train.lr",
                                           "device": "train.device",
                                           "batch_size": "train.batch_size"})
    start, device = _start(args.checkpoint, cfg, cfg.train.device)
    writer = None
    if args.tb:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.tb)
    try:
        fit = train_and_save(start, args.data, cfg.train, device, args.out,
                             iteration=start.iteration + 1,
                             reporter=dataclasses.replace(_console(args), writer=writer))
    finally:
        if writer is not None:
            writer.close()
    val = f", validation loss {fit.val['total']:.4f}" if fit.val else ""
    if fit.val_unseen:
        val += (f" ({fit.val_unseen['total']:.4f} on the {fit.unseen_share:.0%} of held-out "
                "positions not in training)")
    print(f"train: {fit.positions} positions ({fit.held_out} held out) from {fit.files} files, "
          f"net {start.net.cfg.describe()}, device {device}: {fit.steps} step{'s' if fit.steps != 1 else ''}, loss "
          f"{fit.train['total']:.4f} (value {fit.train['value']:.4f}, policy "
          f"{fit.train['policy']:.4f}){val}, {fit.samples_per_s:.0f} samples/s -> {args.out}")
    return 0


def _is_builtin(spec: str) -> bool:
    """True for a built-in opponent. A bare word that is neither one nor an existing file
    (``gredy``) is a ``UserError`` that lists the built-in ones and the closest; a path is
    left to the checkpoint loader, whose error names the missing file."""
    import difflib

    try:
        builtin = config.parse_opponent(spec)[0] != "checkpoint"
    except ConfigError as e:
        raise UserError(str(e)) from None
    looks_like_a_path = os.sep in spec or spec.endswith(".pt")
    if not builtin and not looks_like_a_path and not os.path.exists(spec):
        close = difflib.get_close_matches(spec, ["random", "greedy", "alphabeta:3", "solver"],
                                          n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"unknown opponent {spec!r}: {hint}not a built-in one "
                        f"({config.BUILTIN_OPPONENTS}) and no checkpoint file by that name")
    return builtin


def _player(spec: str, cfg, device_name: str, sims: int, seed: int, search: bool = True):
    """A player from an opponent spec (see ``config.parse_opponent``): a built-in opponent,
    or a checkpoint's net with search at ``sims`` (``search=False``: its raw policy)."""
    from alphazero.nn.inference import evaluator_for
    from alphazero.search.mcts import match_config
    from alphazero.stages.arena import MCTSPlayer, PolicyPlayer, reference_player

    if _is_builtin(spec):
        return reference_player(spec, seed)
    start, device = _start(spec, cfg, device_name)
    ev = evaluator_for(start.net, device, cfg.inference)
    if not search or sims == 0:
        return PolicyPlayer(ev, "policy")
    return MCTSPlayer(ev, match_config(cfg.mcts, sims), os.path.basename(spec))


def _default_player(spec: str | None) -> str:
    from alphazero.nn import checkpoint

    if spec:
        return spec
    found = checkpoint.default_path()
    if found is None:
        raise UserError("no checkpoint given and no shipped checkpoints/best.pt found; pass "
                        f"--player PATH (or {config.BUILTIN_OPPONENTS})")
    return found


def _sims(args: argparse.Namespace, default: int) -> int:
    """``--sims``, or ``default``; 0 means the raw policy, no search."""
    if args.sims is None:
        return default
    if args.sims < 0:
        raise UserError(f"--sims {args.sims}: use 0 (the raw policy, no search) or more "
                        "simulations per move")
    return args.sims


def _at_least_one(args: argparse.Namespace, *flags: str) -> None:
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} {value}: use at least 1")


def cmd_evaluate(args: argparse.Namespace) -> int:
    cfg = _config(args, {"openings": "arena.opening_plies"})
    sims = _sims(args, cfg.arena.num_simulations)
    _at_least_one(args, "games", "limit")
    if args.positions is None and args.breadth is None:
        if args.games % 2:
            raise UserError(f"--games {args.games}: use an even number (each opening is "
                            "played twice, colours swapped)")
        _warn_slow(args.player or args.checkpoint, args.opponent)
    spec = _default_player(args.player or args.checkpoint)
    if args.positions is not None:
        return _evaluate_positions(args, cfg, spec, sims)
    if args.breadth is not None:
        return _evaluate_breadth(args, cfg, spec, sims)
    return _evaluate_match(args, cfg, spec, sims)


def _warn_slow(*specs: str | None) -> None:
    """One line on stderr for an alpha-beta player deep enough to take minutes a game."""
    from alphazero.core.config import SLOW_ALPHABETA, parse_opponent

    for spec in specs:
        if spec and parse_opponent(spec)[0] == "alphabeta" and \
                parse_opponent(spec)[1] >= SLOW_ALPHABETA:
            print(f"warning: {spec} searches {parse_opponent(spec)[1]} plies a move and can "
                  "take a minute or more a game")


def _evaluate_breadth(args: argparse.Namespace, cfg, spec: str, sims: int) -> int:
    """Won and drawn starts after random openings, played out against the solver."""
    from alphazero.rules import solver
    from alphazero.stages.breadth import measure

    _at_least_one(args, "breadth")
    if not solver.available():
        raise UserError("--breadth plays against the perfect solver: pip install "
                        "'alphazero-c4[solver]'")
    player = _player(spec, cfg, args.device, sims, args.seed)
    result = measure(player, args.breadth, args.seed)
    how = "" if _is_builtin(spec) else (f", {sims} sims" if sims else ", raw policy")
    print(f"breadth ({spec}{how}, seed {args.seed}, {args.breadth} won and {args.breadth} "
          f"drawn starts after 4-12 random moves, against the solver): {result.summary()}")
    if args.json:
        print(json.dumps({"player": spec, "sims": sims, "seed": args.seed,
                          **result.as_dict()}))
    return 0


def _evaluate_positions(args: argparse.Namespace, cfg, spec: str, sims: int) -> int:
    """Mistake rates per set against solver-labelled positions: the raw policy and the search
    of a checkpoint, or a built-in player's choice."""
    from alphazero.rules.positions import C4, PONS, load_positions, path_of, score_positions

    path = path_of({"pons": PONS, "c4": C4}.get(args.positions, args.positions))
    if not os.path.isfile(path):
        raise UserError(f"positions file {args.positions!r} not found; use pons, c4 or a "
                        "file in the same format")
    try:
        positions = load_positions(path)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.limit:
        positions = positions[:: max(1, len(positions) // args.limit)][: args.limit]
    builtin = _is_builtin(spec)
    if builtin:
        modes = [("player", _player(spec, cfg, args.device, sims, args.seed))]
    else:  # one net, one evaluator (and cache) for its raw policy and its search
        from alphazero.search.mcts import match_config
        from alphazero.stages.arena import MCTSPlayer

        policy = _player(spec, cfg, args.device, sims, args.seed, search=False)
        modes = [("policy", policy)] + ([("mcts", MCTSPlayer(
            policy.evaluate, match_config(cfg.mcts, sims), os.path.basename(spec)))]
            if sims else [])
    report = {"checkpoint": None if builtin else spec, "player": spec,
              # A built-in set by its name: the install's path says nothing to a reader.
              "positions": args.positions if args.positions in ("pons", "c4") else path,
              "sims": None if builtin else sims}
    console = _console(args)
    for mode, player in modes:
        scores = score_positions(player, positions,
                                 reporter=console.labelled(f"{mode} on {os.path.basename(path)}"))
        report[f"{mode}_sets"] = {
            k: {"mistake_rate": v.rate, "ci95": list(v.ci95()), "n": v.n,
                "mistake_rate_where_possible": v.rate_possible if v.possible else None,
                "possible": v.possible}
            for k, v in scores.items()}
        print(f"{mode} ({spec}{'' if builtin or mode == 'policy' else f', {sims} sims'}):")
        for k, v in scores.items():
            lo, hi = v.ci95()
            where = f"{v.rate_possible:6.1%} (n={v.possible})" if v.possible else "   n/a (n=0)"
            print(f"  {k:<12} mistakes {v.rate:6.1%}  [{lo:5.1%}, {hi:5.1%}]  n={v.n:<5} "
                  f"where possible {where}")
    if (inference := _inference(cfg, *(p for _, p in modes))):
        report["inference"] = inference
        print(f"inference: {inference}")
    if args.json:
        print(json.dumps(report))
    return 0


def _inference(cfg, *players) -> str | None:
    """How the net players among ``players`` ran their net (None when none has a net)."""
    backends = sorted({p.evaluate.backend for p in players if hasattr(p, "evaluate")})
    if not backends:
        return None
    from alphazero.search.mcts import tree_step

    return f"{', '.join(backends)}, symmetry {cfg.inference.symmetry}, " + (
        "subtree reuse" if cfg.mcts.reuse_tree else "no subtree reuse") + (
        f", tree step {tree_step(cfg.mcts)}")


def _evaluate_match(args: argparse.Namespace, cfg, spec: str, sims: int) -> int:
    """A match between the player and ``--opponent``, with W/D/L and an Elo difference."""
    from alphazero.stages.arena import play_match

    if not args.opponent:
        raise UserError("say what to play against: --opponent "
                        "CKPT|random|greedy|alphabeta:K|solver, "
                        "or --positions [FILE] to score against solved positions")
    a = _player(spec, cfg, args.device, sims, args.seed)
    b = _player(args.opponent, cfg, args.device, sims, args.seed + 1)
    r = play_match(a, b, args.games, cfg.arena.opening_plies, args.seed,
                   cfg.arena.parallel_games, reporter=_console(args))
    elo, colours = r.elo(), r.by_colour()
    print(f"{spec} vs {args.opponent}: {r.summary()} over {r.n} games, Elo difference {elo} "
          "(95% interval)")
    for side, c in colours.items():
        print(f"  moving {side}: W{c['wins']}/D{c['draws']}/L{c['losses']}")
    if (inference := _inference(cfg, a, b)):
        print(f"inference: {inference}")
    if args.json:
        print(json.dumps({"player": spec, "opponent": args.opponent, "games": r.n,
                          "wins": r.wins, "draws": r.draws, "losses": r.losses,
                          "score": r.score, "elo": elo.elo, "elo_ci": [elo.lo, elo.hi],
                          "by_colour": colours, "sims": sims,
                          "opening_plies": cfg.arena.opening_plies,
                          "inference": inference}))
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from alphazero.run.pipeline import create_run, open_run, run

    if args.resume:
        if args.init_from:
            raise UserError("--init-from starts a new run; a resumed run keeps its own nets "
                            "(drop --init-from, or start a new --run-dir with --config)")
        open_run(args.resume, args.set or [])  # validates and saves any --set
        run_dir = args.resume
    else:
        if not args.config:
            raise UserError("pass --config FILE to start a run (e.g. configs/default.yaml) or "
                            "--resume RUN_DIR to continue one")
        cfg = _config(args)
        run_dir = args.run_dir or os.path.join(
            "runs", os.path.splitext(os.path.basename(args.config))[0])
        if not create_run(run_dir, cfg, init_from=args.init_from):
            print(f"pipeline: {run_dir} already holds this run; resuming it")
    run(run_dir, console=_console(args), ray_address=args.ray)
    print(f"pipeline: done; best net in {os.path.join(run_dir, 'best.pt')}, metrics in "
          f"{os.path.join(run_dir, 'metrics.jsonl')}, TensorBoard: tensorboard --logdir "
          f"{os.path.join(run_dir, 'tb')}")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from alphazero.apps.play import play_session
    from alphazero.nn import checkpoint
    from alphazero.nn.inference import evaluator_for
    from alphazero.search.mcts import tree_step

    cfg = _config(args)
    sims = _sims(args, cfg.mcts.num_simulations)
    start = _position(args.moves, "play")
    first = {"human": True, "ai": False}.get(args.first)
    if first is None and not sys.stdin.isatty():
        first = True  # input from a pipe or a file: no question to answer
    path = args.checkpoint or checkpoint.default_path()
    if path is None:
        print("No trained checkpoint found: playing an untrained net (pass --checkpoint PATH).")
    _at_least_one(args, "threads")
    import torch

    torch.set_num_threads(args.threads)
    ckpt, device = _start(path, cfg, args.device)
    evaluate = evaluator_for(ckpt.net, device, cfg.inference)
    thinking = f"{sims} simulations per move" if sims else "its raw policy, no search"
    name = os.path.basename(path) if path else "an untrained net"
    header = (f"Connect Four against {name} ({ckpt.net.cfg.describe()}, {thinking}, "
              f"{device}).\n  inference: {evaluate.backend} on {args.threads} thread"
              f"{'s' if args.threads > 1 else ''}, tree step {tree_step(cfg.mcts)}"
              + (f"\n  checkpoint: {path}" if path else ""))
    play_session(evaluate, sims, cfg.mcts, header, human_first=first, start=start)
    return 0


def _position(text: str, what: str) -> str:
    """A move string ("4453") checked to be a legal game that is not over."""
    from alphazero.rules.game import State

    moves = text.strip()
    if moves and not (moves.isdigit() and set(moves) <= set("1234567")):
        raise UserError(f"moves {text!r}: give columns 1-7 as one string, e.g. 4453")
    if State.from_moves(moves).is_terminal():  # an illegal sequence: IllegalMoveError, a line
        raise UserError(f"the game is over after {moves}: there is nothing to {what}")
    return moves


def cmd_analyse(args: argparse.Namespace) -> int:
    from alphazero.apps.analysis import analyse, render_analysis
    from alphazero.nn import checkpoint
    from alphazero.nn.inference import evaluator_for
    from alphazero.rules.game import State

    cfg = _config(args)
    sims = _sims(args, cfg.mcts.num_simulations)
    moves = _position(args.moves, "analyse")
    state = State.from_moves(moves)
    path = args.checkpoint or checkpoint.default_path()
    start, device = _start(path, cfg, args.device)
    report = analyse(state, evaluator_for(start.net, device, cfg.inference), cfg.mcts, sims)
    if args.json:
        print(json.dumps({"moves": moves, "checkpoint": path, **report}))
    else:
        print(render_analysis(moves, state, report))
    return 0


def _check_port(host: str, port: int) -> None:
    """A one-line error now, rather than the server's own after the net is loaded, when
    ``host:port`` cannot be listened on."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another "
                        "--port, or --host 127.0.0.1") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from alphazero.nn import checkpoint

    try:
        import uvicorn

        from alphazero.apps.serve import Limits, build
    except ImportError:
        raise UserError("serve needs the web extra: pip install 'alphazero-c4[web]'") from None
    cfg = _config(args)
    for flag in ("max_sims", "searches"):
        _at_least_one(args, flag)
    if args.run and not os.path.isdir(os.path.join(args.run, "data")):
        raise UserError(f"--run {args.run!r} is not a run folder with self-play data (no "
                        "data/ inside); pass the folder 'alphazero pipeline' wrote")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port} is out of range: use 1 to 65535")
    _check_port(args.host, args.port)
    path = args.checkpoint or checkpoint.default_path()
    app = build(path, args.run, Limits(args.max_sims, args.searches), cfg)
    print(f"alphazero serve: {path or 'an untrained net'} at http://{args.host}:{args.port}/ "
          "(Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from alphazero.nn import checkpoint
    from alphazero.nn.export import ExportError, export_onnx

    path = args.checkpoint or checkpoint.default_path()
    if path is None:
        raise UserError("no checkpoint given and no shipped checkpoints/best.pt found; pass "
                        "--checkpoint PATH")
    if not args.out.endswith(".onnx"):
        raise UserError(f"--out {args.out!r}: name the file with .onnx at the end")
    if os.path.isdir(args.out):
        raise UserError(f"--out {args.out!r} is a folder; name a file, e.g. net.onnx")
    start = checkpoint.load(path, "cpu")
    try:
        export_onnx(start.net, args.out)
    except ExportError as e:
        raise UserError(str(e)) from None
    print(f"export: {path} ({start.net.cfg.describe()}) -> {args.out}, ONNX opset 17; input "
          "planes float32 [batch, 3, 6, 7], outputs logits [batch, 7] and value [batch] "
          "(docs/operating.md)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from alphazero.apps.analysis import render_game
    from alphazero.replay.dataset import list_data_files
    from alphazero.replay.shards import read_samples

    path = args.source
    if os.path.isdir(os.path.join(path, "data")):  # a run folder: its latest iteration
        iters = sorted(d for d in os.listdir(os.path.join(path, "data")) if d.startswith("iter_"))
        if not iters:
            raise UserError(f"run folder {path!r} has no self-play data yet")
        path = os.path.join(path, "data", iters[-1])
    files = list_data_files([path]) if os.path.isdir(path) else [path]
    if not files:
        raise UserError(f"no dataset files in {path!r}")
    samples = read_samples(files[0])
    try:
        print(render_game(samples, args.game, files[0]))
    except IndexError as e:
        raise UserError(f"{files[0]}: {e}") from None
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from alphazero.core.config import describe, to_dict

    if args.config or args.set:
        import yaml

        print(yaml.safe_dump(to_dict(_config(args)), sort_keys=False), end="")
    else:
        print("\n".join(describe()))
    return 0


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


def _parser_train(sub) -> None:
    """The `train` subcommand's arguments."""
    p = sub.add_parser("train", help="train a net on dataset folders")
    _add_config_args(p)
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
    _add_config_args(p)
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
    _add_config_args(p)
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
    _add_config_args(p)
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
    _add_config_args(p)
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
    _add_config_args(p)
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
    _add_config_args(p)
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
    except _user_errors() as e:
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
