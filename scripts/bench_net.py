"""Forward throughput of each ConnectNet preset on the current device.

    python scripts/bench_net.py [--device auto] [--presets tiny,small,paper]
                                [--batches 1,64,256,1024] [--seconds 1] [--threads N]

For every preset and batch size: positions/s of the raw forward pass (inference mode, the
evaluator's precision: bf16 autocast + channels-last on CUDA, fp32 on CPU) and the achieved
GFLOP/s. On CPU also ``sliced_over_whole``: the evaluator's throughput on a batch of 512
real positions with its CPU slicing (``inference.CPU_SLICE``) over the same call with slicing off,
measured interleaved in one run. Last output line: one JSON object
``{"device", "threads", "results": [...], "slicing": {...}}``.
"""

import argparse
import json
import time

import torch

from alphazero.core.config import NetConfig
from alphazero.nn import inference as net_module
from alphazero.nn.inference import make_evaluator
from alphazero.nn.net import autocast_dtype, build_net, select_device


def real_positions(n: int, seed: int = 0):
    """``n`` positions of random games (0-24 plies), none finished: ``Boards``."""
    import numpy as np

    from alphazero.rules.game import Boards, State

    rng = np.random.default_rng(seed)
    states = []
    while len(states) < n:
        s = State()
        for _ in range(rng.integers(0, 25)):
            nxt = s.play(int(rng.choice(s.legal_moves())))
            if nxt.is_terminal():
                break
            s = nxt
        states.append(s)
    return Boards.from_states(states)


def slicing_ratio(net, batch: int = 512, reps: int = 5) -> float:
    """Throughput of the CPU evaluator with slicing over without, interleaved, best of reps."""
    boards = real_positions(batch)
    evaluate = make_evaluator(net, "cpu")
    best = {True: 0.0, False: 0.0}
    keep = net_module.CPU_SLICE
    try:
        for _ in range(reps):
            for sliced in (True, False):
                net_module.CPU_SLICE = keep if sliced else 1 << 30
                t0 = time.perf_counter()
                evaluate(boards)
                best[sliced] = max(best[sliced], batch / (time.perf_counter() - t0))
    finally:
        net_module.CPU_SLICE = keep
    return best[True] / best[False]


def measure(net, batch: int, device, seconds: float) -> float:
    x = torch.zeros(batch, 3, 6, 7, device=device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    amp = autocast_dtype(device)
    with torch.inference_mode(), torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        net(x)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while True:
            net(x)
            n += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
            if time.perf_counter() - t0 >= seconds:
                break
    return n * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--presets", default="tiny,small,paper")
    ap.add_argument("--batches", default="1,64,256,1024")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = select_device(a.device)
    results = []
    for preset in a.presets.split(","):
        torch.manual_seed(0)
        net = build_net(NetConfig(preset=preset), device).eval()
        flops = net.flops_per_position()
        for b in map(int, a.batches.split(",")):
            pps = measure(net, b, device, a.seconds)
            results.append({"preset": preset, "batch": b, "positions_per_s": round(pps, 1),
                            "gflops": round(pps * flops / 1e9, 2)})
            print(f"{preset:>6} batch {b:>5}: {pps:>12,.0f} positions/s  "
                  f"{pps * flops / 1e9:8.1f} GFLOP/s")
    slicing = {}
    if device.type == "cpu":
        for preset in a.presets.split(","):
            torch.manual_seed(0)
            r = slicing_ratio(build_net(NetConfig(preset=preset), "cpu").eval())
            slicing[preset] = round(r, 3)
            print(f"{preset:>6} sliced_over_whole (batch 512, slices of "
                  f"{net_module.CPU_SLICE}): {r:.3f}")
    print(json.dumps({"device": str(device), "threads": torch.get_num_threads(),
                      "results": results, "slicing": slicing}))


if __name__ == "__main__":
    main()
