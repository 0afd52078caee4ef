"""How a small job fares on a busy machine: the smoke pipeline's wall time alone and with
busy processes beside it (each a pure-Python loop that wants one core).

    python scripts/bench_busy.py [--busy 2] [--repeats 3] [--set KEY=VALUE ...]

The fair slowdown is the share of the CPU the job gets: with B busy processes on C cores and a
job that wants C cores, about (C + B) / C. Much more than that means the job wastes what it
gets (threads spin-waiting for each other, more threads than cores). Measured twice, side by
side: with OpenMP's own defaults (``ALPHAZERO_KEEP_OMP=1``) and with the project's setting
(see ``alphazero/__init__.py``). Times are medians over the repeats. Last line: JSON.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSY = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def smoke_seconds(extra: list[str], env: dict) -> float:
    run = tempfile.mkdtemp(prefix="busy-")
    try:
        cmd = [sys.executable, "-m", "alphazero", "pipeline", "--config", "configs/smoke.yaml",
               "--run-dir", os.path.join(run, "r"), "--quiet"]
        cmd += [x for s in extra for x in ("--set", s)]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(run, ignore_errors=True)


def measure(a: argparse.Namespace, env: dict) -> dict:
    alone = statistics.median(smoke_seconds(a.set, env) for _ in range(a.repeats))
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(a.busy)]
    try:
        time.sleep(1.0)
        busy = statistics.median(smoke_seconds(a.set, env) for _ in range(a.repeats))
    finally:
        for h in hogs:
            h.kill()
    return {"alone_s": round(alone, 1), "busy_s": round(busy, 1),
            "slowdown": round(busy / alone, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    cores = os.cpu_count() or 1
    out = {"cores": cores, "busy_processes": a.busy, "repeats": a.repeats,
           "fair_slowdown": round((cores + a.busy) / cores, 2),
           "openmp_defaults": measure(a, {**base, "ALPHAZERO_KEEP_OMP": "1"}),
           "project_setting": measure(a, base)}
    for name in ("openmp_defaults", "project_setting"):
        m = out[name]
        print(f"{name}: smoke pipeline {m['alone_s']:.1f} s alone, {m['busy_s']:.1f} s beside "
              f"{a.busy} busy processes ({m['slowdown']}x; the CPU share predicts "
              f"{out['fair_slowdown']}x)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
