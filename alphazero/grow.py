"""Grow a trained net into a wider or deeper one that computes exactly the same function.

A warm start for a bigger net (``alphazero pipeline --init-from`` a smaller checkpoint): the
grown net plays as well as the one it came from on its first move, and training is free to
use the new capacity from there. Shape of the idea from Net2Net (Chen et al., 2016), but with
zeroed outgoing weights instead of copied channels, so no symmetry has to be broken:

* **wider** (more trunk channels): every convolution keeps its old weights; an old output
  channel reads nothing from the new input channels (zero weights), a new output channel
  reads everything through freshly drawn weights, and its BatchNorm starts at the defaults.
  The heads read only the old channels. The new channels compute something from the start, so
  the zero weights that hide them receive gradients at once.
* **deeper** (more residual blocks, appended after the old ones): a new block's second
  BatchNorm starts with scale and shift 0, so it adds nothing to its input
  (``relu(h + 0) = h`` as ``h`` is already the output of a ReLU), in training and eval mode.

The heads' own sizes (policy/value channels, value hidden units) must match.
"""

from __future__ import annotations

import torch

from .config import NetConfig
from .net import ConnectNet, fresh_net


class GrowError(ValueError):
    """A net that cannot be grown into the configured one, phrased for the user."""


def check_growable(old: NetConfig, new: NetConfig) -> None:
    """Raise ``GrowError`` unless ``old`` grows into ``new`` (both resolved): heads equal,
    at least as many blocks and channels."""
    heads = ("policy_channels", "value_channels", "value_hidden")
    if any(getattr(old, k) != getattr(new, k) for k in heads):
        raise GrowError(f"a net with heads {[getattr(old, k) for k in heads]} cannot grow into "
                        f"one with heads {[getattr(new, k) for k in heads]} ({', '.join(heads)})"
                        "; configure the checkpoint's head sizes")
    if new.blocks < old.blocks or new.channels < old.channels:
        raise GrowError(f"a {old.blocks}x{old.channels} net cannot shrink into "
                        f"{new.blocks}x{new.channels}; configure at least its blocks and "
                        "channels")


def grow(net: ConnectNet, cfg: NetConfig, seed: int = 0) -> ConnectNet:
    """``net`` grown into the resolved architecture ``cfg`` (CPU, same outputs: see the
    module doc); the new weights are drawn with ``seed``."""
    check_growable(net.cfg, cfg)
    big = fresh_net(cfg, seed)
    old = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    state = big.state_dict()
    with torch.no_grad():
        for key, new in state.items():
            if key in old:
                _embed(new, old[key])
            elif key.endswith("bn2.weight") or key.endswith("bn2.bias"):
                new.zero_()  # an appended block: its residual branch adds zero
    big.load_state_dict(state)
    return big


def _embed(new: torch.Tensor, old: torch.Tensor) -> None:
    """Write ``old`` into the leading corner of ``new`` in place (the linear layers, whose
    sizes are the heads', fit exactly); for a convolution, also cut the old output channels
    off the new input channels."""
    if old.dim() == 0:  # num_batches_tracked
        new.copy_(old)
        return
    corner = tuple(slice(0, n) for n in old.shape)
    new[corner] = old
    if old.dim() == 4:  # conv weight [out, in, k, k]
        new[: old.shape[0], old.shape[1]:] = 0
