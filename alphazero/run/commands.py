"""The subcommands but ``evaluate`` (``evaluate.py``): one function each, which loads what
it needs when it runs, so ``alphazero --help`` stays fast."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys

from alphazero import __version__
from alphazero.run.options import UserError, at_least_one, config_of, console_of, sims_of, start_net

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


def cmd_self_play(args: argparse.Namespace) -> int:
    from alphazero.nn import checkpoint
    from alphazero.nn.net import select_device
    from alphazero.search.mcts import tree_step
    from alphazero.stages.selfplay import check_requirements
    from alphazero.stages.workers import run_pool, work_summary

    cfg = config_of(args, {
        "games": "selfplay.games", "sims": "mcts.num_simulations", "workers": "selfplay.workers",
        "parallel_games": "selfplay.parallel_games", "seed": "selfplay.seed",
        "device": "selfplay.device", "preset": "net.preset"})
    select_device(cfg.selfplay.device)
    if args.checkpoint is not None:
        checkpoint.load(args.checkpoint)  # a bad file fails here, in one line, not in a worker
    check_requirements(cfg, judging=False)
    _check_out_folder(args.out, args.checkpoint, cfg)
    for warning in cfg.selfplay.warnings():  # stdout, as the pipeline's: stderr is for errors
        print(f"warning: {warning}")
    stats = run_pool(args.checkpoint, cfg.net, cfg.mcts, cfg.selfplay, args.out,
                     reporter=console_of(args), inference=cfg.inference)
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


def cmd_train(args: argparse.Namespace) -> int:
    from alphazero.stages.train import train_and_save

    cfg = config_of(args, {"epochs": "train.epochs", "lr": "train.lr",
                                           "device": "train.device",
                                           "batch_size": "train.batch_size"})
    start, device = start_net(args.checkpoint, cfg, cfg.train.device)
    writer = None
    if args.tb:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.tb)
    try:
        fit = train_and_save(start, args.data, cfg.train, device, args.out,
                             iteration=start.iteration + 1,
                             reporter=dataclasses.replace(console_of(args), writer=writer))
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


def cmd_pipeline(args: argparse.Namespace) -> int:
    from alphazero.run.pipeline import create_run, open_run, run

    if args.resume:
        if args.init_from:
            raise UserError("--init-from starts a new run; a resumed run keeps its own nets "
                            "(drop --init-from, or start a new --run-dir with --config)")
        open_run(args.resume, args.set or [], ray=args.ray is not None)  # validates, saves --set
        run_dir = args.resume
    else:
        if not args.config:
            raise UserError("pass --config FILE to start a run (e.g. configs/default.yaml) or "
                            "--resume RUN_DIR to continue one")
        cfg = config_of(args)
        run_dir = args.run_dir or os.path.join(
            "runs", os.path.splitext(os.path.basename(args.config))[0])
        if not create_run(run_dir, cfg, init_from=args.init_from, ray=args.ray is not None):
            print(f"pipeline: {run_dir} already holds this run; resuming it")
    run(run_dir, console=console_of(args), ray_address=args.ray)
    print(f"pipeline: done; best net in {os.path.join(run_dir, 'best.pt')}, metrics in "
          f"{os.path.join(run_dir, 'metrics.jsonl')}, TensorBoard: tensorboard --logdir "
          f"{os.path.join(run_dir, 'tb')}")
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from alphazero.apps.play import play_session
    from alphazero.nn import checkpoint
    from alphazero.nn.inference import evaluator_for
    from alphazero.search.mcts import tree_step

    cfg = config_of(args)
    sims = sims_of(args, cfg.mcts.num_simulations)
    start = _position(args.moves, "play")
    first = {"human": True, "ai": False}.get(args.first)
    if first is None and not sys.stdin.isatty():
        first = True  # input from a pipe or a file: no question to answer
    path = args.checkpoint or checkpoint.default_path()
    if path is None:
        print("No trained checkpoint found: playing an untrained net (pass --checkpoint PATH).")
    at_least_one(args, "threads")
    import torch

    torch.set_num_threads(args.threads)
    ckpt, device = start_net(path, cfg, args.device)
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

    cfg = config_of(args)
    sims = sims_of(args, cfg.mcts.num_simulations)
    moves = _position(args.moves, "analyse")
    state = State.from_moves(moves)
    path = args.checkpoint or checkpoint.default_path()
    start, device = start_net(path, cfg, args.device)
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
    cfg = config_of(args)
    for flag in ("max_sims", "searches"):
        at_least_one(args, flag)
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

        print(yaml.safe_dump(to_dict(config_of(args)), sort_keys=False), end="")
    else:
        print("\n".join(describe()))
    return 0
