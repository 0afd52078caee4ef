"""scripts/gpu_check.py works before any GPU sees it: its dry run runs every step on CPU with
the tiny net and reports one JSON object."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run_runs_every_step(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, "scripts/gpu_check.py", "--dry-run", "--out", out],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == json.loads(out.read_text())
    steps = report["steps"]
    assert list(steps) == ["device", "tests", "numerics", "throughput", "selfplay", "training",
                           "resume", "ray"]
    assert report["dry_run"] and report["ok"]
    assert all(s["ok"] is not False for s in steps.values())
    assert steps["tests"]["passed"] > 0 and steps["tests"].get("failed", 0) == 0
    numerics = steps["numerics"]
    assert numerics["folded"]["max_value_diff"] < 1e-4
    assert numerics["fused-on-cpu"]["max_value_diff"] < 1e-4
    assert numerics["fused-on-cpu"]["mistakes"] == numerics["cpu_fp32_mistakes"]
    assert all(numerics[b]["within_bounds"] for b in ("eager", "folded", "fused-on-cpu"))
    assert {r["batch"] for r in steps["throughput"]["eager"]} == {1, 8, 64}
    assert steps["selfplay"]["games"] == 8 and steps["selfplay"]["sims_per_s"] > 0
    assert steps["training"]["steps"] == 5 and steps["training"]["cpu_reload_max_diff"] < 1e-5
    assert steps["resume"]["iterations_after_resume"] == [1, 2]


def test_gpu_check_without_cuda_says_how_to_run_it():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is here")
    proc = subprocess.run([sys.executable, "scripts/gpu_check.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--dry-run" in proc.stderr and "Traceback" not in proc.stderr
