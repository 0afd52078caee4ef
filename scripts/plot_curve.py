"""Draw a run's learning curve as an SVG (or PNG) with matplotlib (the plots extra).

    python scripts/plot_curve.py RUN_DIR|METRICS.jsonl [--out curve.svg] [--title TEXT]

Plots, per iteration: the raw policy's mistake rate on solver-labelled positions (the best
net's, and the candidate's where the run measured it), the best net's score against each
reference opponent, and the arena score of the candidate, all in %.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from alphazero.report import plots  # noqa: E402


def series(rows):
    out = {}
    if any(r.get("policy_mistakes") is not None for r in rows):
        out["raw-policy mistakes (Pons)"] = [
            (r["iteration"], 100 * r["policy_mistakes"]) for r in rows
            if r.get("policy_mistakes") is not None]
    if any(r.get("candidate_policy_mistakes") is not None for r in rows):
        out["candidate's raw-policy mistakes (Pons)"] = [
            (r["iteration"], 100 * r["candidate_policy_mistakes"]) for r in rows
            if r.get("candidate_policy_mistakes") is not None]
    names = sorted({k for r in rows for k in r.get("reference", {})})
    for n in names:
        out[f"score vs {n}"] = [(r["iteration"], 100 * r["reference"][n]["score"])
                                for r in rows if n in r.get("reference", {})]
    out["arena score of the candidate"] = [(r["iteration"], 100 * r["arena"]["score"])
                                           for r in rows]
    return out


def figure(rows, title: str):
    """The curve of ``series(rows)`` as a matplotlib figure."""
    return plots.line_figure(series(rows), title, "iteration", "%", ylim=(0, 100))


def read_rows(run_dir: str) -> list[dict]:
    """The metrics rows of a run (its folder or its metrics.jsonl), one per iteration, in
    order (later duplicates win)."""
    rows = {}
    path = run_dir if run_dir.endswith(".jsonl") else os.path.join(run_dir, "metrics.jsonl")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
                rows[r["iteration"]] = r
            except (json.JSONDecodeError, KeyError):
                continue
    return [rows[k] for k in sorted(rows)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", metavar="RUN_DIR|METRICS.jsonl")
    ap.add_argument("--out", default=None, help="default RUN_DIR/curve.svg")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    rows = read_rows(a.run_dir)
    out = a.out or os.path.join(a.run_dir, "curve.svg")
    positions = sum(r["selfplay"]["positions"] for r in rows)
    name = os.path.basename(os.path.normpath(a.run_dir)).removesuffix("_metrics.jsonl")
    title = a.title or f"{name}: {len(rows)} iterations, {positions:,} self-play positions"
    plots.save(figure(rows, title), out)
    print(out)


if __name__ == "__main__":
    main()
