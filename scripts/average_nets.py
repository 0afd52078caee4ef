"""Average the weights of a run's candidates into one net (SWA; ``alphazero/nn/average.py``),
BatchNorm statistics measured on the run's most recent self-play positions.

    python scripts/average_nets.py RUN_DIR --from 237 --to 277 --out averaged.pt [--positions 65536]

The averaged net is written as a checkpoint of the last candidate's iteration (no optimizer
state), its meta naming what was averaged; judge it like any candidate (``alphazero evaluate
--checkpoint averaged.pt ...``).
"""

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from alphazero.nn import checkpoint  # noqa: E402
from alphazero.nn.average import average_nets  # noqa: E402
from alphazero.replay.dataset import load_dataset  # noqa: E402
from alphazero.run.pipeline import RunPaths  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--from", dest="first", type=int, required=True, help="first iteration")
    ap.add_argument("--to", dest="last", type=int, required=True, help="last iteration")
    ap.add_argument("--out", required=True)
    ap.add_argument("--positions", type=int, default=65536,
                    help="recent self-play positions the BatchNorm statistics are measured on")
    a = ap.parse_args()
    paths = RunPaths(a.run_dir)
    if a.first > a.last:
        sys.exit(f"average_nets: --from {a.first} is after --to {a.last}")
    names = [paths.candidate(i) for i in range(a.first, a.last + 1)]
    missing = [n for n in names if not os.path.exists(n)]
    if missing:
        sys.exit(f"average_nets: no candidates {a.first}..{a.last} in {a.run_dir} "
                 f"(missing: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''})")
    nets = [checkpoint.load(n).net for n in names]
    iterations = sorted(glob.glob(os.path.join(a.run_dir, "data", "iter_*")))
    data = load_dataset(iterations, max_samples=a.positions)
    net = average_nets(nets, data.samples.states)
    checkpoint.save(a.out, net, iteration=a.last, meta={
        "averaged": [os.path.relpath(n, a.run_dir) for n in names],
        "batchnorm_positions": len(data.samples)})
    print(f"average_nets: {len(nets)} candidates ({a.first}..{a.last}), BatchNorm measured on "
          f"{len(data.samples):,} positions -> {a.out}")


if __name__ == "__main__":
    main()
