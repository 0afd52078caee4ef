"""The first contact with a GPU in one call: validate and measure the CUDA path.

    python scripts/gpu_check.py              # on the GPU box, ~5 minutes; writes docs/gpu.json
    python scripts/gpu_check.py --dry-run    # every step on CPU with the tiny net, in seconds

Steps (each timed; a failing step is recorded and the others still run):

* ``device``: torch, CUDA and driver versions, the GPU, bf16 support;
* ``tests``: tests/test_cuda.py and tests/test_fused.py (pytest counts);
* ``numerics``: the shipped net on all 6000 Pons positions, CPU fp32 eager against each CUDA
  backend: largest value and prior difference, top-move changes, raw-policy mistakes;
* ``throughput``: the paper net at batch 1..4096 per CUDA backend: positions/s, ms per call,
  peak memory;
* ``selfplay``: configs/paper.yaml on a fresh paper net for 512 games (2 workers x 256 in
  flight): nominal search simulations/s (positions x simulations / seconds), network
  evaluations/s, batch occupancy, GPU utilisation sampled by nvidia-smi;
* ``training``: 200 steps of the paper net at batch 1024 (samples/s); saved on CUDA, loaded on
  CPU, outputs compared;
* ``resume``: a 2-iteration smoke pipeline on CUDA killed after its first iteration and resumed;
* ``ray``: a 1-iteration smoke pipeline with two CUDA workers on a local Ray (when installed).

Each step runs in its own process, stopped after its share of the time (``TIMEOUTS``). The
dry run swaps CUDA for the CPU, the paper net for the tiny one, Pons for 300 of its
positions and the CUDA backends for the CPU's; tests/test_gpu_check.py runs it. Prints one JSON
object at the end and writes it to ``--out`` (default docs/gpu.json; none for a dry run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from alphazero.core.config import NetConfig, TrainConfig, load  # noqa: E402
from alphazero.nn import checkpoint  # noqa: E402
from alphazero.nn.inference import available_backends, backend_forward, throughput  # noqa: E402
from alphazero.nn.net import build_net  # noqa: E402
from alphazero.rules.encoder import encode, legal_mask  # noqa: E402
from alphazero.rules.game import Boards  # noqa: E402
from alphazero.rules.positions import PONS, load_positions, path_of  # noqa: E402


class Plan:
    """What a run measures: the real sizes on CUDA, or the dry run's on CPU."""

    def __init__(self, dry: bool):
        self.dry = dry
        self.device = torch.device("cpu" if dry else "cuda")
        self.net = NetConfig(preset="tiny" if dry else "paper").resolve(not dry)
        self.positions = 300 if dry else None
        self.batches = [1, 8, 64] if dry else [1, 8, 64, 256, 512, 1024, 2048, 4096]
        self.seconds_per_rate = 0.05 if dry else 0.3
        self.train_steps, self.train_batch = (5, 32) if dry else (200, 1024)
        self.config = "configs/smoke.yaml" if dry else "configs/paper.yaml"
        self.selfplay_set = ([] if dry else ["selfplay.games=512", "selfplay.parallel_games=256",
                                             "selfplay.chunk_games=64", "selfplay.workers=2"])

    def backends(self) -> dict:
        """name -> forward maker for a net (the dry run adds the fused path on CPU, in fp32:
        bf16 there is emulated, and tests/test_fused.py bounds it)."""
        if not self.dry:
            return {b: (lambda net, b=b: backend_forward(net, b, self.device))
                    for b in available_backends(self.device)}
        from alphazero.nn.fused import fused_forward

        return {"eager": lambda net: backend_forward(net, "eager", self.device),
                "folded": lambda net: backend_forward(net, "folded", self.device),
                "fused-on-cpu": lambda net: fused_forward(net, self.device)}

    def devices(self) -> list[str]:
        return ["--set", f"selfplay.device={self.device.type}",
                "--set", f"train.device={self.device.type}"]


def _nvidia_smi(query: str) -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,"
                              "nounits"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [ln.strip() for ln in out.splitlines() if ln.strip()]


def step_device(plan: Plan) -> dict:
    out = {"torch": torch.__version__, "python": platform.python_version(),
           "cpu_count": os.cpu_count(), "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        out.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                   gpus=torch.cuda.device_count(), name=props.name,
                   memory_gib=round(props.total_memory / 2**30, 1),
                   capability=f"{props.major}.{props.minor}",
                   bf16=torch.cuda.is_bf16_supported(),
                   driver=(_nvidia_smi("driver_version") or [None])[0])
    return out


def step_tests(plan: Plan) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_cuda.py", "tests/test_fused.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}
    return {"ok": proc.returncode == 0, "summary": tail, **counts,
            **({} if proc.returncode == 0 else {"output": proc.stdout[-3000:]})}


def _priors(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    x = np.where(legal, logits, -np.inf)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def step_numerics(plan: Plan) -> dict:
    positions = load_positions(path_of(PONS))[:plan.positions]
    boards = Boards.from_states([p.state for p in positions])
    planes, legal = encode(boards), legal_mask(boards)
    shipped = checkpoint.load(os.path.join(ROOT, "checkpoints", "best.pt")).net.eval()
    if plan.dry:
        shipped = build_net(plan.net, "cpu").eval()
    ref_l, ref_v = backend_forward(shipped, "eager", torch.device("cpu"))(planes)
    ref_p = _priors(ref_l, legal)

    def mistakes(p: np.ndarray) -> int:
        return sum(bool(pos.is_mistake(int(c))) for pos, c in zip(positions, p.argmax(1)))

    out: dict = {"positions": len(positions), "cpu_fp32_mistakes": mistakes(ref_p),
                 "bounds": BOUNDS}
    gpu_net = checkpoint.load(os.path.join(ROOT, "checkpoints", "best.pt"),
                              device=plan.device).net.eval() if not plan.dry else shipped
    for name, make in plan.backends().items():
        logits, values = make(gpu_net)(planes)
        p = _priors(logits, legal)
        out[name] = {"max_value_diff": float(np.abs(values - ref_v).max()),
                     "max_prior_diff": float(np.abs(p - ref_p).max()),
                     "top_move_changes": int((p.argmax(1) != ref_p.argmax(1)).sum()),
                     "mistakes": mistakes(p)}
        out[name]["within_bounds"] = within(out[name], len(positions))
    out["ok"] = all(out[n]["within_bounds"] for n in plan.backends())
    return out


#: What a backend may differ from CPU fp32 by and still pass: the CPU's bf16 on the shipped
#: net kept values within 0.074, priors within 0.025 and changed 20 of 6000 top moves (the nets
#: shipped before: 0.074, 0.023, 13; 0.055, 0.024, 26); the test of the CPU's bf16 allows 0.08
#: and 0.04.
BOUNDS = {"max_value_diff": 0.08, "max_prior_diff": 0.05, "top_move_change_share": 0.01}


def within(r: dict, n: int) -> bool:
    return (r["max_value_diff"] <= BOUNDS["max_value_diff"]
            and r["max_prior_diff"] <= BOUNDS["max_prior_diff"]
            and r["top_move_changes"] <= BOUNDS["top_move_change_share"] * n)


def step_throughput(plan: Plan) -> dict:
    torch.manual_seed(0)
    net = build_net(plan.net, plan.device).eval()
    out: dict = {"net": plan.net.describe()}
    for name, make in plan.backends().items():
        forward, rows = make(net), []
        for batch in plan.batches:
            if plan.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            rate = throughput(forward, batch, plan.seconds_per_rate)
            peak = (torch.cuda.max_memory_allocated() / 2**20
                    if plan.device.type == "cuda" else None)
            rows.append({"batch": batch, "positions_per_s": round(rate, 1),
                         "ms_per_call": round(1000 * batch / rate, 3),
                         "peak_mib": None if peak is None else round(peak, 1)})
        out[name] = rows
    return out


class Utilisation:
    """nvidia-smi's GPU utilisation sampled every half second in a thread (none on CPU)."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples += [float(v) for v in _nvidia_smi("utilization.gpu") if v[0].isdigit()]

    def __enter__(self) -> Utilisation:
        if torch.cuda.is_available():
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def mean(self) -> float | None:
        return round(float(np.mean(self.samples)), 1) if self.samples else None


def step_selfplay(plan: Plan) -> dict:
    from alphazero.stages.workers import run_pool, work_summary

    cfg = load(os.path.join(ROOT, plan.config), plan.selfplay_set + [
        f"selfplay.device={plan.device.type}"])
    with tempfile.TemporaryDirectory() as out, Utilisation() as gpu:
        stats = run_pool(None, cfg.net, cfg.mcts, cfg.selfplay, out, inference=cfg.inference)
    work, seconds = work_summary(stats), stats["seconds"]
    return {"games": stats["games"], "positions": stats["positions"],
            "seconds": round(seconds, 1), "workers": stats["workers"],
            "backend": work["backend"],
            "sims_per_s": round(stats["positions"] * cfg.mcts.num_simulations / seconds),
            "net_evals_per_s": round(stats["work"]["net_positions"] / seconds),
            "mean_batch_occupancy": work["mean_batch_occupancy"],
            "cache_hit_rate": work["cache_hit_rate"], "gpu_utilisation": gpu.mean()}


def step_training(plan: Plan) -> dict:
    from alphazero.replay.shards import Samples
    from alphazero.stages.train import Trainer

    torch.manual_seed(0)
    n = plan.train_steps * plan.train_batch
    rng = np.random.default_rng(0)
    data = Samples(rng.integers(0, 2, (n, 3, 6, 7)).astype(np.int8),
                   rng.dirichlet(np.ones(7), n).astype(np.float32),
                   rng.uniform(-1, 1, n).astype(np.float32))
    net = build_net(plan.net, plan.device)
    cfg = TrainConfig(batch_size=plan.train_batch, epochs=1.0)
    fit = Trainer(net, cfg, plan.device).fit(data, data.take(slice(0, plan.train_batch)))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.pt")
        checkpoint.save(path, net)
        cpu = checkpoint.load(path, device="cpu").net.eval()
    x = torch.from_numpy(data.states[:256]).float()
    with torch.no_grad():
        gl, gv = net.eval()(x.to(plan.device))
        cl, cv = cpu(x)
    return {"steps": fit.steps, "batch": plan.train_batch, "net": plan.net.describe(),
            "samples_per_s": round(fit.samples_per_s, 1), "loss": round(fit.train["total"], 4),
            "cpu_reload_max_diff": float(max((gl.float().cpu() - cl).abs().max(),
                                             (gv.float().cpu() - cv).abs().max()))}


def _alphazero(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alphazero", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _rows(run_dir: str) -> list[int]:
    try:
        with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as fh:
            return [json.loads(ln)["iteration"] for ln in fh if ln.strip()]
    except OSError:
        return []


def step_resume(plan: Plan) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        proc = subprocess.Popen([sys.executable, "-m", "alphazero", "pipeline", "--config",
                                 "configs/smoke.yaml", "--run-dir", run_dir, "--quiet",
                                 *plan.devices()], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 240
        while not _rows(run_dir) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        killed_after = _rows(run_dir)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        again = _alphazero("pipeline", "--resume", run_dir, "--quiet", timeout=240)
        rows = _rows(run_dir)
    return {"ok": killed_after == [1] and again.returncode == 0 and rows == [1, 2],
            "killed_after_iterations": killed_after, "iterations_after_resume": rows,
            **({} if again.returncode == 0 else {"stderr": again.stderr[-2000:]})}


def step_ray(plan: Plan) -> dict:
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"ok": None, "skipped": "ray is not installed"}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        proc = _alphazero("pipeline", "--config", "configs/smoke.yaml", "--run-dir", run_dir,
                          "--quiet", "--ray", "local", "--set", "pipeline.iterations=1",
                          "--set", "selfplay.workers=2", *plan.devices(), timeout=300)
        return {"ok": proc.returncode == 0 and _rows(run_dir) == [1],
                **({} if proc.returncode == 0 else {"stderr": proc.stderr[-2000:]})}


STEPS = {"device": step_device, "tests": step_tests, "numerics": step_numerics,
         "throughput": step_throughput, "selfplay": step_selfplay, "training": step_training,
         "resume": step_resume, "ray": step_ray}
#: Seconds each step may take on the GPU box before it is stopped and recorded as such (the
#: whole check stays within about 8 minutes even when one step hangs).
TIMEOUTS = {"device": 60, "tests": 150, "numerics": 90, "throughput": 90, "selfplay": 180,
            "training": 90, "resume": 150, "ray": 150}


def run_step(name: str, dry: bool) -> dict:
    """One step in its own process (a crash or a hang there is a result, not the end of the
    check), bounded by ``TIMEOUTS``."""
    cmd = [sys.executable, os.path.abspath(__file__), "--step", name] + (
        ["--dry-run"] if dry else [])
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=TIMEOUTS[name] * (2 if dry else 1))
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"stopped after {TIMEOUTS[name]} s"}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"ok": False, "error": f"exit status {proc.returncode}",
                "stderr": proc.stderr[-3000:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="every step on CPU, tiny net")
    parser.add_argument("--out", help="JSON file to write (default docs/gpu.json; a dry run "
                                      "writes none unless asked)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(STEPS))
    parser.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)  # one step
    args = parser.parse_args()
    if args.step:
        try:
            result = STEPS[args.step](Plan(args.dry_run))
        except Exception as e:  # noqa: BLE001 -- a failed step is a result
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(result))
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available here; run it on a GPU box, or --dry-run to "
              "check the script on this CPU", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    report: dict = {"dry_run": args.dry_run, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "steps": {}}
    for name in STEPS:
        if name in args.skip:
            continue
        t = time.perf_counter()
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        result = run_step(name, args.dry_run)
        result.setdefault("ok", True)
        result["seconds"] = round(time.perf_counter() - t, 1)
        report["steps"][name] = result
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["ok"] = all(s["ok"] is not False for s in report["steps"].values())
    out = args.out or (None if args.dry_run else os.path.join(ROOT, "docs", "gpu.json"))
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
            fh.write("\n")
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
