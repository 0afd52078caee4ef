"""What changing batch sizes cost ``openvino-bf16``, and what compiling around it buys.

    cd scripts && python bench_shapes.py [--games 100] [--seconds 2] [--rounds 2]

Records the sizes of the network calls of one worker's self-play (``configs/default.yaml``, a
full search every move, every inference lever on, the shipped net), then runs the shipped
net's OpenVINO model, one thread, on real positions in calls of those sizes in turn, each
variant for ``--seconds`` of CPU, alternating ``--rounds`` times:

* ``dynamic``: the model as the evaluator compiles it (any batch size);
* ``bounded``: the batch dimension bounded to 1-256 when compiled;
* ``static_per_size``: one model compiled for each size that occurs (and its compile time,
  ``static_compile_s``, paid again for every new net);
* ``padded_8``: the dynamic model on calls padded up to a multiple of 8 rows (counting only
  the real rows);
* ``dynamic_fixed``: the dynamic model at the calls' mean size every call (no changes).

Prints one JSON line of positions per CPU-second per variant (best of the rounds) and the
sizes' mean and 10/25/50/75/90th percentiles.
"""

import argparse
import dataclasses
import itertools
import json
import os
import time

import numpy as np
import torch
from bench_net import real_positions

import alphazero  # noqa: F401  (sets the OpenMP wait policy before torch loads)
from alphazero.core import config
from alphazero.nn.checkpoint import default_path, load
from alphazero.nn.inference import _openvino_model, _ov_core
from alphazero.rules.encoder import encode
from alphazero.rules.game import Boards
from alphazero.stages.selfplay import play_games
from alphazero.stages.workers import load_evaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call_sizes(games: int) -> list[int]:
    """Sizes of the network calls of ``games`` self-play games in one worker."""
    cfg = config.load(os.path.join(ROOT, "configs", "default.yaml"))
    sp = dataclasses.replace(cfg.selfplay, games=games, parallel_games=games,
                             full_search_prob=1.0)
    ev = load_evaluator(default_path(), cfg.net, "cpu", 0, cfg.inference)
    network, sizes = ev.evaluate, []

    def recording(boards: Boards):
        sizes.append(len(boards))
        return network(boards)

    ev.evaluate = recording
    list(play_games(ev, cfg.mcts, sp, range(games)))
    return sizes


def compiled(model_shape=None):
    """The shipped net's OpenVINO model at bf16 on one thread, optionally reshaped first."""
    import openvino as ov

    model = _openvino_model(load(default_path()).net)
    if model_shape is not None:
        model.reshape({0: ov.PartialShape(model_shape)})
    return _ov_core().compile_model(model, "CPU", {
        "INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "bf16", "ENABLE_CPU_PINNING": False})


def per_cpu_second(infer, sizes: list[int], seconds: float) -> float:
    """Real positions per CPU-second of ``infer(size)`` over ``sizes`` in turn."""
    cycle, done, c0 = itertools.cycle(sizes), 0, time.process_time()
    while time.process_time() - c0 < seconds:
        n = next(cycle)
        infer(n)
        done += n
    return done / (time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=100, help="games in flight (one worker's)")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(1)
    import openvino as ov

    sizes = call_sizes(a.games)
    planes = encode(real_positions(max(256, max(sizes) + 8))).astype(np.float32)
    dynamic = compiled().create_infer_request()
    bounded = compiled([ov.Dimension(1, 256), 3, 6, 7]).create_infer_request()
    t0 = time.process_time()
    static = {n: compiled([n, 3, 6, 7]).create_infer_request() for n in sorted(set(sizes))}
    static_compile = time.process_time() - t0
    mean = int(round(np.mean(sizes)))
    variants = {
        "dynamic": lambda n: dynamic.infer({0: planes[:n]}),
        "bounded": lambda n: bounded.infer({0: planes[:n]}),
        "static_per_size": lambda n: static[n].infer({0: planes[:n]}),
        "padded_8": lambda n: dynamic.infer({0: planes[:-(-n // 8) * 8]}),
    }
    best: dict[str, float] = {}
    for r in range(a.rounds):
        for name, infer in variants.items():
            best[name] = max(best.get(name, 0.0), per_cpu_second(infer, sizes, a.seconds))
        best["dynamic_fixed"] = max(best.get("dynamic_fixed", 0.0), per_cpu_second(
            variants["dynamic"], [mean], a.seconds))
        print(f"round {r}: " + ", ".join(f"{k} {v:,.0f}" for k, v in best.items()), flush=True)
    print(json.dumps({"positions_per_cpu_s": {k: round(v) for k, v in best.items()},
                      "static_models": len(static), "static_compile_s": round(static_compile, 2),
                      "calls": len(sizes), "mean_size": round(float(np.mean(sizes)), 1),
                      "size_percentiles": np.percentile(sizes, [10, 25, 50, 75, 90]).tolist()}))


if __name__ == "__main__":
    main()
