"""Copy what a run needs to go on elsewhere into a folder small enough to commit: its config,
best net, metrics, evaluations, the last candidate (with the optimizer state) and the data of
the replay window (plus the unfinished iteration's chunks). TensorBoard logs and older nets
and data stay behind.

    python scripts/snapshot_run.py RUN_DIR OUT_DIR

On another machine: copy OUT_DIR to a run folder and resume it there,
``cp -r OUT_DIR runs/NAME && alphazero pipeline --resume runs/NAME``. The copy is written
beside OUT_DIR and moved into place at the end, so an interrupted snapshot leaves the old one.
"""

import argparse
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from alphazero.core import config  # noqa: E402


def latest(folder: str, pattern: str) -> list[tuple[int, str]]:
    """``(number, name)`` of the entries of ``folder`` matching ``pattern``, sorted."""
    if not os.path.isdir(folder):
        return []
    found = [(int(m.group(1)), n) for n in os.listdir(folder) if (m := re.fullmatch(pattern, n))]
    return sorted(found)


def snapshot(run: str, out: str) -> list[str]:
    """Copy the parts of ``run`` listed in the module doc to ``out``; returns them."""
    cfg = config.load(os.path.join(run, "config.yaml"))
    window = max(cfg.at(it).train.replay_iterations
                 for it in range(1, cfg.pipeline.iterations + 1))
    parts = ["config.yaml", "best.pt", "metrics.jsonl", "evals"]
    candidates = latest(os.path.join(run, "candidates"), r"iter_(\d{4})\.pt")
    parts += [os.path.join("candidates", n) for _, n in candidates[-1:]]
    data = latest(os.path.join(run, "data"), r"iter_(\d{4})")
    parts += [os.path.join("data", n) for _, n in data[-(window + 1):]]
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for part in parts:
        src, dst = os.path.join(run, part), os.path.join(tmp, part)
        if not os.path.exists(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        copy = shutil.copytree if os.path.isdir(src) else shutil.copy2
        copy(src, dst, **({"ignore": shutil.ignore_patterns(".*.tmp")}
                          if os.path.isdir(src) else {}))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("out")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.run, "config.yaml")):
        sys.exit(f"{a.run!r} is not a run folder (no config.yaml)")
    for part in snapshot(a.run, a.out):
        print(part)


if __name__ == "__main__":
    main()
