"""Self-play speed: inference backends, the search against its network's limit, and a real
self-play iteration with every lever on and off, side by side in one run.

    cd scripts && python bench_selfplay.py [--threads 1] [--seconds 0.5] [--rounds 2]
    cd scripts && python bench_selfplay.py --device cuda --batch 4096 --rounds 0   # on a GPU

Keys of the last output line (one JSON object):

* ``tree_sims_per_s``: search with a free evaluator (constant priors and values), 256 games:
  the tree's own cost, with the compiled step (``tree_step``: ``compiled`` when numba is
  installed) and ``tree_sims_per_s_numpy`` with the numpy steps.
* ``backends``: per preset (``small``, ``paper``) and backend, the evaluator's best positions/s
  over batch sizes 1-256 on real positions (encoding, slicing and masking included), one
  thread; ``backend_speedup`` / ``paper_backend_speedup``: the fastest over ``eager``.
* ``small_ratio`` / ``paper_ratio``: search sims/s (the fastest backend, no cache or symmetry,
  256 games) over that backend's best throughput: 1.0 = the tree costs nothing.
* ``paper_batch1_sims_per_s``: per backend, one game searched alone (64 simulations), one
  thread: what a person waits for in ``alphazero play`` (the seed made 56 with this net).
* ``pipeline``: ``configs/default.yaml``'s self-play with a full search every move (200 games,
  32 simulations, 2 workers; playout-cap randomisation off) with the shipped net, everything
  ``on`` (the defaults: fastest backend, cache, random mirror, subtree reuse, compiled tree
  step) and ``off`` (eager fp32, no cache, no symmetry, no reuse, numpy tree steps),
  alternating ``--rounds`` times, each in its own worker pool kept across rounds as a run
  keeps it across iterations (one warm-up round each, not counted).
  ``pipeline_selfplay_speedup``: finished positions per worker CPU-second, on over off;
  ``pipeline_limit_ratio``: network evaluations per worker CPU-second (on) over the
  on-backend's best one-thread throughput, the product of ``net_cpu_share`` (the network's
  share of the workers' CPU) and ``net_in_situ_ratio`` (its evaluations per second of its own
  CPU there, over that best); ``cache_hit_rate``, ``mean_batch_occupancy``.
  ``worker_core_use``: the workers' CPU over their wall time (1.0: each kept its core busy).
* ``varying_batch_ratio``: the fastest ``small`` backend on batches of 28-35 positions in
  turn, over the same at 32 every call: what changing shapes cost it.
"""

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from bench_net import real_positions

from alphazero.core import config
from alphazero.core.config import InferenceConfig, MCTSConfig, NetConfig
from alphazero.nn.checkpoint import default_path
from alphazero.nn.inference import available_backends, make_evaluator
from alphazero.nn.net import build_net, select_device
from alphazero.rules.game import Boards
from alphazero.search import kernels
from alphazero.search.mcts import search
from alphazero.stages.workers import WorkerPool, run_pool, work_summary

BATCHES = (1, 16, 64, 128, 256)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_evaluator(boards):
    n = len(boards)
    return np.full((n, 7), 1 / 7, np.float32), np.zeros(n, np.float32)


def rate(fn, items: int, seconds: float) -> float:
    """``items`` per second of ``fn()``, repeated for ``seconds`` after one warm-up call."""
    fn()
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        fn()
        n += 1
    return n * items / elapsed


def best_throughput(net, backend: str, seconds: float, batches=BATCHES) -> float:
    ev = make_evaluator(net, None, backend)
    boards = real_positions(max(batches))
    return max(rate(lambda b=b: ev(boards.take(slice(0, b))), b, seconds) for b in batches)


def varying_batches(evaluate, seconds: float) -> float:
    """Positions/s on batches of 28-35 in turn over positions/s at 32 every call."""
    boards = real_positions(64)
    fixed = rate(lambda: evaluate(boards.take(slice(0, 32))), 32, seconds)
    sizes = itertools.cycle([29, 31, 33, 35, 30, 34, 32, 28])
    varied = rate(lambda: evaluate(boards.take(slice(0, next(sizes)))), 31.5, seconds)
    return varied / fixed


def search_rate(evaluate, batch: int, sims: int, seconds: float, compiled: bool = True) -> float:
    """Simulations/s of searches from the opening (compiled tree step when numba is here)."""
    cfg = MCTSConfig(num_simulations=sims, reuse_tree=False, compiled=compiled)
    return rate(lambda: search(Boards.empty(batch), evaluate, cfg), batch * sims, seconds)


def pipeline_round(lever_on: bool, ckpt: str, pool: WorkerPool) -> dict:
    cfg = config.load(os.path.join(ROOT, "configs", "default.yaml"))
    inference = cfg.inference if lever_on else InferenceConfig(
        backend="eager", symmetry="none", selfplay_symmetry="none", cache_size=0)
    mcts = dataclasses.replace(cfg.mcts, reuse_tree=lever_on, compiled=lever_on)
    # Every move a full search, whatever the config says of playout-cap randomisation (its
    # 8-simulation searches need few evaluations and would measure another workload).
    sp = dataclasses.replace(cfg.selfplay, games=200, full_search_prob=1.0)
    with tempfile.TemporaryDirectory() as out:
        stats = run_pool(ckpt, cfg.net, mcts, sp, out, inference=inference, pool=pool)
    return {**work_summary(stats), "positions": stats["positions"],
            "cpu_seconds": round(stats["work"]["cpu_seconds"], 1),
            "wall_seconds": round(stats["seconds"], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=256, help="games searched at once")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--paper-sims", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=2, help="pipeline rounds, off and on each, "
                                                          "after one warm-up round of each")
    ap.add_argument("--checkpoint", default=None, help="net for the pipeline part (default: "
                                                       "the shipped one)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = select_device(a.device)
    batches = tuple(sorted({*BATCHES, a.batch}))
    out: dict = {"device": str(device), "threads": torch.get_num_threads(), "batch": a.batch,
                 "backends": {}}
    out["tree_step"] = "compiled" if kernels.AVAILABLE else "numpy"
    out["tree_sims_per_s"] = round(search_rate(free_evaluator, a.batch, 200, 2 * a.seconds))
    out["tree_sims_per_s_numpy"] = round(search_rate(free_evaluator, a.batch, 200,
                                                     2 * a.seconds, compiled=False))
    print(f"tree only: {out['tree_sims_per_s']:,} sims/s {out['tree_step']}, "
          f"{out['tree_sims_per_s_numpy']:,} numpy", flush=True)

    for preset in ("small", "paper"):
        torch.manual_seed(0)
        net = build_net(NetConfig(preset=preset), device).eval()
        rates = {name: round(best_throughput(net, name, a.seconds, batches), 1)
                 for name in available_backends(device) if name != "openvino-int8"}
        out["backends"][preset] = rates
        fastest = max(rates, key=rates.get)
        key = "backend_speedup" if preset == "small" else "paper_backend_speedup"
        out[key] = round(rates[fastest] / rates["eager"], 3)
        sims = 32 if preset == "small" else a.paper_sims
        ev = make_evaluator(net, device, fastest)
        out[f"{preset}_ratio"] = round(search_rate(ev, a.batch, sims, 2 * a.seconds)
                                       / rates[fastest], 3)
        if preset == "small":
            out["varying_batch_ratio"] = round(varying_batches(ev, 4 * a.seconds), 3)
        print(f"{preset}: best positions/s {rates}; {key} {out[key]}; search / limit "
              f"{out[f'{preset}_ratio']} ({fastest})", flush=True)
        if preset == "paper":
            out["paper_batch1_sims_per_s"] = {
                name: round(search_rate(make_evaluator(net, device, name), 1, 64, 2 * a.seconds),
                            1) for name in rates}
            print(f"paper, one game alone: {out['paper_batch1_sims_per_s']} sims/s", flush=True)

    ckpt = a.checkpoint or default_path()
    if a.rounds > 0 and ckpt and device.type == "cpu":
        rounds = {"off": [], "on": []}
        pools = {"off": WorkerPool(2), "on": WorkerPool(2)}
        try:
            for r in range(a.rounds + 1):
                for lever in ("off", "on"):
                    result = pipeline_round(lever == "on", ckpt, pools[lever])
                    if r:  # round 0 starts the pool: a run's first iteration
                        rounds[lever].append(result)
                    print(f"pipeline round {r} {lever}: {result}", flush=True)
        finally:
            for pool in pools.values():
                pool.close()
        out["pipeline"] = rounds
        on, off = rounds["on"], rounds["off"]
        out["pipeline_selfplay_speedup"] = round(statistics.mean(
            x["positions_per_cpu_s"] for x in on) / statistics.mean(
            x["positions_per_cpu_s"] for x in off), 3)
        backend = on[-1]["backend"]
        out["pipeline_limit_ratio"] = round(statistics.mean(
            x["evals_per_cpu_s"] for x in on) / out["backends"]["small"][backend], 3)
        # The limit ratio is the product of these two: how much of the workers' CPU the
        # network gets, and how fast it runs there against its best in a tight loop.
        out["net_cpu_share"] = round(statistics.mean(x["net_cpu_share"] for x in on), 3)
        out["net_in_situ_ratio"] = round(statistics.mean(
            x["net_evals_per_net_s"] for x in on) / out["backends"]["small"][backend], 3)
        out["cache_hit_rate"] = round(statistics.mean(x["cache_hit_rate"] for x in on), 4)
        out["mean_batch_occupancy"] = round(statistics.mean(
            x["mean_batch_occupancy"] for x in on), 4)
        out["worker_core_use"] = round(statistics.mean(x["worker_core_use"] for x in on), 3)
        print(f"pipeline: speedup {out['pipeline_selfplay_speedup']}, limit ratio "
              f"{out['pipeline_limit_ratio']} (network's CPU share {out['net_cpu_share']} x "
              f"its speed there {out['net_in_situ_ratio']}), cache hits {out['cache_hit_rate']:.1%}, "
              f"occupancy {out['mean_batch_occupancy']:.1%}, core use {out['worker_core_use']}",
              flush=True)
    elif a.rounds > 0 and device.type == "cpu":
        print("no checkpoint for the pipeline part: pass --checkpoint", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
