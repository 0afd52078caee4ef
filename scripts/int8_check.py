"""Does int8 inference (OpenVINO with NNCF's post-training quantization) keep the net's play
and pay for itself? The lever "int8 inference if it leaves the mistakes unchanged".

    pip install "alphazero-c4[fast,int8]"    # NNCF: the int8 extra
    python scripts/int8_check.py [--checkpoint CKPT] [--calibration 1024] [--seconds 1.0]

The net (default: the shipped one) as OpenVINO runs it in fp32, bf16 and int8 (weights and
activations quantized by ``nncf.quantize``, calibrated on positions of random games, never on
the benchmark positions). For each: raw-policy mistakes on all 6000 of Pons' solver-labelled
positions (the project's mistake rule), top moves that differ from fp32, largest value and prior
differences from fp32, and positions/s at batch 64 on one thread (best of three, interleaved).
Last line: JSON.
"""

import argparse
import json
import os
import sys
import time

import alphazero  # noqa: F401  (sets the OpenMP wait policy before torch loads)
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_net import real_positions  # noqa: E402

from alphazero.nn.checkpoint import default_path, load  # noqa: E402
from alphazero.nn.inference import _openvino_model, _ov_core  # noqa: E402
from alphazero.rules.encoder import encode, legal_mask  # noqa: E402
from alphazero.rules.game import Boards  # noqa: E402
from alphazero.rules.positions import PONS, load_positions, path_of, score_positions  # noqa: E402


def compiled(model, precision: str):
    return _ov_core().compile_model(model, "CPU", {
        "INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision, "ENABLE_CPU_PINNING": False})


def forward_of(compiled_model):
    request = compiled_model.create_infer_request()

    def forward(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        request.infer({0: planes.astype(np.float32, copy=False)})
        return (np.array(request.get_output_tensor(0).data, np.float32),
                np.array(request.get_output_tensor(1).data, np.float32).reshape(-1))
    return forward


def outputs(forward, boards: Boards, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Priors (legal, normalised) [N, 7] and values [N] over ``boards``."""
    priors, values = [], []
    for i in range(0, len(boards), batch):
        b = boards.take(np.arange(i, min(i + batch, len(boards))))
        logits, v = forward(encode(b))
        logits = np.where(legal_mask(b), logits, -np.inf)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        priors.append(e / e.sum(axis=1, keepdims=True))
        values.append(v)
    return np.concatenate(priors), np.concatenate(values)


class Policy:
    """The raw policy as a player, from precomputed priors (``score_positions`` asks by
    board)."""

    def __init__(self, forward):
        self.forward = forward

    def select(self, boards: Boards) -> np.ndarray:
        return outputs(self.forward, boards)[0].argmax(axis=1)


def rate(forward, planes: np.ndarray, seconds: float) -> float:
    forward(planes)
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        forward(planes)
        n += 1
    return n * len(planes) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--calibration", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    import nncf

    torch.set_num_threads(1)
    net = load(a.checkpoint or default_path(), "cpu").net.eval()
    model = _openvino_model(net)
    calib = encode(real_positions(a.calibration, seed=1)).astype(np.float32)
    batches = [calib[i:i + 64] for i in range(0, len(calib), 64)]
    dataset = nncf.Dataset(batches)
    # int8: everything; int8-convs: the convolutions only, the heads' linear layers (the
    # value MLP among them) kept in fp32.
    int8 = nncf.quantize(model, dataset, subset_size=len(batches))
    convs = nncf.quantize(model, dataset, subset_size=len(batches),
                          ignored_scope=nncf.IgnoredScope(types=["MatMul"]))
    forwards = {"fp32": forward_of(compiled(model, "f32")),
                "bf16": forward_of(compiled(model, "bf16")),
                "int8": forward_of(compiled(int8, "f32")),
                "int8-convs": forward_of(compiled(convs, "f32"))}
    positions = load_positions(path_of(PONS))
    boards = Boards.from_states([p.state for p in positions])
    ref_p, ref_v = outputs(forwards["fp32"], boards)
    planes = encode(real_positions(64, seed=2))
    report = {}
    for name, fwd in forwards.items():
        p, v = outputs(fwd, boards)
        scores = score_positions(Policy(fwd), positions)
        report[name] = {
            "mistakes": sum(s.mistakes for s in scores.values()),
            "per_set": {k: round(100 * s.mistakes / s.n, 2) for k, s in scores.items()},
            "top_moves_changed": int((p.argmax(1) != ref_p.argmax(1)).sum()),
            "max_value_diff": round(float(np.abs(v - ref_v).max()), 4),
            "mean_value_diff": round(float(np.abs(v - ref_v).mean()), 4),
            "max_prior_diff": round(float(np.abs(p - ref_p).max()), 4)}
    best = {name: 0.0 for name in forwards}
    for _ in range(3):
        for name, fwd in forwards.items():
            best[name] = max(best[name], rate(fwd, planes, a.seconds))
    for name in forwards:
        report[name]["positions_per_s_batch64"] = round(best[name])
        print(f"{name}: {report[name]}")
    report["int8_over_bf16"] = round(best["int8"] / best["bf16"], 3)
    report["int8_convs_over_bf16"] = round(best["int8-convs"] / best["bf16"], 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
