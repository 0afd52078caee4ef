"""The net prepared for inference once per snapshot: BatchNorm folded (every backend but eager),
and for a GPU also cast, fed uint8 and replayed as graphs.

The eager CUDA path pays per call for what never changes between calls: autocast re-casts the
fp32 weights, BatchNorm runs as its own kernels, float32 planes cross the bus (4x the bytes of
the uint8 the encoder makes), and ~130 kernel launches of the 19-block net cost more than
their arithmetic at self-play batch sizes. Here, per snapshot of the net:

* ``InferenceNet``: BatchNorm folded into the convolutions (``inference.fold_batchnorm``), the
  trunk and heads cast to ``dtype`` once; the value head's linear layers and its tanh stay in
  fp32 (the value is a small difference of large activations; bf16 would round it to ~0.01);
* ``BucketedForward``: uint8 planes copied from pinned memory without blocking and converted
  on the device; a batch padded up to the next bucket (powers of two from ``MIN_BUCKET``) so
  that each bucket has one fixed shape, captured once as a CUDA graph and replayed after.

Backends (``inference.BACKENDS``): ``fused`` (folded, cast, uint8; no graphs) and ``graphs``
(the same replayed as CUDA graphs). Both need CUDA to be picked as backends; every piece runs
on CPU too (graphs aside), where tests/test_fused.py checks it against the eager net.
"""

from __future__ import annotations

import contextlib
import copy
import threading

import numpy as np
import torch
from torch import nn

from alphazero.nn.net import ConnectNet
from alphazero.rules.game import COLS


def folded_pair(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """The weights [out, in, k, k] and bias [out] of ``conv`` followed by ``bn`` (eval):
    ``w * g / sqrt(var + eps)`` and ``b - mean * g / sqrt(var + eps)``."""
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    w = conv.weight.detach() * scale[:, None, None, None]
    b = (bn.bias - bn.running_mean * scale).detach()
    return w.cpu().numpy().astype(np.float32), b.cpu().numpy().astype(np.float32)


def fold_batchnorm(net: ConnectNet) -> ConnectNet:
    """An inference copy of ``net`` (eval mode, CPU) in which every conv -> BatchNorm pair is
    one convolution with a bias (``folded_pair``) and the BatchNorm is gone."""
    net = copy.deepcopy(net).eval().cpu()
    for module, conv_name, bn_name in net.conv_bn_pairs():
        conv, bn = getattr(module, conv_name), getattr(module, bn_name)
        w, b = folded_pair(conv, bn)
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                          padding=conv.padding, bias=True)
        fused.weight.data, fused.bias.data = torch.from_numpy(w), torch.from_numpy(b)
        setattr(module, conv_name, fused)
        setattr(module, bn_name, nn.Identity())
    return net


#: Smallest bucket; a batch of n positions runs at the next power of two >= max(n, this).
MIN_BUCKET = 8
#: Largest bucket: larger batches run in slices of this many positions.
MAX_BUCKET = 4096


class InferenceNet(nn.Module):
    """A folded, cast copy of ``net`` for inference (eval mode on ``device``): uint8 planes
    [B, 3, 6, 7] -> (logits float32 [B, 7], values float32 [B]). Trunk and heads' convolutions
    and the policy's linear layer run at ``dtype``; the value head's linear layers and tanh in
    float32."""

    def __init__(self, net: ConnectNet, device: torch.device, dtype: torch.dtype):
        super().__init__()
        folded = fold_batchnorm(net)
        self.dtype = dtype
        self.trunk = nn.Sequential(folded.stem, folded.blocks)
        self.policy = folded.policy_head
        self.value_conv = folded.value_features  # conv (BN folded), identity, ReLU, flatten
        hidden, out = folded.value_linears
        self.value_mlp = nn.Sequential(hidden, nn.ReLU(), out)
        self.trunk.to(device, dtype)
        self.policy.to(device, dtype)
        self.value_conv.to(device, dtype)
        self.value_mlp.to(device, torch.float32)
        if device.type == "cuda":
            self.trunk.to(memory_format=torch.channels_last)
        self.eval()

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = planes.to(self.dtype)
        if x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.trunk(x)
        logits = self.policy(h).float()
        value = torch.tanh(self.value_mlp(self.value_conv(h).float())).squeeze(-1)
        return logits, value


def bucket(n: int) -> int:
    """The batch size that ``n`` positions run at: the next power of two, at least
    ``MIN_BUCKET``, at most ``MAX_BUCKET``."""
    return min(MAX_BUCKET, max(MIN_BUCKET, 1 << max(n - 1, 0).bit_length()))


class BucketedForward:
    """``forward(planes uint8 [B, 3, 6, 7]) -> (logits float32 [B, 7], values float32 [B])``
    through ``module`` at bucket sizes (``bucket``), with one CUDA graph per bucket when
    ``graphs`` (CUDA only). Thread-safe: calls are serialised (a graph's buffers are shared)."""

    def __init__(self, module: nn.Module, device: torch.device, graphs: bool = False):
        if graphs and device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        self.module, self.device, self.graphs = module, device, graphs
        self._lock = threading.Lock()
        self._host: dict[int, torch.Tensor] = {}
        self._captured: dict[int, tuple] = {}
        self._pool = None

    def __call__(self, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        planes = np.ascontiguousarray(planes, dtype=np.uint8)
        if len(planes) > MAX_BUCKET:
            parts = [self(planes[i:i + MAX_BUCKET]) for i in range(0, len(planes), MAX_BUCKET)]
            return np.concatenate([p for p, _ in parts]), np.concatenate([v for _, v in parts])
        n = len(planes)
        with self._lock, torch.no_grad(), self._on_device():
            out = self._run(self._stage(planes), bucket(n))
            out = out.cpu().numpy()
        return out[:n, :COLS], out[:n, COLS].copy()

    def _on_device(self):
        """The module's GPU as the current device (streams, pinned memory and graphs follow
        the current device, not the tensors'); nothing on CPU."""
        return torch.cuda.device(self.device) if self.device.type == "cuda" else \
            contextlib.nullcontext()

    def _stage(self, planes: np.ndarray) -> torch.Tensor:
        """The planes in a (pinned, on CUDA) host buffer of their bucket, zero-padded."""
        b = bucket(len(planes))
        if b not in self._host:
            buf = torch.zeros((b, *planes.shape[1:]), dtype=torch.uint8)
            self._host[b] = buf.pin_memory() if self.device.type == "cuda" else buf
        host = self._host[b]
        host[len(planes):].zero_()
        host[:len(planes)].copy_(torch.from_numpy(planes))
        return host

    def _run(self, host: torch.Tensor, b: int) -> torch.Tensor:
        """``[b, 8]``: logits and value of the bucket's positions (on the device)."""
        if not self.graphs:
            logits, value = self.module(host.to(self.device, non_blocking=True))
            return torch.cat([logits, value[:, None]], dim=1)
        if b not in self._captured:
            self._captured[b] = self._capture(b)
        graph, static_in, static_out = self._captured[b]
        static_in.copy_(host, non_blocking=True)
        graph.replay()
        return static_out

    def _capture(self, b: int) -> tuple:
        """A CUDA graph of the module at batch ``b`` with its input and output buffers (all
        buckets share one memory pool)."""
        static_in = torch.zeros((b, 3, 6, COLS), dtype=torch.uint8, device=self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up outside the graph (cuDNN picks its kernels here)
                self.module(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool, stream=side):
            logits, value = self.module(static_in)
            static_out = torch.cat([logits, value[:, None]], dim=1)
        return graph, static_in, static_out


def fused_forward(net: ConnectNet, device: torch.device, graphs: bool = False,
                  dtype: torch.dtype | None = None) -> BucketedForward:
    """The ``fused`` (``graphs=False``) or ``graphs`` backend for a snapshot of ``net`` on
    ``device``; ``dtype`` defaults to bf16 on CUDA where supported (else fp16), fp32 on CPU."""
    if dtype is None:
        from alphazero.nn.net import autocast_dtype

        dtype = autocast_dtype(device) or torch.float32
    return BucketedForward(InferenceNet(net, device, dtype), device, graphs)
