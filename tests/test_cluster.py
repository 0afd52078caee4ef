"""Ray cluster mode: a local Ray runs a smoke pipeline's self-play on actors, one of which is
killed mid-work and must be retried, not fatal. Skipped when Ray is not installed."""

import json
import os

import pytest

ray = pytest.importorskip("ray")

from alphazero.config import load  # noqa: E402
from alphazero.shards import read_samples  # noqa: E402
from alphazero.pipeline import create_run, run  # noqa: E402


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    marker = tmp_path_factory.mktemp("fault") / "killed-once"
    # Ray's worker processes inherit this environment: the first actor to start playing is
    # SIGKILLed once (fault point "ray_actor"), so the run must survive a dead actor.
    os.environ["ALPHAZERO_FAULT"] = "ray_actor:1:killonce"
    os.environ["ALPHAZERO_FAULT_MARKER"] = str(marker)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield marker
    ray.shutdown()
    del os.environ["ALPHAZERO_FAULT"], os.environ["ALPHAZERO_FAULT_MARKER"]


@pytest.mark.slow
def test_ray_pipeline_survives_a_killed_actor(tmp_path, local_ray):
    cfg = load("configs/smoke.yaml", ["pipeline.iterations=1", "selfplay.workers=2",
                                      "selfplay.parallel_games=4"])
    rd = str(tmp_path / "run")
    create_run(rd, cfg)
    rows = run(rd, ray_address="auto")
    assert local_ray.exists(), "an actor was killed during the run"
    assert [r["iteration"] for r in rows] == [1]
    data = tmp_path / "run" / "data" / "iter_0001"
    files = sorted(data.glob("chunk_*.pkl"))
    assert len(files) == 4 and not list(data.glob(".*"))
    total = 0
    for f in files:
        s = read_samples(f)
        assert s.meta["ray"] is True and s.meta["games"] == 2
        total += len(s)
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["selfplay"]["positions"] == total == row["window_positions"]
