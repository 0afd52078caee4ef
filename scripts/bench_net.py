"""Forward throughput of each ConnectNet preset on the current device.

    python scripts/bench_net.py [--device auto] [--presets tiny,small,paper]
                                [--batches 1,64,256,1024] [--seconds 1] [--threads N]

For every preset and batch size: positions/s of the raw forward pass (inference mode, the
evaluator's precision: bf16 autocast + channels-last on CUDA, fp32 on CPU) and the achieved
GFLOP/s. Last output line: one JSON object ``{"device", "threads", "results": [...]}``.
"""

import argparse
import json
import time

import torch

from alphazero.config import NetConfig
from alphazero.net import autocast_dtype, build_net, select_device


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
    print(json.dumps({"device": str(device), "threads": torch.get_num_threads(),
                      "results": results}))


if __name__ == "__main__":
    main()
