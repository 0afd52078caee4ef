"""Inference backends behind the one evaluator interface, and the evaluator that search uses.

A backend runs the network's forward pass on planes ``[B, 3, 6, 7]`` and returns policy logits
``[B, 7]`` and values ``[B]`` as numpy arrays. Each one works on a snapshot of the net taken
when it is made: training the net further never changes an evaluator (nor its cache) already
handed out.

* ``eager``: the net as it is, fp32 on CPU; bf16 autocast and channels-last on CUDA;
* ``folded``: BatchNorm folded into the convolutions' weights (fp32, same outputs within 1e-4;
  TorchScript freezing ran it 1.4x faster but kept 4-7 MB per net in a long-lived process,
  and ``torch.compile`` took 16 s per process: docs/benchmarks.md);
* ``openvino``: the folded net compiled by OpenVINO (fp32), with the optional extra
  ``alphazero-c4[fast]``;
* ``openvino-bf16``: the same at bf16 precision (checked against fp32 on all 6000 Pons
  positions with the shipped net: values within 0.074, priors within 0.025, 20 top moves
  changed, 193 raw-policy mistakes against fp32's 194; tests/test_evaluators.py bounds it);
* ``openvino-int8``: the OpenVINO graph with weights and activations quantized to int8 by
  NNCF (the ``int8`` extra), calibrated on positions of random games; never chosen by
  ``auto``, meant for self-play alone (``inference.selfplay_backend``): 1.9x bf16's speed
  alone, 1.3x inside self-play on a CPU without AMX (on one with AMX, no faster than bf16),
  values off by up to 0.68 on the shipped net (docs/levers.md, int8);
* ``fused`` and ``graphs`` (CUDA): folded, cast to bf16 once, fed uint8, value head in fp32;
  ``graphs`` replays one CUDA graph per batch bucket (``fused.py``).

``backend: auto`` times every available backend for a fraction of a second and keeps the
fastest (once per machine and net shape; ``resolve_backend``). It considers bf16 only where
the CPU computes it natively (``native_bf16``): elsewhere bf16 would be emulated, and a
precision loss should be a choice made on purpose, never a timing accident.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from alphazero.core.config import InferenceConfig, NetConfig
from alphazero.nn import calibration
from alphazero.nn.fused import fold_batchnorm, folded_pair, fused_forward
from alphazero.nn.net import ConnectNet, autocast_dtype
from alphazero.rules.encoder import encode, legal_mask
from alphazero.rules.game import COLS, Boards
from alphazero.search.evaluators import Cached, stack
from alphazero.search.exploration import random_opening

BACKENDS = ("eager", "folded", "openvino", "openvino-bf16", "openvino-int8", "fused", "graphs")

#: Positions of random games (0-24 moves, seed 0) that the int8 backend calibrates on.
INT8_CALIBRATION = 1024

#: On CPU a large batch runs through the torch backends in slices of this many positions:
#: activations of ~128 positions stay in cache (scripts/bench_net.py).
CPU_SLICE = 128

#: planes uint8 (or float32) [B, 3, 6, 7] -> (logits float32 [B, 7], values float32 [B])
Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class BackendError(ValueError):
    """A backend that was asked for but cannot run here."""


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def nncf_available() -> bool:
    """Whether NNCF is installed (looked up, not imported: the import costs seconds and
    hundreds of MB, which only ``int8_model`` should pay)."""
    return importlib.util.find_spec("nncf") is not None and openvino_available()


def available_backends(device: torch.device) -> list[str]:
    """Backends that can run on ``device`` here, in order of preference on a tie."""
    if device.type == "cuda":
        return ["eager", "fused", "graphs"]
    if device.type != "cpu":
        return ["eager"]
    return (["eager", "folded"] + (["openvino", "openvino-bf16"] if openvino_available() else [])
            + (["openvino-int8"] if nncf_available() else []))


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively: AVX512-BF16 or AMX on x86, the BF16
    extension on Arm (Linux's CPU flags; False where they cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = {f for ln in fh if ln.startswith(("flags", "Features"))
                     for f in ln.split(":", 1)[1].split()}
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def auto_candidates(device: torch.device) -> list[str]:
    """The backends ``auto`` times on ``device``: every available one but int8, bf16 only
    where native."""
    return [n for n in available_backends(device)
            if n != "openvino-int8" and (not n.endswith("bf16") or native_bf16())]


def _torch_forward(module: nn.Module, device: torch.device) -> Forward:
    cuda = device.type == "cuda"
    amp = autocast_dtype(device)

    def forward(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not cuda and len(planes) > CPU_SLICE:
            parts = [forward(planes[i:i + CPU_SLICE]) for i in range(0, len(planes), CPU_SLICE)]
            return np.concatenate([p for p, _ in parts]), np.concatenate([v for _, v in parts])
        x = torch.from_numpy(planes)
        if cuda:
            x = x.pin_memory()
        with torch.inference_mode():
            x = x.to(device, non_blocking=True).float()
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                logits, value = module(x)
            out = torch.cat([logits.float(), value.float()[:, None]], dim=1).cpu().numpy()
        return out[:, :COLS], out[:, COLS].copy()

    return forward


def _openvino_model(net: ConnectNet):
    """ConnectNet as an OpenVINO graph built from its folded weights (converting the torch
    module instead left megabytes behind on every call)."""
    import openvino as ov
    import openvino.opset13 as op

    def conv(x, pair, relu=True):
        w, b = pair
        pad = w.shape[-1] // 2
        y = op.convolution(x, op.constant(w), [1, 1], [pad, pad], [pad, pad], [1, 1])
        y = op.add(y, op.constant(b.reshape(1, -1, 1, 1)))
        return op.relu(y) if relu else y

    def linear(x, layer: nn.Linear):
        w = layer.weight.detach().cpu().numpy().astype(np.float32)
        b = layer.bias.detach().cpu().numpy().astype(np.float32)
        return op.add(op.matmul(x, op.constant(w), False, True), op.constant(b))

    def flat(x, features):
        return op.reshape(x, op.constant(np.array([-1, features], np.int64)), False)

    cells = 6 * COLS
    pair = {(id(m), c): folded_pair(getattr(m, c), getattr(m, n))
            for m, c, n in net.conv_bn_pairs()}
    planes = op.parameter([-1, 3, 6, COLS], np.float32, name="planes")
    h = conv(planes, pair[id(net.stem), "0"])
    for block in net.blocks:
        y = conv(h, pair[id(block), "conv1"])
        y = conv(y, pair[id(block), "conv2"], relu=False)
        h = op.relu(op.add(h, y))
    p = conv(h, pair[id(net.policy_head), "0"])
    logits = linear(flat(p, net.cfg.policy_channels * cells), net.policy_linear)
    v = conv(h, pair[id(net.value_head), "0"])
    hidden, out = net.value_linears
    v = op.relu(linear(flat(v, net.cfg.value_channels * cells), hidden))
    value = op.reshape(op.tanh(linear(v, out)),
                       op.constant(np.array([-1], np.int64)), False)
    return ov.Model([logits, value], [planes], "connectnet")


_CORE: list = []


def _ov_core():
    """One OpenVINO runtime per process."""
    if not _CORE:
        import openvino as ov

        _CORE.append(ov.Core())
    return _CORE[0]


def int8_model(net: ConnectNet):
    """``net``'s OpenVINO graph quantized to int8 (weights and activations) by NNCF's
    post-training quantization, calibrated on ``INT8_CALIBRATION`` positions of random games
    (deterministic: the same net gives the same graph)."""
    import nncf

    rng = np.random.default_rng(0)
    states = [random_opening(rng, 24)[1] for _ in range(INT8_CALIBRATION)]
    planes = encode(Boards.from_states(states)).astype(np.float32)
    batches = nncf.Dataset([planes[i:i + 64] for i in range(0, len(planes), 64)])
    # NNCF draws progress bars for every quantization: a self-play worker makes one per
    # snapshot, and its console is the user's.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return nncf.quantize(_openvino_model(net), batches, subset_size=len(planes) // 64)


def openvino_compiled(net: ConnectNet, precision: str):
    """``net`` compiled by OpenVINO for this process's CPU threads at ``precision`` (f32,
    bf16, or int8: the NNCF-quantized graph run in f32 where not int8)."""
    model = int8_model(net) if precision == "int8" else _openvino_model(net)
    # No CPU pinning: OpenVINO would pin every process's inference thread to the same core,
    # so two self-play workers on two cores would share one (measured: each busy about half
    # the time; tests/test_evaluators.py checks the setting).
    return _ov_core().compile_model(model, "CPU", {
        "INFERENCE_NUM_THREADS": torch.get_num_threads(), "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32" if precision == "int8" else precision,
        "ENABLE_CPU_PINNING": False})


def _openvino(net: ConnectNet, precision: str) -> Forward:
    request = openvino_compiled(net, precision).create_infer_request()

    def forward(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        request.infer({0: planes.astype(np.float32, copy=False)})
        logits = request.get_output_tensor(0).data
        values = request.get_output_tensor(1).data
        return np.array(logits, np.float32), np.array(values, np.float32).reshape(-1)

    return forward


def require_backend(name: str, key: str | None = None,
                    device: torch.device | None = None) -> None:
    """Raise ``BackendError`` with the fix (naming the extra to install, and ``key``, the
    setting that asked for ``name``) when backend ``name`` cannot run here: an OpenVINO one
    whose libraries are missing, or, given ``device``, one that does not run on it (CUDA's
    ``fused`` on a CPU, OpenVINO on a GPU). ``auto`` always passes."""
    instead = f"set {key} to another backend" if key else "choose another backend"
    wrong_device = device is not None and name != "auto" and name not in available_backends(device)
    missing_extra = name.startswith("openvino") and name not in available_backends(
        torch.device("cpu"))
    # On a GPU the device is the fix: no extra makes OpenVINO run there.
    if missing_extra and not (wrong_device and device.type != "cpu"):
        extra = "fast,int8" if name == "openvino-int8" else "fast"
        raise BackendError(f"backend {name!r} needs the '{extra}' extra: pip install "
                           f"'alphazero-c4[{extra}]' (or {instead})")
    if wrong_device:
        raise BackendError(f"backend {name!r} is not available on {device.type}; {instead}: "
                           f"one of {available_backends(device)} or auto")


def backend_forward(net: ConnectNet, name: str, device: torch.device | None = None) -> Forward:
    """The forward pass of a snapshot of ``net`` under backend ``name`` (see the module doc).
    Raises ``BackendError`` with the fix when ``name`` cannot run here."""
    device = device or next(net.parameters()).device
    if name == "auto":
        raise ValueError("backend_forward needs a backend; resolve 'auto' with resolve_backend")
    require_backend(name, device=device)
    if name == "eager":
        snapshot = copy.deepcopy(net).eval()
        return _torch_forward(snapshot, device)
    if name == "folded":
        return _torch_forward(fold_batchnorm(net), device)
    if name in ("fused", "graphs"):
        return fused_forward(net, device, graphs=name == "graphs")
    return _openvino(net, {"openvino-bf16": "bf16", "openvino-int8": "int8"}.get(name, "f32"))


def throughput(forward: Forward, batch: int, seconds: float = 0.3) -> float:
    """Positions per second of ``forward`` at ``batch`` random positions, after a warm-up."""
    planes = np.random.default_rng(0).integers(0, 2, (batch, 3, 6, 7), dtype=np.uint8)
    forward(planes)
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        forward(planes)
        n += 1
    return n * batch / elapsed


_CALIBRATED: dict[str, tuple[str, dict]] = {}

#: Batch at which ``auto`` times the backends: a self-play step's on each kind of device (on
#: CUDA not a power of two, so that the graphs' padding to a bucket is paid as in real use).
CALIBRATION_BATCH = {"cpu": 64, "cuda": 768}


def _calibrated(key: str, net: Callable[[], ConnectNet], device: torch.device
                ) -> tuple[str, dict]:
    if key not in _CALIBRATED:
        _CALIBRATED[key] = _calibrate(key, net, device)
    return _CALIBRATED[key]


def _calibrate(key: str, net: Callable[[], ConnectNet], device: torch.device
               ) -> tuple[str, dict]:
    hit = calibration.known(key)
    if hit and hit["backend"] in auto_candidates(device):
        return hit["backend"], hit["rates"]
    built, batch = net(), CALIBRATION_BATCH.get(device.type, 64)
    rates = {name: round(throughput(backend_forward(built, name, device), batch, 0.2), 1)
             for name in auto_candidates(device)}
    best = max(rates, key=rates.get)
    calibration.keep(key, best, rates)
    return best, rates


def resolve_backend(name: str, net: ConnectNet | NetConfig,
                    device: torch.device | None = None) -> tuple[str, dict[str, float]]:
    """``(backend, {backend: positions/s})``: ``name`` itself (no timings) unless it is
    ``auto``, which times ``auto_candidates`` at ``CALIBRATION_BATCH`` on this process's
    threads and picks the fastest. The choice is kept per machine, library versions, device,
    net shape and thread count, in this process and in ``calibration.py``'s file (delete it
    to time again). ``net`` may be a resolved NetConfig (then ``device`` is needed): a net of
    that shape is built only when it has to be timed."""
    if device is None:
        device = next(net.parameters()).device
    if name != "auto":
        return name, {}
    if len(auto_candidates(device)) == 1:
        return auto_candidates(device)[0], {}
    c = net if isinstance(net, NetConfig) else net.cfg
    key = calibration.key(c, device)
    if isinstance(net, NetConfig):
        from alphazero.nn.net import build_net

        return _calibrated(key, lambda: build_net(c, device), device)
    return _calibrated(key, lambda: net, device)


def make_evaluator(net: ConnectNet, device: torch.device | str | None = None,
                   backend: str = "eager", symmetry: str = "none", cache_size: int = 0,
                   seed: int = 0) -> Cached:
    """``evaluate(boards) -> (priors float32 [B, 7], values float32 [B])`` for a snapshot of
    ``net``: encodes on the CPU, runs ``backend`` (``auto``: the fastest here), masks illegal
    columns to prior 0 and normalises; values from the side to move's view. ``symmetry`` and
    ``cache_size`` add the wrappers of ``evaluators.py``; the result has ``.stats`` and
    ``.backend``."""
    device = torch.device(device) if device is not None else next(net.parameters()).device
    name, _ = resolve_backend(backend, net, device)
    forward = backend_forward(net, name, device)

    def evaluate(boards: Boards) -> tuple[np.ndarray, np.ndarray]:
        logits, values = forward(encode(boards))
        logits = np.where(legal_mask(boards), logits, -np.inf)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32), values

    ev = stack(evaluate, symmetry, cache_size, seed)
    ev.backend = name
    return ev


def evaluator_for(net: ConnectNet, device: torch.device | str | None, inf: InferenceConfig,
                  selfplay: bool = False, seed: int = 0) -> Cached:
    """``make_evaluator`` with the settings of ``inf``: its backend and symmetry for playing
    to win, or its self-play backend and symmetry when ``selfplay``."""
    return make_evaluator(net, device, inf.selfplay_backend_name() if selfplay else inf.backend,
                          inf.selfplay_symmetry if selfplay else inf.symmetry, inf.cache_size,
                          seed)
