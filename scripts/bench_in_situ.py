"""Where the network's speed goes inside self-play: one worker's games in this process, then
the very same network calls replayed back to back, then fixed batches.

    cd scripts && python bench_in_situ.py [--games 100] [--rounds 3]

Plays ``configs/default.yaml``'s self-play (a full search every move, 32 simulations, every
inference lever on) with the shipped net, one thread, recording every batch the network is
asked for. Then replays them, after one warm-up round (a size the backend meets the first time
costs it more), best of ``--rounds``. Prints one JSON line of positions per CPU-second:

* ``in_situ``: network evaluations per second of the network's own CPU time during self-play
  (the pipeline's ``net_evals_per_net_s``), and ``net_cpu_share``;
* ``replayed``: the same calls, same positions, one after another: what is left is the cost
  of the rest of self-play running in between (caches evicted);
* ``merged_2``, ``merged_4``: the same positions, every 2 or 4 calls in a row as one (what
  bigger calls of changing sizes would buy);
* ``fixed_mean``: batches of the mean size every call (what the varying sizes cost), and
  ``fixed_256``;
* ``replayed_over_256``: ``replayed / fixed_256``, the pipeline limit ratio a search that cost
  nothing would reach with these calls;
* ``batch_percentiles``: 10/25/50/75/90th percentiles of the batch sizes.
"""

import argparse
import dataclasses
import json
import os
import time

import numpy as np
import torch

import alphazero  # noqa: F401  (sets the OpenMP wait policy before torch loads)
from alphazero.core import config
from alphazero.nn.checkpoint import default_path
from alphazero.rules.game import Boards
from alphazero.stages.selfplay import play_games
from alphazero.stages.workers import load_evaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def per_cpu_second(evaluate, batches: list[Boards]) -> float:
    """Positions per CPU-second of ``evaluate`` over ``batches`` back to back."""
    c0 = time.process_time()
    for b in batches:
        evaluate(b)
    return sum(len(b) for b in batches) / (time.process_time() - c0)


def joined(calls: list[Boards]) -> Boards:
    """The positions of ``calls`` as one batch, in order."""
    return Boards(np.concatenate([b.own for b in calls]), np.concatenate([b.mask for b in calls]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=100, help="games in flight (one worker's)")
    ap.add_argument("--rounds", type=int, default=3, help="replay rounds after the warm-up")
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
    in_situ = {"in_situ": round(s.net_positions / s.net_seconds),  # before replays add to s
               "net_cpu_share": round(s.net_seconds / cpu, 3)}
    sizes = np.array([len(b) for b in calls])
    flat = joined(calls)

    def fixed(n: int) -> list[Boards]:
        return [flat.take(slice(i, i + n)) for i in range(0, len(flat) - n + 1, n)]

    mean = int(round(sizes.mean()))
    replays = {"replayed": calls,
               "merged_2": [joined(calls[i:i + 2]) for i in range(0, len(calls), 2)],
               "merged_4": [joined(calls[i:i + 4]) for i in range(0, len(calls), 4)],
               "fixed_mean": fixed(mean), "fixed_256": fixed(256)}
    best = {name: 0.0 for name in replays}
    for r in range(a.rounds + 1):  # round 0 warms every size up
        for name, batches in replays.items():
            rate = per_cpu_second(network, batches)
            if r:
                best[name] = max(best[name], rate)
    out = {**in_situ, **{name: round(v) for name, v in best.items()}, "mean_batch": mean,
           "replayed_over_256": round(best["replayed"] / best["fixed_256"], 3),
           "batch_percentiles": np.percentile(sizes, [10, 25, 50, 75, 90]).tolist()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
