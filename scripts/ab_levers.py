"""A/B of training choices on the learning curve: several seeds per arm, same base config.

    python scripts/ab_levers.py run --experiment NAME [--seeds 3] [--iterations N] [--only ARM ...]
    python scripts/ab_levers.py report --experiment NAME [--out docs/NAME.svg] [--breadth N]

Every arm is a base config (configs/default.yaml, from scratch; or, for an experiment in
``WARM_STARTS``, a shipped net's config warm-started from that net, both as a given commit
shipped them) with a few ``--set`` overrides, trained by the project's own pipeline into
runs/ab/EXPERIMENT/ARM/seedK with ``selfplay.seed = train.seed = K`` (run resumable: the same
command continues it).
``report`` scores every iteration's candidate net (raw policy, no search) on all 6000
solver-labelled Pons positions, cached beside the run in pons_policy.json, and prints, per
arm, the mean and the spread over seeds: at each iteration, against cumulative self-play +
training CPU time and against self-play positions. It draws the mean with a band from the
lowest to the highest seed. Arms that cost more CPU per iteration are also scored at equal
CPU: each seed's last 3 iterations within the CPU minutes the cheapest arm used.

Method (docs/levers.md): an arm's result is the mean of the last 3 iterations of each seed;
a difference between arms counts as real only when their seed ranges do not overlap.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np
from plot_curve import read_rows

from alphazero.report import plots

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "configs", "default.yaml")

#: The shipped recipe's settings from its schedule, pinned for a warm start (which counts its
#: iterations from 1), without the per-iteration reference matches and breadth.
_PLATEAU = ["selfplay.random_opening_moves=10", "arena.games=100", "pipeline.eval_games=0",
            "pipeline.breadth_starts=0"]

#: experiment -> arm -> (overrides, what it tests[, its own number of iterations]); an arm
#: whose iterations cost more or less CPU than the others' may run fewer or more of them, and
#: all are compared at equal CPU too (``report``).
EXPERIMENTS = {
    "levers": {
        "baseline": (["train.value_q_weight=0"],
                     "AlphaZero: PUCT, Dirichlet noise, visit-count targets, z value targets"),
        "gumbel": (["train.value_q_weight=0", "mcts.root_selection=gumbel"],
                   "Gumbel sequential halving at the root, completed-Q policy targets"),
        "playout_cap": (["train.value_q_weight=0", "selfplay.full_search_prob=0.25",
                         "selfplay.fast_simulations=8", "selfplay.games=400"],
                        "25% full searches (recorded), 75% 8-simulation searches; twice the "
                        "games for about the same CPU"),
        "value_mix": (["train.value_q_weight=0.5"], "value target (z + q) / 2"),
    },
    "weight_decay": {
        "adamw_1e-4": (["train.optimizer=adamw", "train.weight_decay=1e-4"],
                       "AdamW, decoupled decay 1e-4 (lr x wd = 2e-7 per step)"),
        "adamw_1e-2": (["train.optimizer=adamw", "train.weight_decay=1e-2"],
                       "AdamW, decoupled decay 1e-2"),
        "adamw_5e-2": (["train.optimizer=adamw", "train.weight_decay=5e-2"],
                       "AdamW, decoupled decay 5e-2"),
        "sgd_l2_1e-4": (["train.optimizer=sgd", "train.lr=0.02", "train.weight_decay=1e-4"],
                        "SGD, Nesterov momentum 0.9, lr 0.02, L2 1e-4 (the paper's)"),
    },
    "recipe": {
        "baseline": ([], "configs/default.yaml as it is: small 5x64, 32 simulations, window 4 "
                     "iterations, value target (z + q) / 2"),
        "sims64": (["mcts.num_simulations=64"], "64 simulations per self-play move"),
        "window8": (["train.replay_iterations=8"], "replay window of 8 iterations"),
        "value_q1": (["train.value_q_weight=1"], "value target q alone (the root search value)"),
        "medium": (["net.preset=medium"], "medium net 10x96 (about 4x the compute per position)",
                   5),
        "playout_cap": (["selfplay.full_search_prob=0.25", "selfplay.fast_simulations=8",
                         "selfplay.games=400"],
                        "KataGo's playout-cap randomisation: 25% full searches (recorded), 75% "
                        "8-simulation searches; twice the games", 16),
    },
    # From the shipped net, where the long run's legs stopped improving: which change to
    # self-play moves the plateau? (docs/levers.md, "At the plateau")
    "plateau": {
        # Opening moves pinned (as every arm's): the start's config says 11, the shipped one 16.
        "shipped": (["selfplay.temperature_moves=11"],
                    "leg 5's recipe (checkpoints/config.yaml with 11 opening moves): 128 "
                    "simulations for a quarter of the moves, 16 for the rest, 11 opening moves "
                    "at temperature 1"),
        "openings16": (["selfplay.temperature_moves=16"],
                       "16 opening moves at temperature 1 (more varied games)"),
        "sims400": (["mcts.num_simulations=400"],
                    "400 simulations for the full searches (stronger policy and value targets)"),
        "no_gate": (["selfplay.temperature_moves=11", "arena.gating=false"],
                    "leg 5's recipe without the arena gate: every candidate becomes the net "
                    "that plays the next iteration's games (AlphaZero without gating)"),
        "random_openings": (["selfplay.temperature_moves=11", "selfplay.random_opening_moves=10"],
                            "every game starts after 0-10 uniformly random moves (positions "
                            "like the benchmarks', which self-play almost never reaches)"),
    },
    # From scratch: should configs/default.yaml start games from random openings too?
    "openings": {
        "baseline": ([], "configs/default.yaml as it is (games from the empty board)"),
        "random_openings": (["selfplay.random_opening_moves=10"],
                            "every game starts after 0-10 uniformly random moves"),
    },
    "noise": {
        "reuse": (["mcts.reuse_noised_root=true"],
                  "a noised root keeps its reused subtree's visits (the noise steers only the "
                  "simulations still to run)"),
        "fresh": (["mcts.reuse_noised_root=false"],
                  "a noised root is searched afresh: every visit made under the noise"),
    },
    # From scratch at equal CPU: does the wider trunk, clearly ahead at equal data, pay for
    # its 3.3x cost per iteration? Iteration counts chosen so both arms use about the same CPU.
    "width": {
        "small": ([], "configs/default.yaml as it is: 5 blocks x 64 channels", 24),
        "wide": (["net.channels=128"], "5 blocks x 128 channels (about 1.9x the CPU per "
                 "iteration on the 2-core machine)", 13),
    },
    # From scratch: KataGo's forced playouts with policy-target pruning at the noised roots.
    "forced": {
        "baseline": ([], "configs/default.yaml as it is (Dirichlet noise steers PUCT only)"),
        "forced": (["mcts.forced_playouts=2"],
                   "forced playouts: every noised root move gets sqrt(2 P N) visits, which the "
                   "policy target and the move drawn leave out again (KataGo's k = 2)"),
    },
    # From scratch: a share of the games from drawn positions (the solver picks the starts;
    # the net plays them out), against random openings alone.
    "drawn": {
        "openings": (["selfplay.random_opening_moves=10"],
                     "every game starts after 0-10 uniformly random moves"),
        "drawn": (["selfplay.random_opening_moves=10", "selfplay.drawn_start_share=0.25"],
                  "as openings, but a quarter of the games start from a random opening the "
                  "solver calls a draw (about 1 in 8 random openings is one)"),
    },
    # From scratch: KataGo's auxiliary policy target, a head that predicts the opponent's
    # reply (trained only; search never runs it).
    "reply": {
        "baseline": ([], "configs/default.yaml as it is (policy and value heads)"),
        "reply": (["net.reply_head=true", "train.reply_weight=0.15"],
                  "a third head learns the opponent's next search policy, weight 0.15 "
                  "(KataGo's), the trunk shared"),
    },
    # From scratch at equal CPU: self-play on int8 inference (NNCF), judging unchanged.
    "int8": {
        "baseline": ([], "configs/default.yaml as it is (self-play on auto's backend: "
                     "openvino-bf16 on the 2-core machine)"),
        "int8": (["inference.selfplay_backend=openvino-int8"],
                 "self-play on int8 weights and activations (NNCF, calibrated on random "
                 "games); about 1.9x bf16's net speed without AMX, values off by up to "
                 "0.5-0.7", 13),
    },
    # From the net shipped then (the recipe's iteration 230), which draws about 8 of 100 games
    # moving first against the solver at two main-line positions: do games from the empty
    # board help? Both arms pin what the shipped config's schedule sets from iteration 15 and
    # 30 (a warm-started run counts from 1), and skip the reference matches and breadth.
    "mainline": {
        "openings": (_PLATEAU, "the recipe as it ran at iteration 230: every game after 0-10 "
                     "random moves"),
        "mainline": ([*_PLATEAU, "selfplay.random_opening_share=0.75"],
                     "a quarter of the games from the empty board instead (the main line)"),
    },
    # From the net shipped then (iteration 230), levers that were within the spread from
    # scratch, where the recipe's 128-simulation searches and self-play-heavy iterations give
    # them more room. The baseline is the mainline experiment's openings arm (the same runs:
    # link them, see docs/levers.md).
    "plateau_levers": {
        "openings": (_PLATEAU, "the recipe as it ran at iteration 230"),
        "forced": ([*_PLATEAU, "mcts.forced_playouts=2"],
                   "forced playouts and policy-target pruning (k = 2) at the noised roots"),
        "int8": ([*_PLATEAU, "inference.selfplay_backend=openvino-int8"],
                 "self-play on int8 inference (NNCF)"),
        # Grown (same outputs) into 5x128 with a fresh optimizer at about the learning rate the
        # warm-started arms continue at (the cosine's end: 2.4e-4 at iteration 230's step).
        "wide": ([*_PLATEAU, "net.channels=128", "train.lr_schedule=constant",
                  "train.lr=2.3e-4"],
                 "the net grown to 5x128 (3.1x the training CPU, 3.7x the inference)", 4),
    },
}

#: experiment -> the commit whose checkpoints/config.yaml and checkpoints/best.pt every arm
#: starts from (``--init-from``); pinned, so a rerun starts where the first run did even after
#: a newer net ships. "plateau": leg 5's iteration 34, shipped at the time.
WARM_STARTS = {
    "plateau": "ce91965",
    "noise": "d638db4",  # leg 9's iteration 58, shipped
    "mainline": "7dae12f",  # the recipe's iteration 230, shipped then
    "plateau_levers": "7dae12f",
}


def warm_start(experiment: str) -> tuple[str, str]:
    """(config, checkpoint) of an experiment's pinned start, taken out of git once into
    runs/ab/EXPERIMENT/start/."""
    out = os.path.join(ROOT, "runs", "ab", experiment, "start")
    os.makedirs(out, exist_ok=True)
    paths = []
    for name in ("config.yaml", "best.pt"):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            blob = subprocess.run(["git", "show", f"{WARM_STARTS[experiment]}:checkpoints/{name}"],
                                  cwd=ROOT, capture_output=True, check=False)
            if blob.returncode != 0:
                sys.exit(f"cannot read checkpoints/{name} at commit {WARM_STARTS[experiment]}: "
                         "run from a git clone with its history (git fetch --unshallow)")
            with open(path + ".tmp", "wb") as fh:
                fh.write(blob.stdout)
            os.replace(path + ".tmp", path)
        paths.append(path)
    return paths[0], paths[1]


def arm_dir(experiment: str, arm: str, seed: int) -> str:
    return os.path.join(ROOT, "runs", "ab", experiment, arm, f"seed{seed}")


def run(experiment: str, arms: list[str], seeds: int, iterations: int) -> None:
    """Seed by seed, so an interrupted A/B has every arm at the same number of seeds."""
    for seed in range(seeds):
        for arm in arms:
            done = read_rows(arm_dir(experiment, arm, seed)) \
                if os.path.exists(os.path.join(arm_dir(experiment, arm, seed), "metrics.jsonl")) \
                else []
            overrides, _, *own = EXPERIMENTS[experiment][arm]
            wanted = own[0] if own else iterations
            if len(done) >= wanted:  # finished (also with more iterations than asked)
                print(f"done: {experiment}/{arm}/seed{seed} ({len(done)} iterations)", flush=True)
                continue
            run_dir = arm_dir(experiment, arm, seed)
            if os.path.exists(os.path.join(run_dir, "config.yaml")):  # extend a shorter run
                cmd = [sys.executable, "-m", "alphazero", "pipeline", "--resume", run_dir,
                       "--quiet", "--set", f"pipeline.iterations={wanted}"]
            else:
                sets = [f"pipeline.iterations={wanted}", f"selfplay.seed={seed}",
                        f"train.seed={seed}", *overrides]
                base, init_from = (warm_start(experiment) if experiment in WARM_STARTS
                                   else (BASE, None))
                cmd = [sys.executable, "-m", "alphazero", "pipeline", "--config", base,
                       "--run-dir", run_dir, "--quiet"]
                cmd += ["--init-from", init_from] if init_from else []
                cmd += [x for s in sets for x in ("--set", s)]
            print("$", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)


def policy_mistakes(run_dir: str) -> dict[int, float]:
    """Iteration -> candidate raw-policy mistake rate on all Pons positions (cached)."""
    from alphazero.nn import checkpoint
    from alphazero.nn.inference import make_evaluator
    from alphazero.rules.positions import PONS, load_positions, path_of, score_positions
    from alphazero.stages.arena import PolicyPlayer

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


def seed_runs(experiment: str, arm: str) -> list[str]:
    """The run folders of an arm's seeds that have finished at least one iteration."""
    return [d for d in sorted(glob.glob(os.path.join(ROOT, "runs", "ab", experiment, arm, "seed*")))
            if os.path.exists(os.path.join(d, "metrics.jsonl"))]


def final_breadth(run_dir: str, starts: int, seed: int = 1) -> dict:
    """The last candidate's raw policy (no search) from ``starts`` won and ``starts`` drawn
    random-opening starts against the solver (``alphazero evaluate --breadth``), cached
    beside the run in breadth_policy.json; needs the solver extra."""
    from alphazero.nn import checkpoint
    from alphazero.nn.inference import make_evaluator
    from alphazero.stages.arena import PolicyPlayer
    from alphazero.stages.breadth import measure

    last = max(glob.glob(os.path.join(run_dir, "candidates", "iter_*.pt")))
    return cached(os.path.join(run_dir, "breadth_policy.json"),
                  f"{os.path.basename(last)} {starts} starts, seed {seed}",
                  lambda: measure(PolicyPlayer(make_evaluator(checkpoint.load(last).net)),
                                  starts, seed).as_dict())


def cached(path: str, key: str, compute) -> dict:
    """``compute()``'s result, kept under ``key`` in the JSON file ``path`` (computed once)."""
    cache = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            cache = json.load(fh)
    if key not in cache:
        cache[key] = compute()
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(cache, fh, indent=1)
    return cache[key]


def breadth_table(experiment: str, arms: list[str], starts: int) -> dict:
    """Per arm: won starts kept and drawn starts held by each seed's last candidate."""
    print(f"\n| arm | won starts kept (of {starts}), per seed | mean | drawn starts held "
          f"(of {starts}), per seed | mean |")
    print("|---|---|---|---|---|")
    out = {}
    for arm in arms:
        got = [final_breadth(r, starts) for r in seed_runs(experiment, arm)]
        won = [g["won"]["kept"] for g in got]
        held = [g["drawn"]["kept"] for g in got]
        out[arm] = {"won_kept": won, "drawn_held": held}
        print(f"| {arm} | {' / '.join(map(str, won))} | {np.mean(won):.1f} | "
              f"{' / '.join(map(str, held))} | {np.mean(held):.1f} |")
    return out


def final_solver(run_dir: str, games: int, sims: int = 600) -> dict:
    """The run's last candidate (what training made, promoted or not) with ``sims``-simulation
    search against the perfect solver from the empty board, ``games`` games with alternating
    colours (``alphazero evaluate``): its results moving first (perfect play wins them all).
    Cached in solver_first.json."""
    last = max(glob.glob(os.path.join(run_dir, "candidates", "iter_*.pt")))
    def play() -> dict:
        out = subprocess.run([sys.executable, "-m", "alphazero", "evaluate", "--checkpoint",
                              last, "--opponent", "solver",
                              "--games", str(games), "--openings", "0", "--sims", str(sims),
                              "--json", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])["by_colour"]["first"]
    return cached(os.path.join(run_dir, "solver_first.json"),
                  f"{os.path.basename(last)}, {games} games, {sims} sims",
                  play)


def solver_table(experiment: str, arms: list[str], games: int) -> dict:
    """Per arm: each seed's last candidate moving first against the solver (wins, draws)."""
    print(f"\n| arm | moving first against the solver, {games // 2} games per seed: wins / "
          "draws / losses per seed | draws, mean |")
    print("|---|---|---|")
    out = {}
    for arm in arms:
        got = [final_solver(r, games) for r in seed_runs(experiment, arm)]
        out[arm] = got
        cells = " ; ".join(f"W{g['wins']} D{g['draws']} L{g['losses']}" for g in got)
        print(f"| {arm} | {cells} | {np.mean([g['draws'] for g in got]):.1f} |")
    return out


def seed_curves(experiment: str, arm: str) -> list[list[dict]]:
    """Per finished seed of an arm: per iteration, the mistake rate, cumulative CPU minutes
    and positions, and the trunk weight norm."""
    out = []
    for run_dir in seed_runs(experiment, arm):
        mistakes = policy_mistakes(run_dir)
        cpu = pos = 0.0
        curve = []
        for r in read_rows(run_dir):
            if r["iteration"] not in mistakes:
                continue
            cpu += r["cpu_seconds"]["selfplay"] + r["cpu_seconds"]["train"]
            pos += r["selfplay"]["positions"]
            curve.append({"iteration": r["iteration"], "mistakes": 100 * mistakes[r["iteration"]],
                          "cpu_minutes": cpu / 60, "positions": pos,
                          "weight_norm": r["train"].get("weight_norm")})
        if curve:
            out.append(curve)
    return out


def last3_within(curve: list[dict], cpu_minutes: float) -> float:
    """The mean mistakes of the last 3 iterations a seed finished within ``cpu_minutes``
    (5% slack: iterations are not all alike)."""
    inside = [p["mistakes"] for p in curve if p["cpu_minutes"] <= 1.05 * cpu_minutes]
    return float(np.mean((inside or [curve[0]["mistakes"]])[-3:]))


def report(experiment: str, out: str, breadth: int = 0, solver_games: int = 0) -> None:
    arms = {arm: spec for arm, spec in EXPERIMENTS[experiment].items()
            if seed_curves(experiment, arm)}
    if not arms:
        sys.exit(f"no A/B runs found under runs/ab/{experiment}; start them with: "
                 f"python scripts/ab_levers.py run --experiment {experiment}")
    all_curves = {}
    for arm in arms:
        curves = seed_curves(experiment, arm)
        n = min(len(c) for c in curves)
        all_curves[arm] = [c[:n] for c in curves]
    # Equal CPU: every arm scored at the CPU the cheapest arm's seeds used on average.
    budget = min(float(np.mean([c[-1]["cpu_minutes"] for c in cs])) for cs in all_curves.values())
    summary, lines_cpu, lines_pos, bands_cpu, bands_pos = {}, {}, {}, {}, {}
    print(f"| arm | seeds | iterations | positions | CPU minutes | raw-policy mistakes, last 3 "
          f"iterations, mean (min-max over seeds) % | the same at {budget:.1f} CPU minutes | "
          "trunk weight norm |")
    print("|---|---|---|---|---|---|---|---|")
    for arm, (_, what, *_own) in arms.items():
        curves = all_curves[arm]
        n = len(curves[0])
        finals = [float(np.mean([p["mistakes"] for p in c[-3:]])) for c in curves]
        at_budget = [last3_within(c, budget) for c in curves]
        m = np.array([[p["mistakes"] for p in c] for c in curves])
        cpu = np.mean([[p["cpu_minutes"] for p in c] for c in curves], axis=0)
        pos = np.mean([[p["positions"] for p in c] for c in curves], axis=0)
        lines_cpu[arm] = list(zip(cpu, m.mean(0)))
        lines_pos[arm] = list(zip(pos, m.mean(0)))
        bands_cpu[arm] = list(zip(cpu, m.min(0), m.max(0)))
        bands_pos[arm] = list(zip(pos, m.min(0), m.max(0)))
        norm = np.mean([c[-1]["weight_norm"] or 0 for c in curves])
        summary[arm] = {"what": what, "seeds": len(curves), "iterations": n,
                        "final_mean": float(np.mean(finals)), "final_min": min(finals),
                        "final_max": max(finals), "per_seed": finals,
                        "equal_cpu_minutes": budget, "equal_cpu_mean": float(np.mean(at_budget)),
                        "equal_cpu_min": min(at_budget), "equal_cpu_max": max(at_budget),
                        "equal_cpu_per_seed": at_budget,
                        "cpu_minutes": float(cpu[-1]), "positions": int(pos[-1]),
                        "weight_norm": float(norm),
                        "curve_mean": [round(float(x), 2) for x in m.mean(0)],
                        "curve_min": [round(float(x), 2) for x in m.min(0)],
                        "curve_max": [round(float(x), 2) for x in m.max(0)]}
        print(f"| {arm} | {len(curves)} | {n} | {int(pos[-1]):,} | {cpu[-1]:.1f} | "
              f"{np.mean(finals):.1f} ({min(finals):.1f}-{max(finals):.1f}) | "
              f"{np.mean(at_budget):.1f} ({min(at_budget):.1f}-{max(at_budget):.1f}) | "
              f"{norm:.0f} |")
    if breadth:
        for arm, kept in breadth_table(experiment, list(arms), breadth).items():
            summary[arm]["breadth_policy"] = {"starts": breadth, "seed": 1, **kept}
    if solver_games:
        for arm, got in solver_table(experiment, list(arms), solver_games).items():
            summary[arm]["solver_first"] = {"games": solver_games // 2, "per_seed": got}
    base, _ = os.path.splitext(out)
    with open(f"{base}.json", "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
    print(f"{base}.json")
    ys = [y for b in bands_cpu.values() for _, lo, hi in b for y in (lo, hi)]
    lo, hi = 5 * int(min(ys) // 5), 5 * int(max(ys) // 5 + 1)
    for suffix, lines, bands, xlabel in (
            ("cpu", lines_cpu, bands_cpu, "self-play + training CPU minutes (mean over seeds)"),
            ("positions", lines_pos, bands_pos, "self-play positions (recorded)")):
        path = f"{base}_{suffix}.svg"
        plots.save(plots.line_figure(lines, "candidate raw-policy mistakes, all 6000 Pons "
                                     "positions (mean, band = seed range)", xlabel,
                                     "mistakes (%)", bands=bands, ylim=(lo, hi)), path)
        print(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--experiment", choices=list(EXPERIMENTS), required=True)
    r.add_argument("--iterations", type=int, default=10)
    r.add_argument("--seeds", type=int, default=3)
    r.add_argument("--only", nargs="*", help="arms to run (default: all)")
    p = sub.add_parser("report")
    p.add_argument("--experiment", choices=list(EXPERIMENTS), required=True)
    p.add_argument("--out", help="default docs/EXPERIMENT.svg")
    p.add_argument("--breadth", type=int, default=0, metavar="N",
                   help="also play each seed's last candidate (raw policy) from N won and N "
                        "drawn random-opening starts against the solver, seed 1 (solver extra)")
    p.add_argument("--solver", type=int, default=0, metavar="N",
                   help="also play each seed's last candidate (600 simulations) N games against "
                        "the solver from the empty board, colours alternating; reports the "
                        "games it moved first (solver extra)")
    a = ap.parse_args()
    arms = EXPERIMENTS[a.experiment]
    if a.cmd == "run":
        bad = set(a.only or []) - set(arms)
        if bad:
            sys.exit(f"unknown arms {sorted(bad)}; {a.experiment} has {', '.join(arms)}")
        run(a.experiment, a.only or list(arms), a.seeds, a.iterations)
    else:
        report(a.experiment, a.out or os.path.join(ROOT, "docs", f"{a.experiment}.svg"),
               a.breadth, a.solver)


if __name__ == "__main__":
    main()
