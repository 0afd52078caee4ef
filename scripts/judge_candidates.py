"""Choose the net to ship from a run's candidates without looking at Pons, by the rules the
recipe's nets were judged by (checkpoints/recipe/README.md), in one resumable command.

    python scripts/judge_candidates.py runs/strong --from 142 --incumbent checkpoints/best.pt \
        --out judged/strong [--top 5] [--breadth 100] [--breadth-seeds 1 2] [--sims 600] \
        [--solver-games 200]

1. The c4 set (3000 solver-labelled positions by game phase, none of them Pons'): the raw
   policy of every candidate from iteration --from on.
2. The --top candidates with the fewest c4 mistakes (a tie: the later one) and the incumbent
   play --breadth won and --breadth drawn starts against the solver on each of
   --breadth-seeds at --sims simulations, and --solver-games from the empty board.
3. The best candidate: among those that win every game moving first if any does, the most
   wins kept plus draws held over all seeds (a tie: fewer c4 mistakes). It replaces the
   incumbent only if it is no worse on both counts (winning every game moving first, the
   breadth sum) and better on one. Pons is measured afterwards, once, on the choice.

Each measurement is the ``alphazero evaluate ... --json`` output, one file each in OUT, named
after what it measured (the checkpoint's content hash and the settings), so a rerun reuses
what it can (kill it at any moment; more seeds later add to the same folder) and never a
measurement of another net. Prints the table (markdown) and the choice, and writes both to
OUT/judged.md. Breadth sums of neighbouring candidates differ by several starts from noise
alone: more seeds make the answer firmer.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from alphazero.core import atomic  # noqa: E402


def fingerprint(path: str) -> str:
    """A short hash of a checkpoint file's bytes: measurements are kept per net, not per name."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:10]


def measured(out_dir: str, name: str, argv: list[str]) -> dict:
    """The JSON of ``alphazero evaluate ARGV --json``, from OUT_DIR/NAME.json when an earlier
    run wrote it, else measured now and kept there (atomically, once it parsed)."""
    path = os.path.join(out_dir, f"{name}.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.read().strip().splitlines()[-1])
    print(f"  {name}: alphazero evaluate {' '.join(argv)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "alphazero.run.cli", "evaluate", *argv,
                           "--json"], capture_output=True, text=True)
    if done.returncode:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        sys.exit(f"judge_candidates: {name} failed: {why}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    atomic.write_text(path, done.stdout)
    return report


def c4_mistakes(out_dir: str, label: str, ckpt: str, key: str | None = None) -> int:
    """Raw-policy mistakes of ``ckpt`` (whose fingerprint is ``key`` when known) over all of
    the c4 set's positions."""
    report = measured(out_dir, f"c4_{label}_{key or fingerprint(ckpt)}",
                      ["--checkpoint", ckpt, "--positions", "c4", "--sims", "0"])
    return round(sum(s["mistake_rate"] * s["n"] for s in report["policy_sets"].values()))


def candidates(run_dir: str, first: int) -> dict[str, str]:
    """``iter_NNNN`` -> checkpoint path, for the run's candidates from iteration ``first``."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "candidates", "iter_*.pt"))):
        m = re.fullmatch(r"iter_(\d+)\.pt", os.path.basename(path))
        if m and int(m.group(1)) >= first:
            out[f"iter_{int(m.group(1)):04d}"] = path
    return out


def shortlist(c4: dict[str, int], top: int) -> list[str]:
    """The ``top`` labels with the fewest c4 mistakes; of equals, the later iteration first."""
    return sorted(c4, key=lambda label: (c4[label], -int(label[5:])))[:top]


def judge(label: str, ckpt: str, a: argparse.Namespace) -> dict:
    """One contestant's c4 mistakes, breadth per seed and games moving first against the solver."""
    key = fingerprint(ckpt)
    row = {"name": label, "c4": c4_mistakes(a.out, label, ckpt, key), "breadth": []}
    for seed in a.breadth_seeds:
        b = measured(a.out, f"breadth{a.breadth}_s{seed}_sims{a.sims}_{label}_{key}", [
            "--checkpoint", ckpt, "--breadth", str(a.breadth), "--sims", str(a.sims),
            "--seed", str(seed)])
        row["breadth"].append((b["won"]["kept"], b["drawn"]["kept"]))
    s = measured(a.out, f"solver{a.solver_games}_sims{a.sims}_{label}_{key}", [
        "--player", ckpt, "--opponent", "solver", "--games", str(a.solver_games),
        "--openings", "0", "--sims", str(a.sims)])["by_colour"]["first"]
    row["first"] = (s["wins"], s["draws"], s["losses"])
    row["sum"] = sum(k + h for k, h in row["breadth"])
    return row


def wins_all(row: dict) -> bool:
    """Whether the contestant won every game it moved first in against the solver."""
    wins, draws, losses = row["first"]
    return wins > 0 and draws + losses == 0


def choose(incumbent: dict, rows: list[dict]) -> dict:
    """The row to ship: the best of ``rows`` (winning every game moving first, then breadth,
    then fewer c4 mistakes) if it is no worse than ``incumbent`` on both of the first two
    and better on one; else ``incumbent``."""
    best = max(rows, key=lambda r: (wins_all(r), r["sum"], -r["c4"]))
    no_worse = wins_all(best) >= wins_all(incumbent) and best["sum"] >= incumbent["sum"]
    better = wins_all(best) > wins_all(incumbent) or best["sum"] > incumbent["sum"]
    return best if no_worse and better else incumbent


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


def arguments() -> argparse.Namespace:
    """The command line, checked before anything is measured."""
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
    ap.add_argument("--solver-games", type=int, default=200,
                    help="even: half of them moving first")
    a = ap.parse_args()
    if min(a.top, a.breadth, a.sims) < 1 or a.solver_games < 2 or a.solver_games % 2:
        ap.error("--top, --breadth and --sims must be at least 1, --solver-games even and "
                 "at least 2")
    if not os.path.isfile(a.incumbent):
        ap.error(f"incumbent {a.incumbent!r} not found")
    return a


def main() -> None:
    a = arguments()
    pool = candidates(a.run_dir, a.first)
    if not pool:
        sys.exit(f"judge_candidates: no candidates from iteration {a.first} on in {a.run_dir}")
    os.makedirs(a.out, exist_ok=True)
    print(f"c4, raw policy: {len(pool)} candidates", flush=True)
    top = shortlist({label: c4_mistakes(a.out, label, p) for label, p in pool.items()}, a.top)
    print(f"breadth and the solver: {', '.join(top)} and the incumbent", flush=True)
    incumbent = judge("incumbent", a.incumbent, a)
    rows = [judge(label, pool[label], a) for label in top]
    best = choose(incumbent, rows)
    verdict = ("choice: the incumbent stays" if best is incumbent
               else f"choice: {best['name']} ({pool[best['name']]})")
    text = f"{table([incumbent, *rows], a.breadth_seeds)}\n\n{verdict}\n"
    atomic.write_text(os.path.join(a.out, "judged.md"), text)
    print(text, end="")


if __name__ == "__main__":
    main()
