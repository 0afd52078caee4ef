"""Weight averaging: one net from several checkpoints of the same run (SWA, as KataGo ships
its nets).

Late in a run, at a small learning rate, consecutive candidates scatter around a point that
none of them reaches; their parameter mean sits nearer it. A mean of BatchNorm's running
statistics is not the statistics of the averaged net, so they are measured afresh: the
averaged net runs over real positions in training mode, with a cumulative (not exponential)
running average, and nothing else changes.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from alphazero.nn.net import ConnectNet


def average_nets(nets: list[ConnectNet], planes: np.ndarray, batch: int = 256) -> ConnectNet:
    """The parameter mean of ``nets`` (one architecture), BatchNorm statistics measured on
    ``planes`` (uint8 or int8 [n, 3, 6, 7], positions of the nets' own games, taken in a
    fixed shuffled order). Returns a new
    net in eval mode; ``nets`` are not changed."""
    if not nets or not len(planes):
        raise ValueError("average_nets needs at least one net and one position")
    if any(n.cfg.sizes() != nets[0].cfg.sizes() or n.cfg.reply_head != nets[0].cfg.reply_head
           for n in nets):
        raise ValueError("average_nets: the nets differ in architecture")
    out = copy.deepcopy(nets[0]).cpu()
    states = [n.state_dict() for n in nets]
    with torch.no_grad():
        for name, p in out.named_parameters():
            p.copy_(torch.stack([s[name].float().cpu() for s in states]).mean(0))
    _measure_batchnorm(out, planes, batch)
    return out.eval()


def _measure_batchnorm(net: ConnectNet, planes: np.ndarray, batch: int) -> None:
    """Reset every BatchNorm's running statistics and measure them over ``planes``."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative mean over all batches, not a decaying one
    # Shuffled (fixed seed): a file's positions come game by game, and batches of a few whole
    # games would hide the variance between games that training's shuffled batches see.
    planes = planes[np.random.default_rng(0).permutation(len(planes))]
    net.train()
    with torch.no_grad():
        for i in range(0, len(planes), batch):
            # forward_train: the reply head, when there is one, has BatchNorm too
            net.forward_train(torch.from_numpy(np.asarray(planes[i:i + batch], np.float32)))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
