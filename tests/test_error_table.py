"""docs/operating.md's error table matches the code: every message in its first column is
either triggered here, through the real command line, and found in the one line the command
prints (exit status 2), or named below with the test that triggers it elsewhere. A row added
to the table without either fails this test."""

import errno
import pickle
import re
from pathlib import Path

import pytest
import torch

from alphazero.core.config import load
from alphazero.run import cli
from alphazero.run.pipeline import create_run

ROOT = Path(__file__).resolve().parents[1]


def table_messages() -> list[str]:
    text = (ROOT / "docs" / "operating.md").read_text()
    section = text[text.index("## What each error means"):]
    section = section[:section.index("\n## ", 5)]
    return [m for line in section.splitlines() if line.startswith("| ")
            for m in re.findall(r"`([^`]+)`", line.split(" | ")[0])]


def pattern(message: str) -> str:
    """The table's message as a regex: '...' is any text, PATH, DIR, N, C, L, X and a.b are
    placeholders."""
    rx = re.escape(message).replace(r"\.\.\.", ".*?")
    rx = rx.replace(r"a\.b", r"[\w.]+")
    return re.sub(r"\b(PATH|DIR|N|C|L|X)\b", ".+?", rx)


class Reverses:
    """A pickle that would run code when loaded."""

    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_ckpt):
    """The files the triggers need."""
    t = tmp_path_factory.mktemp("errors")
    (t / "bad.yaml").write_text("mcts: {num_simulations: 5\n  oops")
    (t / "notes.pt").write_text("not a net\n")
    (t / "trunc.pt").write_bytes(tiny_ckpt.read_bytes()[:1000])
    for name, payload in (("evil", pickle.dumps(Reverses())), ("torn", b"\x80\x04garbage")):
        (t / name).mkdir()
        (t / name / "chunk_00000.pkl").write_bytes(payload)
    (t / "empty").mkdir()
    (t / "folder_out").mkdir()
    cfg = load("configs/smoke.yaml")
    create_run(str(t / "run"), cfg, notice=lambda _: None)
    from .test_train_data import games, to_seed_format

    (t / "pooled").mkdir()
    pooled = [e for rec in games(3, seed=1) for e in to_seed_format(rec)]
    (t / "pooled" / "all_games").write_bytes(pickle.dumps(pooled))
    small = t / "small.pt"
    from alphazero.core.config import NetConfig
    from alphazero.nn.checkpoint import save
    from alphazero.nn.net import build_net

    save(small, build_net(NetConfig(preset="small")))
    return t, tiny_ckpt, small


def triggers(t: Path, tiny: Path, small: Path) -> dict[str, list]:
    """Table message -> the command line that makes it."""
    ev = ["evaluate", "--player", "random", "--opponent", "greedy"]
    smoke = ["pipeline", "--config", "configs/smoke.yaml", "--run-dir", str(t / "new")]
    return {
        "config file ... is not valid YAML at line L, column C":
            ["pipeline", "--config", str(t / "bad.yaml")],
        "unknown config key 'a.b'; known keys here: ...": smoke + ["--set", "mcts.nope=1"],
        "a.b: expected int, got ...": smoke + ["--set", "selfplay.workers=1.5"],
        "a.b: N is out of range": smoke + ["--set", "selfplay.games=0"],
        "config file ... not found": ["pipeline", "--config", str(t / "missing.yaml")],
        "data folder ... not found": ["train", "--data", str(t / "nodata"), "--out",
                                      str(t / "x.pt")],
        "checkpoint ... not found": ["evaluate", "--player", str(t / "none.pt"), "--opponent",
                                     "random"],
        "run folder ... already holds a run with another config":
            ["pipeline", "--config", "configs/smoke.yaml", "--run-dir", str(t / "run"),
             "--set", "mcts.num_simulations=9"],
        "... is not a run folder (no config.yaml)": ["pipeline", "--resume", str(t / "empty")],
        "checkpoint ... is truncated or corrupted":
            ["evaluate", "--player", str(t / "trunc.pt"), "--opponent", "random"],
        "checkpoint ... holds a tiny (2x32) net but the config asks for small (5x64) (blocks "
        "2 -> 5, ...); match the checkpoint with --set net.preset=tiny":
            ["pipeline", "--resume", str(t / "run"), "--set", "net.preset=small"],
        "--init-from ...: a small (5x64) net cannot grow into paper (19x128): value_hidden 64 "
        "-> 32 would shrink; keep the checkpoint's with --set net.value_hidden=64":
            ["pipeline", "--config", "configs/smoke.yaml", "--set", "net.preset=paper",
             "--set", "train.device=cpu", "--run-dir", str(t / "grown"), "--init-from",
             str(small)],
        "dataset file ... was refused: it asks to run code":
            ["train", "--data", str(t / "evil"), "--out", str(t / "x.pt")],
        "dataset file ... is truncated or corrupted":
            ["train", "--data", str(t / "torn"), "--out", str(t / "x.pt")],
        "PATH is not a dataset file: it is a zip archive / text / a picture":
            ["show", str(tiny)],
        "PATH is a folder; name a file": ["pipeline", "--config", str(t / "folder_out")],
        "PATH already exists and is not a folder":
            ["self-play", "--config", "configs/smoke.yaml", "--out", str(t / "notes.pt")],
        "a part of PATH is a file, not a folder":
            ["self-play", "--config", "configs/smoke.yaml", "--out", str(t / "notes.pt" / "d")],
        "... is not a checkpoint file (not a torch archive)":
            ["evaluate", "--player", str(t / "notes.pt"), "--opponent", "random"],
        "unknown opponent 'X': did you mean 'greedy'? ...": ev[:3] + ["--opponent", "gredy"],
        "--sims -3: use 0 (the raw policy, no search) or more": ["play", "--sims", "-3"],
        "--games 0: use at least 1": ev + ["--games", "0"],
        "--games 3: use an even number": ev + ["--games", "3"],
        "--openings -1 (arena.opening_plies): must be in 0..8": ev + ["--openings", "-1"],
        "seed dataset ...: entries disagree about the game's result; a seed file holds one "
        "game, ...": ["train", "--data", str(t / "pooled"), "--out", str(t / "o.pt")],
    }


#: OS errors a test cannot always cause (as root, on a disk with room): their messages from
#: the classifier itself (the drills of tests/test_reliability.py cause the disk-full and
#: read-only ones where they can).
OS_ERRORS = {
    "PATH not found": OSError(errno.ENOENT, "No such file or directory", "x/y.pt"),
    "cannot write PATH: No space left on device": OSError(errno.ENOSPC,
                                                          "No space left on device", "x/y.pt"),
    "cannot write PATH: Read-only file system": OSError(errno.EROFS, "Read-only file system",
                                                        "x/y.pt"),
    "cannot use PATH: Permission denied": OSError(errno.EACCES, "Permission denied", "x/y.pt"),
}

#: Messages triggered elsewhere (or only on some machines), with where.
ELSEWHERE = {
    "has the wrong shape": "tests/test_train_data.py (foreign arrays)",
    **{m: "test_the_os_error_rows below" for m in OS_ERRORS},
    "device 'cuda' was asked for but CUDA is not available here": "below, without CUDA",
    "the perfect solver needs the solver extra": "below, without the solver extra",
    "backend 'openvino-int8' needs the 'fast,int8' extra": "test_the_missing_backend_rows below",
    "backend 'openvino' needs the 'fast' extra": "test_the_missing_backend_rows below",
    "backend 'X' is not available on ...": "test_the_machine_dependent_rows below",
    "self-play failed on a Ray node: ...": "tests/test_cluster.py (Ray's nodes)",
    "train: the checkpoint's optimizer state is adamw but train.optimizer is sgd; starting a "
    "fresh sgd optimizer": "a notice, not an error: tests/test_train_data.py",
    "--out DIR already holds games of another job (...)": "tests/test_cli.py, self-play into "
                                                          "a folder with games",
    "self-play worker N died with exit code C": "test_a_dead_worker_row below",
}


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_every_row_of_the_table_is_triggered_or_accounted_for(world):
    t, tiny, small = world
    known = set(triggers(t, tiny, small)) | set(ELSEWHERE)
    missing = [m for m in table_messages() if m not in known]
    assert not missing, f"rows of docs/operating.md with no trigger: {missing}"


@pytest.mark.parametrize("message", [m for m in table_messages() if m not in ELSEWHERE])
def test_each_row_is_what_the_command_says(message, world, capsys, monkeypatch):
    t, tiny, small = world
    monkeypatch.chdir(ROOT)
    argv = triggers(t, tiny, small)[message]
    before = sorted(p.name for p in t.rglob("*"))
    code, err = run_cli(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (argv, err)
    rx = pattern(message.split(" / ")[0])
    assert re.search(rx, lines[0]), (message, lines[0])
    assert sorted(p.name for p in t.rglob("*")) == before  # nothing written


def test_the_machine_dependent_rows(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    import importlib.util

    if not torch.cuda.is_available():
        code, err = run_cli(["analyse", "4", "--sims", "0", "--device", "cuda"], capsys)
        assert code == 2 and re.search(pattern(
            "device 'cuda' was asked for but CUDA is not available here"), err)
    # a backend the device that judges cannot run: CUDA's on a CPU, a CPU one on a GPU
    backend, device = ("fused", "cpu") if not torch.cuda.is_available() else ("folded", "cuda")
    code, err = run_cli(["pipeline", "--config", "configs/smoke.yaml", "--run-dir",
                         str(tmp_path / "run"), "--set", f"inference.backend={backend}", "--set",
                         f"train.device={device}"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(pattern(f"backend '{backend}' is not available on {device}; set "
                             "inference.backend to another backend: one of ... or auto"), err)
    assert not (tmp_path / "run").exists()
    if not torch.cuda.is_available():  # self-play here on auto's device: known before writing
        for argv in (["pipeline", "--run-dir", str(tmp_path / "run")],
                     ["self-play", "--games", "2", "--out", str(tmp_path / "games")]):
            code, err = run_cli([*argv, "--config", "configs/smoke.yaml", "--set",
                                 "selfplay.device=auto", "--set", "inference.backend=fused",
                                 "--set", "train.device=auto"], capsys)
            assert code == 2 and "backend 'fused' is not available on cpu; set " \
                "inference.backend to another backend" in err, err
        assert not (tmp_path / "run").exists() and not (tmp_path / "games").exists()
    if importlib.util.find_spec("bitbully") is None:
        code, err = run_cli(["evaluate", "--player", "random", "--opponent", "solver"], capsys)
        assert code == 2 and "the perfect solver needs the solver extra" in err


def test_the_missing_backend_rows(tmp_path, capsys, monkeypatch):
    import alphazero.nn.inference as inference

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(inference, "nncf_available", lambda: False)
    monkeypatch.setattr(inference, "openvino_available", lambda: False)
    for name, extra in (("openvino-int8", "fast,int8"), ("openvino", "fast")):
        run = tmp_path / name
        code, err = run_cli(["pipeline", "--config", "configs/smoke.yaml", "--run-dir",
                             str(run), "--set", f"inference.selfplay_backend={name}"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"backend '{name}' needs the '{extra}' extra" in err
        assert "set inference.selfplay_backend to another backend" in err
        assert not run.exists()
    # asked for by the schedule, 20 iterations in: refused before the run is written too
    code, err = run_cli(["pipeline", "--config", "configs/smoke.yaml", "--run-dir",
                         str(tmp_path / "later"), "--set",
                         "schedule.inference.selfplay_backend={20: openvino-int8}"], capsys)
    assert code == 2 and "'fast,int8' extra" in err and not (tmp_path / "later").exists()
    code, err = run_cli(["self-play", "--config", "configs/smoke.yaml", "--out",
                         str(tmp_path / "games"), "--set", "inference.backend=openvino"], capsys)
    assert code == 2 and "needs the 'fast' extra" in err and not (tmp_path / "games").exists()


@pytest.mark.parametrize("message", list(OS_ERRORS))
def test_the_os_error_rows(message):
    line = cli.os_error_message(OS_ERRORS[message], "train")
    assert re.search(pattern(message), line) and "'x/y.pt'" in line, line


def test_a_dead_worker_row():
    from alphazero.stages.workers import WorkerError, WorkerPool

    pool = WorkerPool(1)
    pool._start()
    pool._procs[0].kill()
    pool._procs[0].join()
    with pytest.raises(WorkerError) as e:
        pool._wait({0}, tick=lambda _: None, add_work=lambda _: None)
    pool.close(graceful=False)
    assert re.search(pattern("self-play worker N died with exit code C"), str(e.value))
