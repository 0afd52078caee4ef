"""Check the suite with small deliberate breaks: each mutant changes one line of the package,
runs the tests that should notice, and must make at least one of them fail.

    python scripts/mutants.py [--only WORD] [--all-tests]

Each mutant is applied to the working tree and always restored (run it on a clean tree, alone:
it rewrites package files while it runs). ``--all-tests`` runs the whole suite per mutant
instead of the mutant's own tests (slow). Prints one line per mutant, KILLED or SURVIVED, and
exits 1 if any survived.
"""

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: (file, original text, broken text, the tests that must notice)
MUTANTS = [
    ("alphazero/stages/selfplay.py", "games.mask[s], policy[j], root_value[j],",
     "games.mask[s], policy[j], -root_value[j],", ["tests/test_selfplay.py"]),
    ("alphazero/run/pipeline.py", "range(max(1, it - t.replay_iterations + 1), it + 1)",
     "range(max(1, it - t.replay_iterations), it + 1)", ["tests/test_train_data.py"]),
    ("alphazero/stages/selfplay.py", "values = np.where((n - 1 - np.arange(n)) % 2 == 0, 1.0, -1.0)",
     "values = np.where((n - np.arange(n)) % 2 == 0, 1.0, -1.0)", ["tests/test_selfplay.py"]),
    ("alphazero/replay/dataset.py", "(1 - q_weight) * z + q_weight * q",
     "q_weight * z + (1 - q_weight) * q", ["tests/test_train_data.py"]),
    ("alphazero/replay/dataset.py", "            pol[flip] = mirror_policy(pol[flip])\n", "",
     ["tests/test_train_data.py"]),
    ("alphazero/replay/dataset.py", "    if held.all():\n        held[:] = False\n", "",
     ["tests/test_train_data.py"]),
    ("alphazero/replay/dataset.py", "return ~np.isin(keys(held_out), keys(train))",
     "return np.ones(len(held_out), bool)", ["tests/test_train_data.py"]),
    ("alphazero/search/mcts.py", "np.where((d.leaf_depth[d.rows] - d.depth) % 2 == 0, 1.0, -1.0)",
     "np.where((d.leaf_depth[d.rows] - d.depth) % 2 == 1, 1.0, -1.0)",
     ["tests/test_mcts.py", "tests/test_kernels.py"]),
    ("alphazero/search/tree.py", "total = self.value[:, ROOT] + self.edge_w[:, ROOT].sum(axis=1)",
     "total = self.value[:, ROOT] - self.edge_w[:, ROOT].sum(axis=1)",
     ["tests/test_selfplay.py", "tests/test_mcts.py"]),
    ("alphazero/search/exploration.py", "** (1.0 / t[soft][:, None])", "** (t[soft][:, None])",
     ["tests/test_mcts.py", "tests/test_selfplay.py"]),
    ("alphazero/stages/selfplay.py", "temps = np.where(np.array(played) < sp.temperature_moves,",
     "temps = np.where(np.array(played) <= sp.temperature_moves,", ["tests/test_selfplay.py"]),
    ("alphazero/search/evaluators.py", "return coin ^ (mirror_keys < keys)", "return coin",
     ["tests/test_evaluators.py", "tests/test_selfplay.py"]),
    ("alphazero/run/pipeline.py",
     "    if overrides:\n        config.dump(loaded, paths.config)\n    return cfg",
     "    return cfg", ["tests/test_cli.py::test_smoke_pipeline_end_to_end"]),
    ("alphazero/run/pipeline.py", "    checkpoint.load(paths.best, \"cpu\", expect=cfg.net)\n"
     "    # Saved only", "    # Saved only",
     ["tests/test_reliability.py::test_bad_input_changes_nothing_on_disk"]),
    ("alphazero/stages/selfplay.py",
     "if noise is not None and sub_tree is not None and not mcts.reuse_noised_root:",
     "if False:", ["tests/test_reuse.py"]),
    ("alphazero/core/config.py", "            started = [it for it in steps if it <= iteration]",
     "            started = [it for it in steps if it < iteration]", ["tests/test_config.py"]),
    ("alphazero/stages/breadth.py", "tally.good += np.sign(scores[col]) == np.sign(best)",
     "tally.good += scores[col] == best", ["tests/test_solver.py"]),
    ("alphazero/search/roots.py",
     "return np.where((deficit > 0).any(axis=1), deficit.argmax(axis=1), act)", "return act",
     ["tests/test_mcts.py"]),
    ("alphazero/search/roots.py", "        kept[kept <= 1] = 0\n", "        kept = n.copy()\n",
     ["tests/test_mcts.py"]),
    ("alphazero/search/roots.py", "np.maximum(n - forced, floor)", "np.maximum(n - forced, 0)",
     ["tests/test_mcts.py"]),
    ("alphazero/search/roots.py", "total = tree.value[:, ROOT] + (self.kept * q).sum(axis=1)",
     "total = tree.value[:, ROOT] + (n * q).sum(axis=1)", ["tests/test_mcts.py"]),
    ("alphazero/stages/selfplay.py", "counts = policy if mcts.forced_playouts > 0 else visits",
     "counts = visits", ["tests/test_selfplay.py"]),
    ("alphazero/stages/selfplay.py", "return drawn_opening(rng, most, solver.is_draw)",
     "return random_opening(rng, most)", ["tests/test_selfplay.py"]),
    ("alphazero/stages/selfplay.py",
     "rng.random() >= sp.random_opening_share:", "rng.random() < sp.random_opening_share:",
     ["tests/test_selfplay.py"]),
    ("alphazero/replay/dataset.py",
     "follows = (game[1:] == game[:-1]) & (stones[1:] == stones[:-1] + 1)",
     "follows = game[1:] == game[:-1]", ["tests/test_reply.py"]),
    ("alphazero/replay/dataset.py",
     "follows = (game[1:] == game[:-1]) & (stones[1:] == stones[:-1] + 1)",
     "follows = stones[1:] == stones[:-1] + 1", ["tests/test_reply.py"]),
    ("alphazero/replay/dataset.py", "            rep[flip] = mirror_policy(rep[flip])\n", "",
     ["tests/test_reply.py"]),
    ("alphazero/stages/train.py", "per_row.sum() / (replies.sum(dim=-1) > 0).sum().clamp(min=1)",
     "per_row.mean()", ["tests/test_reply.py"]),
    ("alphazero/stages/train.py",
     "out[\"total\"] = out[\"total\"] + reply_weight * out[\"reply\"]", "pass",
     ["tests/test_reply.py"]),
    ("alphazero/nn/net.py", "reply = self.reply_head(h) if", "reply = self.policy_head(h) if",
     ["tests/test_reply.py"]),
    ("alphazero/core/config.py", "        out._check_reply(f\"schedule at iteration {iteration}: \")\n",
     "", ["tests/test_reply.py"]),
    ("alphazero/stages/selfplay.py", "apart = (selfplay_device is not None",
     "apart = False and (selfplay_device is not None",
     ["tests/test_selfplay.py"]),
    ("alphazero/stages/selfplay.py", "selfplay_device = (select_device(cfg.selfplay.device) if "
     "selfplay_here", "selfplay_device = (select_device(cfg.selfplay.device) if False",
     ["tests/test_selfplay.py"]),
    ("alphazero/core/config.py",
     'return "inference.selfplay_backend" if self.selfplay_backend else "inference.backend"',
     'return "inference.backend"', ["tests/test_cluster.py", "tests/test_selfplay.py"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="mutants whose file or text contains this")
    ap.add_argument("--all-tests", action="store_true")
    args = ap.parse_args()
    survived = 0
    for path, old, new, tests in MUTANTS:
        if args.only and args.only not in path + old:
            continue
        full = os.path.join(ROOT, path)
        with open(full, encoding="utf-8") as fh:
            src = fh.read()
        if src.count(old) != 1:
            sys.exit(f"{path}: the mutant's text is no longer there once: {old!r}")
        with open(full, "w", encoding="utf-8") as fh:
            fh.write(src.replace(old, new))
        try:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                                   "no:cacheprovider", *([] if args.all_tests else tests)],
                                  cwd=ROOT, capture_output=True, text=True)
        finally:
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(src)
        last = (proc.stdout.strip().splitlines() or ["?"])[-1]
        verdict = "KILLED" if proc.returncode else "SURVIVED"
        survived += not proc.returncode
        print(f"{verdict:8} {path}: {new.strip()[:60]!r} ({time.perf_counter() - t0:.0f}s: "
              f"{last})", flush=True)
    sys.exit(1 if survived else 0)


if __name__ == "__main__":
    main()
