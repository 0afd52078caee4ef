"""ConnectNet: a residual policy/value network (``inference.py`` runs it for search).

    planes [B, 3, 6, 7] -> stem conv3x3 -> N x residual block -> policy head -> logits [B, 7]
                                                              -> value head  -> tanh   [B]
                                                              (-> reply head -> logits [B, 7])

The optional reply head (``net.reply_head``) is an auxiliary target for training alone: it
predicts the opponent's reply, and gives the trunk more signal per position; ``forward`` and
every inference backend leave it out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as Fn
from torch import nn

from alphazero.core.config import NetConfig
from alphazero.rules.game import COLS, ROWS


class DeviceError(ValueError):
    """A device that was asked for but is not available."""


def select_device(requested: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``/``cuda``/``cuda:N`` as asked.

    Asking for CUDA on a machine without it is a ``DeviceError`` with the fix.
    """
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError:
        raise DeviceError(f"unknown device {requested!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {requested!r} was asked for but CUDA is not available here; "
                          "use auto or cpu: --set selfplay.device=auto --set "
                          "train.device=auto for a config (pipeline, self-play, train), "
                          "--device cpu for play, evaluate and analyse")
    return dev


class ResBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input, then ReLU. [B, C, 6, 7] -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    @property
    def branch_end(self) -> nn.BatchNorm2d:
        """The residual branch's last layer: with its scale and shift at 0 the block passes
        its input through unchanged (``grow`` appends blocks so)."""
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = Fn.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return Fn.relu(x + y)


def _policy_head(channels: int, head_channels: int) -> nn.Sequential:
    """Trunk [B, C, 6, 7] -> 1x1 conv, BatchNorm, ReLU, flatten, linear -> logits [B, 7]."""
    return nn.Sequential(nn.Conv2d(channels, head_channels, 1, bias=False),
                         nn.BatchNorm2d(head_channels), nn.ReLU(inplace=True), nn.Flatten(),
                         nn.Linear(head_channels * ROWS * COLS, COLS))


class ConnectNet(nn.Module):
    """The policy/value network. ``cfg`` must be resolved (every size filled in)."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        assert cfg.blocks is not None and cfg.channels is not None, "resolve the NetConfig first"
        self.cfg = cfg
        c = cfg.channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(cfg.blocks)])
        pc, vc = cfg.policy_channels, cfg.value_channels
        self.policy_head = _policy_head(c, pc)
        self.value_head = nn.Sequential(nn.Conv2d(c, vc, 1, bias=False), nn.BatchNorm2d(vc),
                                        nn.ReLU(inplace=True), nn.Flatten(),
                                        nn.Linear(vc * ROWS * COLS, cfg.value_hidden),
                                        nn.ReLU(inplace=True), nn.Linear(cfg.value_hidden, 1))
        # Drawn last, so a net with the head starts with the same other weights as one without.
        self.reply_head = _policy_head(c, pc) if cfg.reply_head else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """planes float [B, 3, 6, 7] -> (policy logits [B, 7], value in [-1, 1] [B])."""
        h = self.blocks(self.stem(x))
        return self.policy_head(h), torch.tanh(self.value_head(h)).squeeze(-1)

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                      torch.Tensor | None]:
        """``forward`` plus the reply head's logits [B, 7] (None without one): what training
        fits, from one pass through the trunk."""
        h = self.blocks(self.stem(x))
        reply = self.reply_head(h) if self.reply_head is not None else None
        return self.policy_head(h), torch.tanh(self.value_head(h)).squeeze(-1), reply

    def conv_bn_pairs(self) -> list[tuple[nn.Module, str, str]]:
        """Every (module, conv attribute, BatchNorm attribute) pair, input to output: what
        BatchNorm folding (``inference``) and OpenVINO's graph walk."""
        pairs = [(self.stem, "0", "1")]
        pairs += [(b, c, n) for b in self.blocks for c, n in (("conv1", "bn1"), ("conv2", "bn2"))]
        return pairs + [(self.policy_head, "0", "1"), (self.value_head, "0", "1")]

    @property
    def policy_linear(self) -> nn.Linear:
        """The policy head's last layer: flattened features -> logits [B, 7]."""
        return self.policy_head[4]

    @property
    def value_features(self) -> nn.Sequential:
        """The value head up to its first linear layer: trunk [B, C, 6, 7] -> features
        [B, value_channels * 42] (conv, BatchNorm, ReLU, flatten)."""
        return self.value_head[:4]

    @property
    def value_linears(self) -> tuple[nn.Linear, nn.Linear]:
        """The value head's two linear layers (features -> hidden -> 1, before the tanh)."""
        return self.value_head[4], self.value_head[6]

    def flops_per_position(self) -> int:
        """Multiply-adds x 2 of one forward pass (convolutions and linear layers; the reply
        head, which search never runs, left out)."""
        total = 0
        cells = ROWS * COLS
        skip = set(self.reply_head.modules()) if self.reply_head is not None else set()
        for m in (m for m in self.modules() if m not in skip):
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1]
                total += 2 * m.in_channels * m.out_channels * k * cells
            elif isinstance(m, nn.Linear):
                total += 2 * m.in_features * m.out_features
        return total


def build_net(cfg: NetConfig, device: torch.device | str = "cpu") -> ConnectNet:
    """A freshly initialised ConnectNet on ``device`` (``cfg`` resolved for that device; the
    weights are drawn on the CPU, so a seed gives the same net on any device)."""
    device = torch.device(device)
    return to_device(ConnectNet(cfg.resolve(device.type == "cuda")), device)


def fresh_net(cfg: NetConfig, seed: int, device: torch.device | str = "cpu") -> ConnectNet:
    """The untrained net of a run or a command: ``build_net`` after seeding torch with
    ``seed``."""
    torch.manual_seed(seed)
    return build_net(cfg, device)


def to_device(net: ConnectNet, device: torch.device | str) -> ConnectNet:
    """``net`` moved to ``device``, in channels-last layout on CUDA (faster convolutions)."""
    device = torch.device(device)
    net = net.to(device)
    return net.to(memory_format=torch.channels_last) if device.type == "cuda" else net


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Reduced precision used for inference and training: bf16 on CUDA where supported (no
    loss scaling needed), else fp16 on older CUDA GPUs; None (full fp32) on CPU, where
    autocast is slower than fp32 for these small convolutions."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
