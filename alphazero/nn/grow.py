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
* **wider heads** (policy/value channels, value hidden units): the same rule as the trunk; a
  linear layer's old outputs read nothing from its new inputs (the flattened features are
  channel-major, so a head's old channels stay its leading features).

* **a reply head** (``net.reply_head``, trained only, never run by search): added freshly
  drawn when the new net has one and the old one not; dropped when the new one has none.

No dimension may shrink.
"""

from __future__ import annotations

import torch

from alphazero.core.config import ARCH_KEYS, NetConfig
from alphazero.nn.net import ConnectNet, fresh_net


class GrowError(ValueError):
    """A net that cannot be grown into the configured one, phrased for the user."""


def check_growable(old: NetConfig, new: NetConfig) -> None:
    """Raise ``GrowError`` unless ``old`` grows into ``new`` (both resolved): no dimension
    smaller. The message names each dimension that would shrink and the ``--set`` options
    that keep it."""
    shrink = [(k, a, b) for k, a, b in zip(ARCH_KEYS, old.sizes(), new.sizes()) if b < a]
    if shrink:
        keep = " ".join(f"--set net.{k}={a}" for k, a, _ in shrink)
        raise GrowError(f"a {old.describe()} net cannot grow into {new.describe()}: "
                        f"{', '.join(f'{k} {a} -> {b}' for k, a, b in shrink)} would shrink; "
                        f"keep the checkpoint's with {keep}")


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
        big.load_state_dict(state)
        for block in big.blocks[net.cfg.blocks:]:  # appended: the residual branch adds zero
            block.branch_end.weight.zero_()
            block.branch_end.bias.zero_()
    return big


def _embed(new: torch.Tensor, old: torch.Tensor) -> None:
    """Write ``old`` into the leading corner of ``new`` in place; for a convolution or a
    linear layer, also cut the old outputs off the new inputs."""
    if old.dim() == 0:  # num_batches_tracked
        new.copy_(old)
        return
    corner = tuple(slice(0, n) for n in old.shape)
    new[corner] = old
    if old.dim() in (2, 4):  # linear [out, in], conv [out, in, k, k]
        new[: old.shape[0], old.shape[1]:] = 0
