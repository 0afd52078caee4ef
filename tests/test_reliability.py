"""Reliability drills: crash anywhere and resume, full or read-only disks, bounded memory,
reproducible self-play, and bad input that changes nothing on disk."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from alphazero.core.config import MCTSConfig, NetConfig, SelfPlayConfig
from alphazero.core.config import load as load_config
from alphazero.nn.checkpoint import load, save
from alphazero.nn.net import build_net
from alphazero.replay.dataset import list_data_files
from alphazero.replay.shards import read_samples
from alphazero.report.reporter import Reporter
from alphazero.stages.workers import rss_mb, run_pool

ROOT = Path(__file__).resolve().parents[1]
ITERS = 5
SMOKE = ["--config", "configs/smoke.yaml", "--set", f"pipeline.iterations={ITERS}", "--quiet"]


def pipeline(run, env_extra=None, wait=True, iterations=None):
    """The smoke pipeline in ``run``: created by the first call, resumed by later ones; with
    ``iterations`` the run is extended to that many (so a drill always has work left)."""
    env = {**os.environ, **(env_extra or {})}
    cmd = [sys.executable, "-m", "alphazero", "pipeline", "--run-dir", str(run), *SMOKE]
    if iterations is not None:
        start = (["--resume", str(run)] if (run / "config.yaml").exists()
                 else ["--config", "configs/smoke.yaml", "--run-dir", str(run)])
        cmd = [sys.executable, "-m", "alphazero", "pipeline", *start, "--quiet",
               "--set", f"pipeline.iterations={iterations}"]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def snapshot(run: Path) -> dict:
    """Finished dataset files (name -> bytes) and finished iterations."""
    files = {str(p.relative_to(run)): p.read_bytes() for p in run.glob("data/iter_*/chunk_*.pkl")}
    rows = []
    if (run / "metrics.jsonl").exists():
        for line in (run / "metrics.jsonl").read_text().splitlines():
            try:
                rows.append(json.loads(line)["iteration"])
            except (json.JSONDecodeError, KeyError):
                pass
    return {"files": files, "iterations": rows}


def check_consistent(run: Path) -> None:
    """Whatever a reader may pick up is whole: every data file and checkpoint loads."""
    for d in run.glob("data/iter_*"):
        for f in list_data_files([str(d)]):
            assert f.endswith(".pkl"), f"a temp file would be read as data: {f}"
            read_samples(f)
    if (run / "config.yaml").exists():
        load(run / "best.pt")  # the best net is always a complete file
    for c in run.glob("candidates/*.pt"):
        load(c)


@pytest.mark.slow
def test_kill_anywhere_and_resume(tmp_path):
    """SIGKILL the smoke pipeline at every dangerous moment (fault points: a temp file written
    but not moved into place, mid-training, a checkpoint half-written, mid-arena, between the
    arena verdict and the promotion, before the metrics line) and at random times; resume
    each time with the same command. Nothing finished is ever lost, rewritten or half-read."""
    run = tmp_path / "run"
    events = ["checkpoint_replace:1", "write:2", "random", "replace:3", "train_step:2",
              "checkpoint_write:2", "random", "checkpoint_replace:2", "arena_game:3",
              "promote:1", "random", "metrics:1", "replace:2", "train_step:3", "arena_game:1",
              "promote:1"]
    rng = random.Random(0)
    killed = 0
    before = {"files": {}, "iterations": []}
    target = 2
    for event in events:
        # Always leave two iterations to do, so every fault point is reached however fast
        # the machine is.
        target = max(before["iterations"], default=0) + 2
        if event == "random":
            proc = pipeline(run, wait=False, iterations=target)
            time.sleep(rng.uniform(1.0, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        else:
            proc = pipeline(run, {"ALPHAZERO_FAULT": event}, iterations=target)
            assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
        killed += proc.returncode == -signal.SIGKILL
        check_consistent(run)
        after = snapshot(run)
        # Nothing finished before the kill is lost or rewritten.
        for name, payload in before["files"].items():
            assert after["files"].get(name) == payload, (event, name)
        assert set(before["iterations"]) <= set(after["iterations"]), event
        before = after
    assert killed >= 10, killed
    final = pipeline(run, iterations=target)
    assert final.returncode == 0, final.stderr
    check_consistent(run)
    done = snapshot(run)
    assert sorted(set(done["iterations"])) == list(range(1, target + 1))
    for name, payload in before["files"].items():
        assert done["files"].get(name) == payload, name
    assert len(done["files"]) == target * 4  # 8 games in chunks of 2, every iteration
    assert not list(run.rglob("*.tmp"))
    best = load(run / "best.pt")
    evals = [json.loads((run / "evals" / f"iter_{i:04d}.json").read_text())
             for i in range(1, target + 1)]
    promoted = [e["iteration"] for e in evals if e["promoted"]]
    assert best.iteration == (promoted[-1] if promoted else 0)


def test_disk_full_gives_one_line_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    proc = pipeline(run, {"ALPHAZERO_FAULT": "write:3:enospc"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0]
    assert "run the same command again" in lines[0]
    proc = pipeline(run, {"ALPHAZERO_FAULT": "checkpoint_write:2:erofs"})
    assert proc.returncode == 2 and "Read-only file system" in proc.stderr
    final = pipeline(run)
    assert final.returncode == 0, final.stderr
    assert sorted(snapshot(run)["iterations"]) == list(range(1, ITERS + 1))


def _can_mount() -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path("/tmp") / f"az-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], capture_output=True)
    probe.rmdir()
    return ok


@pytest.mark.skipif(not _can_mount(), reason="needs root and permission to mount a tmpfs")
def test_real_full_and_read_only_file_systems(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], check=True)
    try:
        run = mnt / "run"
        proc = pipeline(run)  # the tiny disk fills up during the run
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "No space" in proc.stderr
        check_consistent(run)
        subprocess.run(["mount", "-o", "remount,size=50m", str(mnt)], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        proc = pipeline(run)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Read-only" in proc.stderr
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        final = pipeline(run)
        assert final.returncode == 0, final.stderr
        assert sorted(snapshot(run)["iterations"]) == list(range(1, ITERS + 1))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_is_bounded_across_iterations(tmp_path):
    from alphazero.run.pipeline import create_run, run

    cfg = load_config("configs/smoke.yaml", ["pipeline.iterations=6", "selfplay.games=16",
                                             "train.replay_iterations=2", "selfplay.workers=2"])
    create_run(str(tmp_path / "run"), cfg)
    rss = []
    rows = run(str(tmp_path / "run"), console=Reporter(
        log=lambda line: rss.append(rss_mb()) if line.startswith("iter ") else None))
    after = rss  # after[i] = after iteration i + 1
    assert len(after) == 6
    print("RSS MB after each iteration:", [round(x, 1) for x in after])
    assert after[4] <= 1.10 * after[1], after
    # The self-play workers live across iterations: they must not grow either.
    workers = [r["selfplay"]["worker_rss_mb"] for r in rows]
    print("largest worker's RSS MB after each iteration:", workers)
    assert workers[4] <= 1.10 * workers[1], workers


def test_selfplay_is_reproducible_and_workers_differ(tmp_path):
    torch.manual_seed(0)
    ck = tmp_path / "tiny.pt"
    save(ck, build_net(NetConfig(preset="tiny")))
    sp = SelfPlayConfig(games=6, parallel_games=3, chunk_games=3, seed=11)
    mc = MCTSConfig(num_simulations=12)
    for name in ("a", "b"):
        run_pool(str(ck), NetConfig(preset="tiny"), mc, sp, str(tmp_path / name))
    for chunk in ("chunk_00000.pkl", "chunk_00001.pkl"):
        a, b = read_samples(tmp_path / "a" / chunk), read_samples(tmp_path / "b" / chunk)
        assert np.array_equal(a.states, b.states) and np.array_equal(a.policies, b.policies)
        assert np.array_equal(a.outcomes, b.outcomes)
    other = SelfPlayConfig(games=6, parallel_games=3, chunk_games=3, seed=12)
    run_pool(str(ck), NetConfig(preset="tiny"), mc, other, str(tmp_path / "c"))
    assert not np.array_equal(read_samples(tmp_path / "c" / "chunk_00000.pkl").states[:10],
                              read_samples(tmp_path / "a" / "chunk_00000.pkl").states[:10])


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in path.rglob("*") if p.is_file()}


def test_bad_input_changes_nothing_on_disk(tmp_path):
    run = tmp_path / "run"
    assert pipeline(run).returncode == 0
    state = _tree(run)
    az = [sys.executable, "-m", "alphazero"]
    tiny = tmp_path / "tiny.pt"
    save(tiny, build_net(NetConfig(preset="tiny")))
    small_run_cfg = (run / "config.yaml").read_text().replace("preset: tiny", "preset: small")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(run / "best.pt", other / "best.pt")
    (other / "config.yaml").write_text(small_run_cfg.replace("blocks: 2", "blocks: 5")
                                       .replace("channels: 32", "channels: 64"))
    other_state = _tree(other)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("selfplay: [")
    cases = [
        (["pipeline", "--resume", str(run), "--set", "mcts.nope=1"], "mcts.nope"),
        (["pipeline", "--resume", str(run), "--set", "mcts.num_simulations=-1"],
         "mcts.num_simulations"),
        (["pipeline", "--resume", str(run), "--set", "selfplay.games=0"], "selfplay.games"),
        (["pipeline", "--resume", str(run), "--set", "mcts.c_puct=abc"], "expected float"),
        # Valid as a config, wrong for the run's nets: refused before config.yaml changes.
        (["pipeline", "--resume", str(run), "--set", "net.channels=64"],
         "(channels 32 -> 64); match the checkpoint with --set net.preset=tiny"),
        (["pipeline", "--config", str(bad_yaml), "--run-dir", str(run)], "not valid YAML"),
        (["pipeline", "--config", "configs/smoke.yaml", "--set", "net.preset=tiny", "--set",
          "net.channels=16", "--run-dir", str(tmp_path / "shrunk"), "--init-from", str(tiny)],
         "channels 32 -> 16 would shrink; keep the checkpoint's with --set net.channels=32"),
        (["pipeline", "--config", str(tmp_path / "missing.yaml")], "not found"),
        (["pipeline", "--resume", str(other)], "2x32"),
        (["train", "--data", str(tmp_path / "nodata"), "--out", str(run / "x.pt")], "not found"),
        (["train", "--data", str(run / "best.pt"), "--out", str(run / "x.pt")], "is a file"),
        (["self-play", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(run / "d")],
         "not found"),
    ]
    for args, word in cases:
        proc = subprocess.run(az + args, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and word in lines[0], (args, proc.stderr)
        assert _tree(run) == state, args
    assert _tree(other) == other_state
    assert not (tmp_path / "shrunk").exists()
    # Nothing was bricked: a harmless override after the rejected ones resumes the run.
    proc = subprocess.run(az + ["pipeline", "--resume", str(run), "--set",
                                "pipeline.iterations=2", "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_a_run_warm_starts_from_a_checkpoint_and_continues_its_optimizer(tmp_path):
    from alphazero.run.pipeline import create_run, run
    from alphazero.stages.train import Trainer

    cfg = load_config("configs/smoke.yaml", ["pipeline.iterations=1", "pipeline.eval_games=0",
                                              "arena.gating=false"])
    torch.manual_seed(3)
    net = build_net(NetConfig(preset="tiny"))
    trainer = Trainer(net, cfg.train, torch.device("cpu"), global_step=57)
    ck = tmp_path / "warm.pt"
    save(ck, net, iteration=9, optimizer=trainer.opt, meta={"global_step": 57})
    create_run(str(tmp_path / "run"), cfg, init_from=str(ck))
    best = load(tmp_path / "run" / "best.pt")
    for a, b in zip(best.net.state_dict().values(), net.state_dict().values()):
        assert torch.equal(a, b)
    run(str(tmp_path / "run"))
    cand = load(tmp_path / "run" / "candidates" / "iter_0001.pt")
    assert cand.meta["global_step"] == 57 + cand.meta["steps"]  # the optimizer went on
    promoted = load(tmp_path / "run" / "best.pt")
    assert promoted.iteration == 1 and promoted.optimizer is not None  # it can seed a new run
