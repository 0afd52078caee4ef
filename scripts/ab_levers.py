"""A/B of the training levers on the learning curve, same seeds, same base config.

    python scripts/ab_levers.py run [--iterations N] [--only NAME ...]   # resumable
    python scripts/ab_levers.py report [--out docs/levers.svg]

Each variant is AlphaZero as the seed does it (configs/default.yaml with value_q_weight 0)
with one switch changed, trained with
the project's own pipeline into runs/ab/NAME. ``report`` scores every iteration's candidate
net (raw policy, no search) on all 6000 solver-labelled Pons positions, cached beside the run
in pons_policy.json, and prints and draws that mistake rate against the cumulative
self-play + training CPU time and against the self-play positions.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

from plot_curve import line_chart, read_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "configs", "default.yaml")

#: name -> (overrides, what it tests)
VARIANTS = {
    "baseline": (["train.value_q_weight=0"],
                 "AlphaZero: PUCT, Dirichlet noise, visit-count targets, z value targets"),
    "gumbel": (["train.value_q_weight=0", "mcts.root_selection=gumbel"],
               "Gumbel sequential halving at the root, completed-Q policy targets"),
    "playout_cap": (["train.value_q_weight=0", "selfplay.full_search_prob=0.25",
                     "selfplay.fast_simulations=8", "selfplay.games=400"],
                    "25% full searches (recorded), 75% 8-simulation searches; twice the "
                    "games for about the same CPU"),
    "value_mix": (["train.value_q_weight=0.5"], "value target (z + q) / 2"),
}


def run(names: list[str], iterations: int) -> None:
    for name in names:
        overrides, _ = VARIANTS[name]
        run_dir = os.path.join(ROOT, "runs", "ab", name)
        sets = [f"pipeline.iterations={iterations}", *overrides]
        cmd = [sys.executable, "-m", "alphazero", "pipeline", "--config", BASE, "--run-dir",
               run_dir, "--quiet"] + [x for s in sets for x in ("--set", s)]
        print("$", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)


def policy_mistakes(run_dir: str) -> dict[int, float]:
    """Iteration -> candidate raw-policy mistake rate on all Pons positions (cached)."""
    from alphazero import checkpoint
    from alphazero.arena import PolicyPlayer
    from alphazero.net import make_evaluator
    from alphazero.positions import PONS, load_positions, path_of, score_positions

    cache_path = os.path.join(run_dir, "pons_policy.json")
    cache = {}
    if os.path.exists(cache_path):
        with open(cache_path, encoding="utf-8") as fh:
            cache = {int(k): v for k, v in json.load(fh).items()}
    positions = None
    for path in sorted(glob.glob(os.path.join(run_dir, "candidates", "iter_*.pt"))):
        it = int(os.path.basename(path)[5:9])
        if it in cache:
            continue
        positions = positions or load_positions(path_of(PONS))
        player = PolicyPlayer(make_evaluator(checkpoint.load(path).net))
        scores = score_positions(player, positions)
        cache[it] = sum(x.mistakes for x in scores.values()) / len(positions)
    with open(cache_path, "w", encoding="utf-8") as fh:
        json.dump({str(k): v for k, v in sorted(cache.items())}, fh, indent=1)
    return cache


def search_mistakes(run_dir: str, sims: int = 64) -> float:
    """Mistake rate of the run's best net searching with its own config (``sims``
    simulations, no noise) on every fifth Pons position (1200); cached."""
    from alphazero import checkpoint, config
    from alphazero.arena import MCTSPlayer
    from alphazero.mcts import match_config
    from alphazero.net import make_evaluator
    from alphazero.positions import PONS, load_positions, path_of, score_positions

    cache_path = os.path.join(run_dir, "pons_search.json")
    ck = checkpoint.load(os.path.join(run_dir, "best.pt"))
    key = f"iter{ck.iteration}_sims{sims}"
    cache = {}
    if os.path.exists(cache_path):
        with open(cache_path, encoding="utf-8") as fh:
            cache = json.load(fh)
    if key not in cache:
        cfg = config.load(os.path.join(run_dir, "config.yaml"))
        positions = load_positions(path_of(PONS))[::5]
        player = MCTSPlayer(make_evaluator(ck.net), match_config(cfg.mcts, sims))
        scores = score_positions(player, positions)
        cache[key] = sum(x.mistakes for x in scores.values()) / len(positions)
        with open(cache_path, "w", encoding="utf-8") as fh:
            json.dump(cache, fh, indent=1)
    return cache[key]


def report(out: str) -> None:
    by_cpu, by_pos = {}, {}
    print("| variant | iterations | self-play positions | CPU minutes | candidate raw-policy "
          "mistakes, mean of the last 3 iterations (%) | best net + 64-simulation search, "
          "mistakes (%) | vs greedy, last 3 (%) |")
    print("|---|---|---|---|---|---|---|")
    for name in VARIANTS:
        run_dir = os.path.join(ROOT, "runs", "ab", name)
        if not os.path.exists(os.path.join(run_dir, "metrics.jsonl")):
            continue
        mistakes = policy_mistakes(run_dir)
        rows = [r for r in read_rows(run_dir) if r["iteration"] in mistakes]
        if not rows:
            continue
        cpu = pos = 0.0
        pts_cpu, pts_pos = [], []
        for r in rows:
            cpu += r["cpu_seconds"]["selfplay"] + r["cpu_seconds"]["train"]
            pos += r["selfplay"]["positions"]
            pts_cpu.append((cpu / 60, 100 * mistakes[r["iteration"]]))
            pts_pos.append((pos, 100 * mistakes[r["iteration"]]))
        by_cpu[name], by_pos[name] = pts_cpu, pts_pos
        last = rows[-3:]
        mis = sum(mistakes[r["iteration"]] for r in last) / len(last)
        greedy = [r["reference"]["greedy"]["score"] for r in last if "greedy" in
                  r.get("reference", {})]
        g = f"{100 * sum(greedy) / len(greedy):.0f}" if greedy else "-"
        srch = 100 * search_mistakes(run_dir)
        print(f"| {name} | {len(rows)} | {int(pos):,} | {cpu / 60:.1f} | {100 * mis:.1f} | "
              f"{srch:.1f} | {g} |")
    if not by_cpu:
        sys.exit("no A/B runs found under runs/ab; start them with: python scripts/ab_levers.py run")
    base, _ = os.path.splitext(out)
    with open(f"{base}.json", "w", encoding="utf-8") as fh:
        json.dump({name: [{"cpu_minutes": round(c, 2), "positions": int(p),
                           "raw_policy_mistakes_pct": round(y, 2)}
                          for (c, y), (p, _) in zip(by_cpu[name], by_pos[name])]
                   for name in by_cpu}, fh, indent=1)
    print(f"{base}.json")
    ys = [y for pts in by_cpu.values() for _, y in pts]
    lo, hi = 5 * int(min(ys) // 5), 5 * int(max(ys) // 5 + 1)
    for suffix, lines, xlabel in (("cpu", by_cpu, "self-play + training CPU minutes"),
                                  ("positions", by_pos, "self-play positions (recorded)")):
        path = f"{base}_{suffix}.svg"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(line_chart(lines, "candidate raw-policy mistakes, all 6000 Pons positions",
                                xlabel, y_max=hi, y_min=lo))
        print(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--iterations", type=int, default=10)
    r.add_argument("--only", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    p = sub.add_parser("report")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "levers.svg"))
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.only, a.iterations)
    else:
        report(a.out)


if __name__ == "__main__":
    main()
