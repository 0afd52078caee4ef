"""The recipe run's curve: mistakes against perfect play over CPU core-hours and positions.

    python scripts/recipe_curve.py checkpoints/recipe/run checkpoints/recipe/pons600 \
        --out checkpoints/recipe/curve

Draws, from the run's metrics.jsonl, the best net's raw-policy mistakes on the fifth of Pons'
positions the pipeline scores each iteration, and from the evaluations in EVALS_DIR (one
``alphazero evaluate --checkpoint CKPT --positions --sims 600 --json`` output per file, named
``iter_XXXX.json`` after the iteration whose best net it measured, or ``candidate_XXXX.json``
after the iteration whose candidate it measured) the raw policy on all 6000
positions and the 600-simulation search on the three hard sets, with AlphaZero.jl's levels in
the legend. Writes OUT_cpu.svg and OUT_positions.svg (matplotlib, the plots extra) and prints
each run's evaluations as a markdown table.

More runs of the same config with other seeds (``--seed-run RUN_DIR EVALS_DIR``, repeatable)
add a band to each line: the range over all runs at the iterations every run has measured,
drawn at the first run's x. The lines stay the first run's (the run that made the shipped net).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from plot_curve import read_rows  # noqa: E402

from alphazero.report import plots  # noqa: E402

#: The hard sets with AlphaZero.jl's level on each (its README, 15-30 GPU-hours).
HARD = {"Test_L1_R2": "~2", "Test_L2_R2": "~2.7", "Test_L1_R3": "~7"}


def evaluations(folder: str) -> dict[int, dict]:
    """iteration -> the evaluation's JSON (the last line of each file); an iteration measured
    twice (``iter_N`` and ``candidate_N``) is an error, not a silent pick."""
    out, names = {}, {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        if not (m := re.fullmatch(r"(?:iter|candidate)_(\d+)\.json", os.path.basename(path))):
            continue
        it = int(m.group(1))
        if it in names:
            sys.exit(f"recipe_curve: {names[it]} and {os.path.basename(path)} in {folder} both "
                     f"measure iteration {it}: keep one")
        names[it] = os.path.basename(path)
        with open(path, encoding="utf-8") as fh:
            out[it] = json.loads(fh.read().strip().splitlines()[-1])
    return dict(sorted(out.items()))


def overall(sets: dict) -> float:
    """Mistakes (%) over all positions of ``sets`` ({set: {mistake_rate, n}})."""
    return 100 * sum(s["mistake_rate"] * s["n"] for s in sets.values()) / sum(
        s["n"] for s in sets.values())


def lines(rows: list[dict], evals: dict[int, dict], x_of: dict[int, float]) -> dict:
    """Legend name -> [(x, mistakes %)] with x given per iteration by ``x_of`` (evaluations
    of iterations the run has not reached are left out)."""
    evals = {it: e for it, e in evals.items() if it in x_of}
    out = {"raw policy, a fifth of Pons (each iteration)": [
        (x_of[r["iteration"]], 100 * r["policy_mistakes"]) for r in rows
        if r.get("policy_mistakes") is not None]}
    out["raw policy, all 6000"] = [(x_of[it], overall(e["policy_sets"]))
                                   for it, e in evals.items()]
    for name, level in HARD.items():
        out[f"600 sims, {name[5:]} (AlphaZero.jl {level})"] = [
            (x_of[it], 100 * e["mcts_sets"][name]["mistake_rate"]) for it, e in evals.items()]
    return out


def table(evals: dict[int, dict], hours: dict[int, float], positions: dict[int, int]) -> str:
    """The evaluations as markdown rows: iteration, core-hours, positions, the six sets at 600
    simulations and the raw policy over all 6000 (the recipe README's table)."""
    sets = ["Test_L1_R1", "Test_L2_R1", "Test_L3_R1", "Test_L1_R2", "Test_L2_R2", "Test_L1_R3"]
    out = ["| after iteration | CPU core-hours | positions | "
           + " | ".join(s[5:] for s in sets) + " | raw policy, all 6000 |", "|---" * 10 + "|"]
    for it, e in evals.items():
        if it in hours:
            cells = [str(it), f"{hours[it]:.2f}", f"{positions[it]:,}",
                     *(f"{100 * e['mcts_sets'][s]['mistake_rate']:.1f}" for s in sets),
                     f"{overall(e['policy_sets']):.1f}"]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def progress(rows: list[dict]) -> tuple[dict[int, float], dict[int, int]]:
    """iteration -> CPU core-hours, and -> recorded positions, both summed from iteration 1."""
    hours, positions, cpu, pos = {}, {}, 0.0, 0
    for r in rows:
        cpu += r["cpu_seconds"]["total"] / 3600
        pos += r["selfplay"]["positions"]
        hours[r["iteration"]], positions[r["iteration"]] = cpu, pos
    return hours, positions


def bands(runs: list[dict], x_of: dict[int, float]) -> dict:
    """Legend name -> [(x, lo, hi)]: each line's range over ``runs`` (the per-iteration
    ``lines`` of every run, keyed by iteration) where all of them have it, at ``x_of``."""
    out = {}
    for name, first in runs[0].items():
        shared = sorted(set(first).intersection(*(r[name] for r in runs[1:])))
        ys = [[r[name][it] for r in runs] for it in shared]
        if shared:  # none: a seed run not yet measured where the first run was
            out[name] = [(x_of[it], min(y), max(y)) for it, y in zip(shared, ys)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("evals_dir")
    ap.add_argument("--seed-run", nargs=2, action="append", default=[],
                    metavar=("RUN_DIR", "EVALS_DIR"), help="another run of the config: bands")
    ap.add_argument("--out", required=True, help="path prefix of the two SVG files")
    a = ap.parse_args()
    sources = [(a.run_dir, a.evals_dir), *a.seed_run]
    runs = [(read_rows(r), evaluations(e)) for r, e in sources]
    hours, positions = progress(runs[0][0])
    by_iteration = [{name: dict(points) for name, points in lines(
        rows, evals, {r["iteration"]: r["iteration"] for r in rows}).items()}
        for rows, evals in runs]
    title = "recipe from scratch (configs/strong.yaml): mistakes against perfect play"
    if len(runs) > 1:
        title += f"\n(lines: the first run; bands: the range over {len(runs)} seeds)"
    for suffix, x_of, xlabel in (("cpu", hours, "CPU core-hours (the pipeline's count)"),
                                 ("positions", positions, "self-play positions (recorded)")):
        fig = plots.line_figure(lines(*runs[0], x_of), title, xlabel, "mistakes (%)",
                                bands=bands(by_iteration, x_of) if len(runs) > 1 else None,
                                ylim=(0, 20))
        plots.save(fig, f"{a.out}_{suffix}.svg")
        print(f"{a.out}_{suffix}.svg")
    for (rows, evals), (run_dir, _) in zip(runs, sources):
        print(f"\n{run_dir}:\n{table(evals, *progress(rows))}")


if __name__ == "__main__":
    main()
