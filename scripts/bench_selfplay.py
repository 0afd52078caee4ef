"""Self-play speed, measured side by side against the network's own throughput.

    python scripts/bench_selfplay.py [--device cpu|cuda] [--threads 1] [--batch 256]

On a GPU use large batches (e.g. ``--device cuda --batch 4096``): the tree runs on the CPU and
the network call per simulation step serves every game at once.

In one process, one run:

* ``tree_sims_per_s``: search with a free evaluator (constant priors and values) at ``--batch``
  games: the cost of the tree alone.
* ``small_sims_per_s`` / ``small_net_pos_per_s`` = ``small_ratio``: search with the ``small``
  preset divided by that net's raw forward positions/s at the same batch size; 1.0 means the
  tree costs nothing beside the network.
* ``paper_ratio``: the same with the 19x128 ``paper`` preset, and
  ``paper_batched_over_batch1``: batched search over the same search run one game at a time.
* ``small_positions_per_s``: training positions/s of finished self-play games, ``small``
  preset, 100 simulations per move.

Last output line: one JSON object with these keys and the settings.
"""

import argparse
import json
import time

import numpy as np
import torch

from alphazero.config import MCTSConfig, NetConfig, SelfPlayConfig
from alphazero.game import Boards
from alphazero.mcts import search
from alphazero.net import build_net, make_evaluator, select_device
from alphazero.selfplay import play_games

from bench_net import measure


def free_evaluator(boards):
    n = len(boards)
    return np.full((n, 7), 1 / 7, np.float32), np.zeros(n, np.float32)


class Timed:
    """Wraps an evaluator and adds up the seconds spent inside it (network + encoding)."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __call__(self, boards):
        t = time.perf_counter()
        out = self.inner(boards)  # returns numpy: the device work has finished
        self.seconds += time.perf_counter() - t
        return out


def search_rate(evaluate, batch: int, sims: int, min_seconds: float) -> float:
    """Simulations/s of searches from the opening, repeated for at least ``min_seconds``."""
    cfg = MCTSConfig(num_simulations=sims)
    boards = Boards.empty(batch)
    done, t0 = 0, time.perf_counter()
    while True:
        search(boards, evaluate, cfg)
        done += batch * sims
        if time.perf_counter() - t0 >= min_seconds:
            return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--paper-sims", type=int, default=24)
    ap.add_argument("--selfplay-games", type=int, default=None,
                    help="games for the self-play measure (default: --batch)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = select_device(a.device)
    out = {"device": str(device), "threads": torch.get_num_threads(), "batch": a.batch}

    out["tree_sims_per_s"] = round(search_rate(free_evaluator, a.batch, 200, a.seconds))
    print(f"tree only: {out['tree_sims_per_s']:,} sims/s")

    torch.manual_seed(0)
    small = build_net(NetConfig(preset="small"), device)
    ev = make_evaluator(small, device)
    out["small_net_pos_per_s"] = round(measure(small, a.batch, device, a.seconds), 1)
    timed = Timed(ev)
    t0 = time.perf_counter()
    out["small_sims_per_s"] = round(search_rate(timed, a.batch, 32, a.seconds), 1)
    # Share of search wall time spent in the evaluator (on a GPU: the device's busy share,
    # at most); the rest is tree work on the CPU.
    out["small_net_time_share"] = round(timed.seconds / (time.perf_counter() - t0), 3)
    out["small_ratio"] = round(out["small_sims_per_s"] / out["small_net_pos_per_s"], 3)
    print(f"small: search {out['small_sims_per_s']:,} sims/s, net {out['small_net_pos_per_s']:,}"
          f" pos/s, ratio {out['small_ratio']}, time in the evaluator "
          f"{out['small_net_time_share']:.0%}")

    paper = build_net(NetConfig(preset="paper"), device)
    pev = make_evaluator(paper, device)
    out["paper_net_pos_per_s"] = round(measure(paper, a.batch, device, a.seconds), 1)
    ptimed = Timed(pev)
    t0 = time.perf_counter()
    out["paper_sims_per_s"] = round(search_rate(ptimed, a.batch, a.paper_sims, a.seconds), 1)
    out["paper_net_time_share"] = round(ptimed.seconds / (time.perf_counter() - t0), 3)
    out["paper_ratio"] = round(out["paper_sims_per_s"] / out["paper_net_pos_per_s"], 3)
    out["paper_batch1_sims_per_s"] = round(search_rate(pev, 1, 64, a.seconds), 1)
    out["paper_batched_over_batch1"] = round(
        out["paper_sims_per_s"] / out["paper_batch1_sims_per_s"], 2)
    print(f"paper: search {out['paper_sims_per_s']:,} sims/s, net {out['paper_net_pos_per_s']:,}"
          f" pos/s, ratio {out['paper_ratio']}; batch 1: {out['paper_batch1_sims_per_s']:,} "
          f"sims/s ({out['paper_batched_over_batch1']}x slower)")

    sp = SelfPlayConfig(parallel_games=a.batch)
    mc = MCTSConfig(num_simulations=100)
    positions, t0 = 0, time.perf_counter()
    for g in play_games(ev, mc, sp, range(a.selfplay_games or a.batch)):
        positions += len(g.samples)
    out["small_positions_per_s"] = round(positions / (time.perf_counter() - t0), 1)
    print(f"self-play, small, 100 sims: {out['small_positions_per_s']:,} positions/s "
          f"({a.batch} games)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
