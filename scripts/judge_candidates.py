"""Choose the net to ship from a run's candidates without looking at Pons: the rule the recipe's
shipped net was chosen by (checkpoints/recipe/README.md), in one resumable command.

    python scripts/judge_candidates.py runs/strong --from 142 --incumbent checkpoints/best.pt \
        --out judged/strong [--top 5] [--breadth 100] [--breadth-seeds 1 2] [--sims 600] \
        [--solver-games 200]

1. The c4 set (3000 solver-labelled positions by game phase, none of them Pons'): the raw
   policy of every candidate from iteration --from on.
2. The --top candidates with the fewest c4 mistakes (a tie: the later one) and the incumbent
   play --breadth won and --breadth drawn starts against the solver on each of
   --breadth-seeds at --sims simulations, and --solver-games from the empty board.
3. The rule, written before any of it is measured: rank by winning every game moving first,
   then wins kept plus draws held over all seeds, then fewer c4 mistakes; the incumbent stays
   unless a candidate ranks strictly above it. Pons is measured afterwards, once, on the choice.

Each measurement is the ``alphazero evaluate ... --json`` output, one file each in OUT, kept
and reused when the command runs again with the same settings (kill it at any moment). Prints the table (markdown)
and the choice, and writes both to OUT/judged.md. Breadth sums of neighbouring candidates
differ by several starts from noise alone: more seeds make the rule's answer firmer.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from alphazero.core import atomic  # noqa: E402


def measured(out_dir: str, name: str, argv: list[str]) -> dict:
    """The JSON of ``alphazero evaluate ARGV --json``, from OUT_DIR/NAME.json when an earlier
    run wrote it, else measured now and kept there (atomically: a kill leaves no half file)."""
    path = os.path.join(out_dir, f"{name}.json")
    if not os.path.exists(path):
        print(f"  {name}: alphazero evaluate {' '.join(argv)}", flush=True)
        done = subprocess.run([sys.executable, "-m", "alphazero.run.cli", "evaluate", *argv,
                               "--json"], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"judge_candidates: {name} failed: {done.stderr.strip().splitlines()[-1]}")
        atomic.write_text(path, done.stdout)
    with open(path, encoding="utf-8") as fh:
        return json.loads(fh.read().strip().splitlines()[-1])


def c4_mistakes(report: dict) -> int:
    """Raw-policy mistakes over all of the c4 set's positions."""
    return round(sum(s["mistake_rate"] * s["n"] for s in report["policy_sets"].values()))


def candidates(run_dir: str, first: int) -> dict[str, str]:
    """``iter_NNNN`` -> checkpoint path, for the run's candidates from iteration ``first``."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "candidates", "iter_*.pt"))):
        m = re.fullmatch(r"iter_(\d+)\.pt", os.path.basename(path))
        if m and int(m.group(1)) >= first:
            out[f"iter_{int(m.group(1)):04d}"] = path
    return out


def judge(name: str, ckpt: str, a: argparse.Namespace) -> dict:
    """One contestant's c4 mistakes, breadth per seed and games moving first against the solver."""
    row = {"name": name, "c4": c4_mistakes(measured(a.out, f"c4_{name}", [
        "--checkpoint", ckpt, "--positions", "c4", "--sims", "0"])), "breadth": []}
    for seed in a.breadth_seeds:
        b = measured(a.out, f"breadth_s{seed}_{name}", [
            "--checkpoint", ckpt, "--breadth", str(a.breadth), "--sims", str(a.sims),
            "--seed", str(seed)])
        row["breadth"].append((b["won"]["kept"], b["drawn"]["kept"]))
    s = measured(a.out, f"solver_{name}", [
        "--player", ckpt, "--opponent", "solver", "--games", str(a.solver_games),
        "--openings", "0", "--sims", str(a.sims)])["by_colour"]["first"]
    row["first"] = (s["wins"], s["draws"], s["losses"])
    row["sum"] = sum(k + h for k, h in row["breadth"])
    return row


def rank(row: dict) -> tuple:
    """The rule's order: every game moving first won, then breadth, then fewer c4 mistakes."""
    _, draws, losses = row["first"]
    return (draws + losses == 0, row["sum"], -row["c4"])


def choose(rows: list[dict]) -> dict:
    """The row the rule ships: the highest ``rank``; ``rows[0]`` (the incumbent) on a tie."""
    return max(rows, key=rank)  # max keeps the first of equals


def table(rows: list[dict], seeds: list[int]) -> str:
    """The judged contestants as a markdown table."""
    head = ["contestant", "c4 mistakes", *(f"seed {s}: kept / held" for s in seeds), "sum",
            "vs solver, moving first"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        wins, draws, losses = r["first"]
        cells = [r["name"], str(r["c4"]), *(f"{k} / {h}" for k, h in r["breadth"]),
                 str(r["sum"]), f"W{wins} D{draws} L{losses}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def same_settings(a: argparse.Namespace) -> None:
    """Keep the measuring settings in OUT/settings.json; a rerun with other settings would
    reuse measurements they did not make, so it stops with the fix instead."""
    settings = {k: getattr(a, k) for k in ("breadth", "breadth_seeds", "sims", "solver_games")}
    path = os.path.join(a.out, "settings.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            if (kept := json.load(fh)) != settings:
                sys.exit(f"judge_candidates: {a.out} holds measurements made with {kept}; "
                         "use another --out or the same settings")
    os.makedirs(a.out, exist_ok=True)
    atomic.write_json(path, settings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--from", dest="first", type=int, required=True,
                    help="the first iteration whose candidate competes")
    ap.add_argument("--incumbent", required=True, help="the net shipped now")
    ap.add_argument("--out", required=True, help="folder for the measurements and judged.md")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--breadth", type=int, default=100, help="won and drawn starts per seed")
    ap.add_argument("--breadth-seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sims", type=int, default=600)
    ap.add_argument("--solver-games", type=int, default=200)
    a = ap.parse_args()
    pool = candidates(a.run_dir, a.first)
    if not pool:
        sys.exit(f"judge_candidates: no candidates from iteration {a.first} on in {a.run_dir}")
    if not os.path.isfile(a.incumbent):
        sys.exit(f"judge_candidates: incumbent {a.incumbent!r} not found")
    same_settings(a)
    print(f"c4, raw policy: {len(pool)} candidates", flush=True)
    c4 = {n: c4_mistakes(measured(a.out, f"c4_{n}", ["--checkpoint", p, "--positions", "c4",
                                                     "--sims", "0"])) for n, p in pool.items()}
    top = sorted(pool, key=lambda n: (c4[n], -int(n[5:])))[:a.top]
    print(f"breadth and the solver: {', '.join(top)} and the incumbent", flush=True)
    rows = [judge("incumbent", a.incumbent, a)] + [judge(n, pool[n], a) for n in top]
    best = choose(rows)
    verdict = (f"choice: {best['name']}" + (" (the incumbent stays)" if best is rows[0]
                                            else f" ({pool[best['name']]})"))
    text = f"{table(rows, a.breadth_seeds)}\n\n{verdict}\n"
    atomic.write_text(os.path.join(a.out, "judged.md"), text)
    print(text, end="")


if __name__ == "__main__":
    main()
