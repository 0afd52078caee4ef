"""Where the network's speed goes inside self-play: one worker's games in this process, then
the very same network calls replayed back to back, then fixed batches.

    cd scripts && python bench_in_situ.py [--games 100]

Plays ``configs/default.yaml``'s self-play (a full search every move, 32 simulations, every
inference lever on) with the shipped net, one thread, recording every batch the network is
asked for. Prints one JSON line:

* ``in_situ``: network evaluations per second of the network's own CPU time during self-play
  (the pipeline's ``net_evals_per_net_s``), and ``net_cpu_share``;
* ``replayed``: the same calls, same positions, one after another: what is left is the cost
  of the rest of self-play running in between (caches evicted);
* ``fixed_mean``: batches of the mean size every call (what the varying sizes cost), and
  ``fixed_256``;
* ``batch_percentiles``: 10/25/50/75/90th percentiles of the batch sizes.
"""

import argparse
import dataclasses
import json
import os
import time

import alphazero  # noqa: F401  (sets the OpenMP wait policy before torch loads)
import numpy as np
import torch

from alphazero import config
from alphazero.checkpoint import default_path
from alphazero.game import Boards
from alphazero.selfplay import load_evaluator, play_games

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def per_cpu_second(evaluate, batches: list[Boards]) -> float:
    """Positions per CPU-second of ``evaluate`` over ``batches`` back to back."""
    c0 = time.process_time()
    for b in batches:
        evaluate(b)
    return sum(len(b) for b in batches) / (time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=100, help="games in flight (one worker's)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config.load(os.path.join(ROOT, "configs", "default.yaml"))
    sp = dataclasses.replace(cfg.selfplay, games=a.games, parallel_games=a.games,
                             full_search_prob=1.0)
    ev = load_evaluator(default_path(), cfg.net, "cpu", 0, cfg.inference)
    list(play_games(ev, cfg.mcts, sp, range(a.games, a.games + 10)))  # compile and warm up
    network, calls = ev.evaluate, []  # the network under the cache: what it is asked

    def recording(boards: Boards):
        calls.append(boards)
        return network(boards)

    ev.evaluate = recording
    ev.stats.__init__()
    c0 = time.process_time()
    list(play_games(ev, cfg.mcts, sp, range(a.games)))
    cpu, s = time.process_time() - c0, ev.stats
    sizes = np.array([len(b) for b in calls])
    flat = Boards(np.concatenate([b.own for b in calls]), np.concatenate([b.mask for b in calls]))

    def fixed(n: int) -> list[Boards]:
        return [flat.take(slice(i, i + n)) for i in range(0, len(flat) - n + 1, n)]

    mean = int(round(sizes.mean()))
    out = {"in_situ": round(s.net_positions / s.net_seconds),
           "net_cpu_share": round(s.net_seconds / cpu, 3),
           "replayed": round(per_cpu_second(network, calls)),
           "fixed_mean": round(per_cpu_second(network, fixed(mean))), "mean_batch": mean,
           "fixed_256": round(per_cpu_second(network, fixed(256))),
           "batch_percentiles": np.percentile(sizes, [10, 25, 50, 75, 90]).tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
