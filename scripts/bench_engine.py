"""Random-playout speed of the rules engine: single-game states vs the batched numpy form.

    python scripts/bench_engine.py [--seconds 3] [--batch 4096]

Last output line: one JSON object with ``single_moves_per_s`` and ``batched_moves_per_s``.
"""

import argparse
import json
import random
import time

import numpy as np

from alphazero.rules.game import State, batch_legal, batch_play


def single(seconds: float) -> float:
    rng = random.Random(0)
    moves, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = State()
        while not s.is_terminal():
            s = s.play(rng.choice(s.legal_moves()))
            moves += 1
    return moves / (time.perf_counter() - t0)


def batched(seconds: float, batch: int) -> float:
    """Keep ``batch`` random games going, restarting each one as it ends."""
    rng = np.random.default_rng(0)
    own = np.zeros(batch, np.uint64)
    mask = np.zeros(batch, np.uint64)
    moves, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(50):
            legal = batch_legal(mask)
            cols = np.argmax(rng.random((batch, 7)) * legal, axis=1)
            own, mask, won, full = batch_play(own, mask, cols, check=False)
            moves += batch
            done = won | full
            own[done] = 0
            mask[done] = 0
    return moves / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=4096)
    a = ap.parse_args()
    s = single(a.seconds)
    b = batched(a.seconds, a.batch)
    print(f"single-game engine: {s:,.0f} moves/s")
    print(f"batched engine (batch {a.batch}): {b:,.0f} moves/s ({b / s:.1f}x)")
    print(json.dumps({"single_moves_per_s": round(s), "batched_moves_per_s": round(b),
                      "batch": a.batch, "batched_over_single": round(b / s, 2)}))


if __name__ == "__main__":
    main()
