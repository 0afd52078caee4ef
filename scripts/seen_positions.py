"""How much of the benchmarks self-play ever reaches: for each labelled set, how many of its
positions (or their mirror images) occur in a run's self-play data, and the net's raw-policy
mistakes on those seen and on the rest.

    python scripts/seen_positions.py --data RUN/data/iter_* [--checkpoint checkpoints/best.pt]

The raw policy is the project's default inference (mirror averaging). Prints one line per
set and, last, a JSON line with the same numbers.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from alphazero.core.config import InferenceConfig  # noqa: E402
from alphazero.nn import checkpoint  # noqa: E402
from alphazero.nn.inference import make_evaluator  # noqa: E402
from alphazero.replay.dataset import load_dataset  # noqa: E402
from alphazero.rules.encoder import encode, mirror_planes  # noqa: E402
from alphazero.rules.game import Boards  # noqa: E402
from alphazero.rules.positions import C4, PONS, load_positions, path_of  # noqa: E402
from alphazero.stages.arena import PolicyPlayer  # noqa: E402


def seen_keys(states: np.ndarray) -> set[bytes]:
    """Encoded positions int8 [n, 3, 6, 7] and their mirror images, as bytes."""
    return {s.tobytes() for s in states} | {s.tobytes() for s in mirror_planes(states)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="self-play data folders")
    ap.add_argument("--checkpoint", default=checkpoint.default_path())
    args = ap.parse_args()
    states = load_dataset(args.data).samples.states
    keys = seen_keys(states)
    inference = InferenceConfig()
    player = PolicyPlayer(make_evaluator(checkpoint.load(args.checkpoint).net,
                                         backend=inference.backend, symmetry=inference.symmetry))
    out = {"checkpoint": args.checkpoint, "data_positions": len(states), "sets": {}}
    for name in (PONS, C4):
        positions = load_positions(path_of(name))
        boards = Boards.from_states([p.state for p in positions])
        states = encode(boards).astype(np.int8)
        moves = player.select(boards)
        for p, s, col in zip(positions, states, moves):
            row = out["sets"].setdefault(p.set, {"seen": 0, "seen_mistakes": 0, "unseen": 0,
                                                 "unseen_mistakes": 0})
            kind = "seen" if s.tobytes() in keys else "unseen"
            row[kind] += 1
            row[f"{kind}_mistakes"] += int(p.is_mistake(int(col)))
    for name, r in out["sets"].items():
        rate = lambda k: f"{100 * r[k + '_mistakes'] / r[k]:.1f}%" if r[k] else "-"  # noqa: E731
        print(f"{name:12s} seen {r['seen']:4d} (mistakes {rate('seen'):>6s})  "
              f"unseen {r['unseen']:4d} (mistakes {rate('unseen'):>6s})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
