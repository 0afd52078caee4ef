"""The real entry point in subprocesses: pipeline end to end, kill and resume, hostile input,
the seed's format, terminal play, and one-line errors."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from alphazero.nn.checkpoint import load
from alphazero.replay.shards import read_samples

ROOT = Path(__file__).resolve().parents[1]


def az(*args, input=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "alphazero", *map(str, args)], cwd=ROOT,
                          input=input, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_info_names_the_extras_and_the_backend_auto_picks():
    info = json.loads(az("info", "--json").stdout)
    assert {"extras", "backend", "device", "torch"} <= set(info)
    import importlib.util

    assert ("solver" in info["extras"]) == (importlib.util.find_spec("bitbully") is not None)
    assert info["backend"].split()[0] in ("eager", "folded", "openvino", "openvino-bf16",
                                          "fused", "graphs")


def test_smoke_pipeline_end_to_end(tmp_path):
    run = tmp_path / "run"
    proc = az("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "iter 2/2" in proc.stdout
    backend = "eager" if "eager" in proc.stdout else "openvino"
    assert "self-play on cpu (" in proc.stdout and "1 worker x 8 games in flight); training " \
        "on cpu; arena on cpu (" in proc.stdout and backend in proc.stdout
    assert "warning" not in proc.stdout
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]
    for r in rows:
        a = r["arena"]
        assert a["wins"] + a["draws"] + a["losses"] == 4
        assert r["selfplay"]["positions"] > 0 and r["train"]["total"] > 0
        cpu = r["cpu_seconds"]
        assert 0 < cpu["selfplay"] <= cpu["total"] and 0 < cpu["train"] <= cpu["total"]
        assert 0 <= r["candidate_policy_mistakes"] <= 1
    assert load(run / "best.pt").net_config.preset == "tiny"
    assert (run / "candidates" / "iter_0002.pt").exists()
    assert list((run / "tb").iterdir())
    from alphazero.report import plots

    if plots.available():  # the pictures, drawn by matplotlib, reach TensorBoard
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(run / "tb")).Reload()
        assert {"best/mistakes_curve", "best/empty_board_policy"} <= set(events.Tags()["images"])
    status = az("status", run)
    assert status.returncode == 0, status.stderr
    assert f"run {run}: 2 of 2 iterations done; net tiny (2x32), 8 simulations" in status.stdout
    assert "continue: raise pipeline.iterations" in status.stdout
    as_json = json.loads(az("status", run, "--json").stdout)
    assert as_json["done"] == 2 and [p["iteration"] for p in as_json["curve"]] == [1, 2]
    assert as_json["positions"] == sum(r["selfplay"]["positions"] for r in rows)
    assert as_json["promotions"] == sum(r["arena"]["promoted"] for r in rows)
    # Finished: resuming does nothing; raising the iteration count extends the run.
    again = az("pipeline", "--resume", run, "--quiet")
    assert again.returncode == 0 and "all 2 iterations are done" in again.stdout
    more = az("pipeline", "--resume", run, "--set", "pipeline.iterations=3", "--quiet")
    assert more.returncode == 0 and "iter 3/3" in more.stdout
    # The same command again resumes; a different config over an existing run is refused.
    same = az("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run, "--quiet",
              "--set", "pipeline.iterations=3")
    assert same.returncode == 0 and "resuming" in same.stdout
    assert_user_error(az("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run,
                         "--set", "mcts.num_simulations=9"), "another config", "--resume")


def test_pipeline_with_two_workers_counts_their_cpu(tmp_path):
    run = tmp_path / "run"
    proc = az("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run, "--quiet",
              "--set", "selfplay.workers=2")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        # The pool lives across iterations, so its CPU comes from the workers' own reports:
        # at least the CPU they spent playing, and the first iteration pays their imports.
        played = r["selfplay"]["positions"] / r["selfplay"]["positions_per_cpu_s"]
        assert r["cpu_seconds"]["selfplay"] >= played - 0.05 > 0  # rounded to 0.1 s
        assert r["selfplay"]["worker_rss_mb"] > 0
        assert 0 < r["selfplay"]["worker_core_use"] <= 1.05
    assert rows[0]["cpu_seconds"]["selfplay"] > rows[1]["cpu_seconds"]["selfplay"]


def test_pipeline_with_every_lever_switched_on(tmp_path):
    run = tmp_path / "run"
    proc = az("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run, "--quiet",
              "--set", "mcts.root_selection=gumbel", "--set", "selfplay.full_search_prob=0.5",
              "--set", "selfplay.fast_simulations=2", "--set", "train.value_q_weight=0.5",
              "--set", "pipeline.iterations=1")
    assert proc.returncode == 0, proc.stderr
    files = sorted((run / "data" / "iter_0001").glob("chunk_*.pkl"))
    shards = [read_samples(f) for f in files]
    moves = sum(sum(s.meta["game_moves"]) for s in shards)
    kept = sum(len(s) for s in shards)
    assert 0 < kept < moves  # fast-search moves are played, not recorded
    for s in shards:
        assert sum(s.meta["game_lengths"]) == len(s)
        assert np.all(np.abs(s.root_values) <= 1)
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["selfplay"]["positions"] == kept


def test_kill_during_selfplay_then_resume_keeps_finished_files(tmp_path):
    run = tmp_path / "run"
    slow = ["--set", "selfplay.games=48", "--set", "selfplay.chunk_games=2",
            "--set", "selfplay.parallel_games=2", "--set", "mcts.num_simulations=16",
            "--set", "pipeline.iterations=1"]
    cmd = [sys.executable, "-m", "alphazero", "pipeline", "--config", "configs/smoke.yaml",
           "--run-dir", str(run), "--quiet", *slow]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    data = run / "data" / "iter_0001"
    deadline = time.time() + 120
    while time.time() < deadline:
        if data.exists() and len(list(data.glob("chunk_*.pkl"))) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.read_bytes() for p in data.glob("chunk_*.pkl")}
    assert 3 <= len(kept) < 24, "killed in the middle of self-play"
    for name in kept:
        read_samples(data / name)  # every finished file is whole
    res = az("pipeline", "--resume", run, "--quiet")
    assert res.returncode == 0, res.stderr
    for name, payload in kept.items():
        assert (data / name).read_bytes() == payload  # kept, not regenerated
    files = sorted(data.glob("chunk_*.pkl"))
    assert len(files) == 24 and not list(data.glob("*.tmp")) and not list(data.glob(".*"))
    total = sum(len(read_samples(f)) for f in files)
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["selfplay"]["positions"] == total
    assert row["window_positions"] == total  # every finished file was used for training


def test_hostile_pickle_is_refused_by_train(tmp_path, tiny_ckpt):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    data = tmp_path / "data"
    data.mkdir()
    (data / "evil.pkl").write_bytes(pickle.dumps([Evil()]))
    proc = az("train", "--data", data, "--checkpoint", tiny_ckpt, "--out", tmp_path / "o.pt")
    assert_user_error(proc, "evil.pkl", "refused")
    assert not marker.exists() and not (tmp_path / "o.pt").exists()


def test_seed_format_dataset_trains(tmp_path, tiny_ckpt):
    from .test_train_data import games, to_seed_format

    data = tmp_path / "datasets" / "iter_0"
    data.mkdir(parents=True)
    for i, rec in enumerate(games(6, seed=9)):
        (data / f"dataset_iter0_cpu0_{i}_2020-01-01").write_bytes(
            pickle.dumps(to_seed_format(rec)))
    out = tmp_path / "trained.pt"
    proc = az("train", "--data", data, "--checkpoint", tiny_ckpt, "--out", out, "--quiet",
              "--set", "train.batch_size=32")
    assert proc.returncode == 0, proc.stderr
    ck = load(out)
    assert ck.iteration == 1 and ck.optimizer is not None and ck.meta["train"]["total"] > 0


def test_play_through_stdin(tiny_ckpt):
    junk = "garbage\n0\n8\n\n"
    moves = "".join(f"{c}\n" for c in "1234567" for _ in range(7))
    proc = az("play", "--checkpoint", tiny_ckpt, "--sims", "4", input=junk + moves)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "'garbage' is not a column" in out and "'0' is not a column" in out
    assert "'8' is not a column" in out and "an empty line is not a column" in out
    assert "AI plays" in out and "visits" in out
    assert any(end in out for end in ("You win!", "The AI wins.", "Draw"))


def test_play_leaves_cleanly_on_eof(tiny_ckpt):
    proc = az("play", "--checkpoint", tiny_ckpt, "--sims", "2", input="4\n")
    assert proc.returncode == 0 and "Bye." in proc.stdout and "Traceback" not in proc.stderr


def test_user_errors_are_one_line(tmp_path, tiny_ckpt):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("mcts: {num_simulations: 5\n  oops")
    assert_user_error(az("pipeline", "--config", bad_yaml, "--run-dir", tmp_path / "r"),
                      "not valid YAML")
    assert not (tmp_path / "r").exists()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("mcts: {simulations: 5}\n")
    assert_user_error(az("pipeline", "--config", unknown), "unknown config key 'mcts.simulations'")
    assert_user_error(az("self-play", "--out", tmp_path / "d", "--set", "mcts.bogus=1"),
                      "mcts.bogus")
    assert_user_error(az("self-play", "--out", tmp_path / "d", "--sims", "-4"),
                      "mcts.num_simulations")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(tiny_ckpt.read_bytes()[:1000])
    assert_user_error(az("evaluate", "--player", trunc, "--opponent", "random", "--games", "2"),
                      "truncated or corrupted")
    assert_user_error(az("train", "--data", tmp_path / "nope", "--out", tmp_path / "x.pt"),
                      "not found")
    assert_user_error(az("evaluate", "--player", "alphabeta:zz", "--opponent", "random"),
                      "unknown opponent")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("args,words", [
    (("play", "--sims", "-3"), ("--sims -3", "0 (the raw policy")),
    (("evaluate", "--player", "random", "--opponent", "greedy", "--sims", "-3"), ("--sims -3",)),
    (("evaluate", "--player", "random", "--opponent", "greedy", "--games", "0"), ("--games 0",)),
    (("evaluate", "--player", "random", "--opponent", "greedy", "--games", "-4"), ("--games -4",)),
    (("evaluate", "--player", "random", "--opponent", "greedy", "--games", "3"),
     ("--games 3: use an even number",)),
    (("evaluate", "--player", "random", "--opponent", "greedy", "--openings", "-1"),
     ("--openings -1 (arena.opening_plies): must be in 0..8",)),
    (("evaluate", "--player", "random", "--positions", "--limit", "-5"), ("--limit -5",)),
    (("evaluate", "--player", "random", "--opponent", "gredy"),
     ("unknown opponent 'gredy'", "did you mean 'greedy'", "alphabeta:K")),
    (("evaluate", "--player", "random", "--opponent", "missing/net.pt"),
     ("checkpoint 'missing/net.pt' not found",)),
    (("pipeline", "--config", "configs/smoke.yaml", "--set", "mcts.num_simulation=3"),
     ("did you mean 'mcts.num_simulations'",)),
])
def test_out_of_range_numbers_are_one_line_errors(args, words):
    assert_user_error(az(*args), *words)


def test_a_text_file_given_as_a_checkpoint_says_so(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not a net\n")
    assert_user_error(az("evaluate", "--player", text, "--opponent", "random"),
                      "is not a checkpoint file")


def test_seed_importer_names_its_rule_for_a_pooled_list(tmp_path):
    from .test_train_data import games, to_seed_format

    pooled = [e for rec in games(3, seed=1) for e in to_seed_format(rec)]
    data = tmp_path / "pooled"
    data.mkdir()
    (data / "all_games").write_bytes(pickle.dumps(pooled))
    assert_user_error(az("train", "--data", data, "--out", tmp_path / "o.pt"),
                      "one file per game")


def test_zero_simulations_means_the_raw_policy(tiny_ckpt):
    proc = az("evaluate", "--checkpoint", tiny_ckpt, "--positions", "--sims", "0", "--limit", "30",
              "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "policy_sets" in report and "mcts_sets" not in report
    proc = az("play", "--checkpoint", tiny_ckpt, "--sims", "0", input="4\n")
    assert proc.returncode == 0 and "AI plays" in proc.stdout, proc.stderr


def test_evaluate_positions_json(tiny_ckpt):
    proc = az("evaluate", "--checkpoint", tiny_ckpt, "--positions", "--sims", "8",
              "--limit", "60", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["sims"] == 8 and report["checkpoint"] == str(tiny_ckpt)
    assert set(report["mcts_sets"]) == {"Test_L1_R1", "Test_L1_R2", "Test_L1_R3", "Test_L2_R1",
                                   "Test_L2_R2", "Test_L3_R1"}
    for s in report["mcts_sets"].values():
        assert 0 <= s["ci95"][0] <= s["mistake_rate"] <= s["ci95"][1] <= 1 and s["n"] == 10
    assert np.isclose(sum(s["n"] for s in report["policy_sets"].values()), 60)


def test_play_reprompts_on_a_full_column_and_on_ctrl_c():
    import io

    from alphazero.apps.play import play_game
    from alphazero.core.config import MCTSConfig

    def column7(boards):
        """An AI that always wants column 7 (masked out once it is full)."""
        n = len(boards)
        p = np.zeros((n, 7), np.float32)
        p[:, 6] = 1.0
        return p, np.zeros(n, np.float32)

    answers = iter(["7", "7", "7", "7", "1"])

    def ask(prompt):
        try:
            return next(answers)
        except StopIteration:
            raise KeyboardInterrupt from None

    out = io.StringIO()
    # Human and AI fill column 7 (X O X O X O: no four), the human's fourth 7 is refused;
    # then Ctrl-C: not a quiet exit (the command ends with status 130), the moves are shown.
    with pytest.raises(KeyboardInterrupt):
        play_game(column7, 1, MCTSConfig(), human_first=True, ask=ask, out=out)
    text = out.getvalue()
    assert text.count("AI plays 7") == 3 and "Column 7 is full: pick another." in text
    assert text.rstrip().endswith("Moves so far: 77777711")  # then 1 and the reply


def _scripted(answers):
    answers = iter(answers)
    return lambda prompt: next(answers)


def _column7(boards):
    n = len(boards)
    p = np.zeros((n, 7), np.float32)
    p[:, 6] = 1.0
    return p, np.zeros(n, np.float32)


def test_play_from_a_position_with_undo():
    import io

    from alphazero.apps.play import play_game
    from alphazero.core.config import MCTSConfig

    out = io.StringIO()
    ask = _scripted(["u", "1", "u", "2", "q"])
    assert play_game(_column7, 0, MCTSConfig(), human_first=True, ask=ask, out=out,
                     start="44") is None
    text = out.getvalue()
    assert "You are X, the AI is O. You move first after 44." in text
    assert "Nothing to undo yet." in text and "Taken back: moves 44." in text
    assert "Moves so far: 4427" in text  # 1 and its reply taken back; then 2, the AI's 7


def test_play_again_asks_until_it_understands():
    import io

    from alphazero.apps.play import play_session
    from alphazero.core.config import MCTSConfig

    out = io.StringIO()
    # The human (X) plays 1 four times while the AI plays 7: a win; then "4" is no answer.
    ask = _scripted(["1", "1", "1", "1", "4", "n"])
    play_session(_column7, 0, MCTSConfig(), "header", human_first=True, ask=ask, out=out)
    text = out.getvalue()
    assert "You win!" in text and "'4' is not an answer: type y or n" in text
    assert text.rstrip().endswith("Bye.")
    out = io.StringIO()  # asked who moves first when --first is not given
    ask = _scripted(["n", "q"])
    play_session(_column7, 0, MCTSConfig(), "header", human_first=None, ask=ask, out=out)
    assert "The AI moves first." in out.getvalue() and "AI plays 7" in out.getvalue()


def _play_in_a_terminal(tiny_ckpt, reply: bytes) -> tuple[str, int]:
    """``play`` driven through a pseudo-terminal, as a person sees it: ``reply`` typed at the
    first "Your move". Returns what the terminal showed and the exit status."""
    import os
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command on the terminal
        os.chdir(ROOT)
        # A suite started in the background (``cmd &`` in a script) ignores SIGINT, and an
        # ignored signal stays ignored across exec: give the child a terminal's default.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execv(sys.executable, [sys.executable, "-m", "alphazero", "play", "--checkpoint",
                                  str(tiny_ckpt), "--sims", "8", "--first", "ai"])
    # Generous: on a loaded machine the child's imports alone can take minutes; a child that
    # ends closes the terminal and the loop stops at once.
    seen, deadline = b"", time.time() + 600
    sent = False
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if b"Your move" in seen and not sent:
            os.write(fd, reply)
            sent = True
    try:
        for _ in range(300):  # a child that does not end is a failure, never a hung suite
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return seen.decode(errors="replace"), os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    finally:
        os.close(fd)
    raise AssertionError(f"play did not end; the terminal showed:\n{seen.decode(errors='replace')}")


def test_play_in_a_terminal_shows_its_header_and_that_it_thinks(tiny_ckpt):
    text, code = _play_in_a_terminal(tiny_ckpt, b"q\n")
    assert code == 0
    assert "Connect Four against" in text and "tiny.pt" in text and "8 simulations" in text
    assert "AI is thinking..." in text and "AI plays" in text and "Bye." in text
    assert "on 1 thread, tree step " in text
    lines = [ln for ln in text.replace("\r", "\n").splitlines() if "checkpoint:" not in ln]
    assert max(len(ln) for ln in lines) < 80


def test_ctrl_c_in_play_is_an_interrupt_not_a_normal_exit(tiny_ckpt):
    text, code = _play_in_a_terminal(tiny_ckpt, b"\x03")
    assert code == 130 and "interrupted" in text and "Moves so far:" in text
    assert "Traceback" not in text


def test_analyse_shows_net_search_and_solver(tiny_ckpt):
    proc = az("analyse", "4453", "--checkpoint", tiny_ckpt, "--sims", "16")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "After 4453: X to move, ply 4." in out and "net policy %" in out and "search %" in out
    assert max(len(line) for line in out.splitlines()) < 80
    proc = az("analyse", "4453", "--checkpoint", tiny_ckpt, "--sims", "16", "--json")
    report = json.loads(proc.stdout)
    assert abs(sum(report["policy"]) - 1) < 1e-4 and report["search"]["best"] in range(1, 8)
    from alphazero.rules import solver

    if solver.available():  # ground truth for this position: Pons' solver scores
        assert report["solver"] == [-5, -5, -2, -3, -4, -2, -2]
    assert_user_error(az("analyse", "4444444", "--checkpoint", tiny_ckpt), "column 4 is full")
    assert_user_error(az("analyse", "44x", "--checkpoint", tiny_ckpt), "columns 1-7")


def test_show_replays_a_recorded_game(tmp_path, tiny_ckpt):
    out = tmp_path / "d"
    proc = az("self-play", "--checkpoint", tiny_ckpt, "--games", "4", "--sims", "4", "--out", out,
              "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "tree step" in proc.stdout and "of it in the network" in proc.stdout
    proc = az("show", out, "--game", "1")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    first = read_samples(sorted(out.glob("*.pkl"))[0])
    n = first.meta["game_lengths"][1]
    assert f"Game 1 of chunk_00000.pkl: {n} recorded positions." in text
    assert text.count("target %") == n and "position 1, ply 0, X to move:" in text
    assert_user_error(az("show", out, "--game", "99"), "game 99 does not exist")


def test_a_scheduled_pipeline_runs_each_iteration_with_its_settings(tmp_path):
    run = tmp_path / "run"
    proc = az("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run, "--quiet",
              "--set", "schedule.mcts.num_simulations={2: 4}",
              "--set", "schedule.selfplay.games={2: 4}",
              "--set", "pipeline.eval_games=0", "--set", "pipeline.breadth_starts=2",
              "--set", "pipeline.breadth_every=2")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["scheduled"] for r in rows] == [
        {"mcts.num_simulations": 8, "selfplay.games": 8},
        {"mcts.num_simulations": 4, "selfplay.games": 4}]
    # The breadth measure on its turn (every 2nd iteration), with the solver extra.
    from alphazero.rules import solver

    assert rows[0]["breadth"] is None
    if solver.available():
        assert {k: v["games"] for k, v in rows[1]["breadth"].items()} == {"won": 2, "drawn": 2}
    for it, sims, games in ((1, 8, 8), (2, 4, 4)):
        shards = [read_samples(p) for p in sorted((run / "data" / f"iter_{it:04d}").iterdir())]
        assert {s.meta["sims"] for s in shards} == {sims}
        assert sum(s.meta["games"] for s in shards) == games


def test_os_errors_name_the_users_path_and_the_real_cause(tmp_path):
    # A reader that has gone (`alphazero show FILE | head -1`): stop quietly, exit 0.
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([sys.executable, "-m", "alphazero", "config"], cwd=ROOT, stdout=w,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(w)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (tmp_path / "folder.pt").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = [
        (["pipeline", "--config", tmp_path], "is a folder; name a file"),
        (["self-play", "--config", "configs/smoke.yaml", "--games", "2", "--out",
          tmp_path / "afile"], "already exists and is not a folder"),
        (["self-play", "--config", "configs/smoke.yaml", "--games", "2", "--out",
          tmp_path / "afile" / "sub"], "is a file, not a folder"),
        # The atomic writer's hidden temp file is not named: the path the user gave is.
        (["export", "--out", tmp_path / "folder.pt" / ".." / "x.onnx" / "y.onnx"], "x.onnx"),
    ]
    for args, words in cases:
        proc = az(*args)
        assert_user_error(proc, words)
        assert ".tmp" not in proc.stderr and "disk space" not in proc.stderr, proc.stderr


def test_the_fix_a_missing_gpu_suggests_works(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is here")
    run = tmp_path / "run"
    args = ["pipeline", "--config", "configs/smoke.yaml", "--run-dir", run, "--quiet",
            "--set", "selfplay.device=cuda", "--set", "train.device=cuda"]
    proc = az(*args)
    assert_user_error(proc, "CUDA is not available", "--set selfplay.device=auto")
    assert not run.exists()
    fix = proc.stderr.split("use auto or cpu: ")[1].split(" for a config")[0].split()
    assert az(*args, *fix).returncode == 0


def test_show_says_what_a_file_is_when_it_is_no_dataset(tmp_path):
    (tmp_path / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    for path, words in ((ROOT / "checkpoints" / "best.pt", "zip archive"),
                        (ROOT / "README.md", "it is text"),
                        (ROOT / "docs" / "serve.png", "a picture"),
                        (tmp_path, "no dataset files")):  # an SVG is never taken for data
        proc = az("show", path)
        assert_user_error(proc, words)
        assert "corrupted" not in proc.stderr and "delete" not in proc.stderr


def test_a_folder_for_a_checkpoint_and_a_file_for_data_are_named_as_such(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes(b"")
    assert_user_error(az("analyse", "4", "--checkpoint", run), "is a folder", "best.pt")
    data = tmp_path / "chunk_00000.pkl"
    data.write_bytes(b"\x80")
    assert_user_error(az("train", "--data", data, "--out", tmp_path / "x.pt"),
                      "is a file", "pass its folder")


def test_self_play_into_a_folder_with_games_says_what_it_does(tmp_path):
    out = tmp_path / "d"
    args = ["self-play", "--config", "configs/smoke.yaml", "--games", "4", "--out", out,
            "--quiet"]
    assert az(*args).returncode == 0
    (out / "chunk_00001.pkl").unlink()
    again = az(*args)
    assert again.returncode == 0 and "holds 1 of the 2 chunks" in again.stdout
    assert "playing the 1 missing" in again.stdout and "2 games" in again.stdout
    done = az(*args)
    assert "nothing left to play" in done.stdout
    assert_user_error(az(*args, "--checkpoint", "checkpoints/best.pt"), "another job",
                      "checkpoint")
    assert_user_error(az(*args, "--seed", "5"), "another job", "seed")
