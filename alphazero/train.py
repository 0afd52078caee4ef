"""Training: loss = value MSE + policy cross-entropy against the search distribution.

One visible loop (``Trainer.fit``): minibatches from the replay window, AdamW or SGD with
momentum, gradient clipping, autocast on CUDA. The optimizer state travels in the checkpoint,
so it carries over from one iteration to the next.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as Fn

from . import faults
from .config import TrainConfig
from .data import Samples, minibatches, mix_value_targets
from .net import ConnectNet, autocast_dtype


def make_optimizer(net: ConnectNet, cfg: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on biases and BatchNorm parameters (1-d tensors), as is usual.
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_at(cfg: TrainConfig, iteration: int, iterations: int) -> float:
    """Learning rate of ``iteration`` (1-based) out of ``iterations``."""
    if cfg.lr_schedule == "constant" or iterations <= 1:
        return cfg.lr
    frac = (iteration - 1) / (iterations - 1)
    lo = cfg.lr * cfg.lr_final_fraction
    return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * frac))


def losses(net: ConnectNet, states: torch.Tensor, policies: torch.Tensor, values: torch.Tensor,
           value_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """states float [B, 3, 6, 7], policies [B, 7], values [B] -> dict of scalar tensors:
    total, value (MSE), policy (cross-entropy), entropy (of the net's policy), sign_acc (value
    sign right on decided games)."""
    logits, v = net(states)
    logits, v = logits.float(), v.float()
    logp = torch.log_softmax(logits, dim=-1)
    policy_loss = -(policies * logp).sum(dim=-1).mean()
    value_loss = Fn.mse_loss(v, values)
    entropy = -(logp.exp() * logp).sum(dim=-1).mean()
    decided = values != 0
    sign_acc = ((torch.sign(v) == torch.sign(values)) & decided).sum() / decided.sum().clamp(min=1)
    return {"total": value_weight * value_loss + policy_loss, "value": value_loss,
            "policy": policy_loss, "entropy": entropy, "sign_acc": sign_acc}


@dataclass
class FitResult:
    steps: int
    train: dict[str, float]
    val: dict[str, float]
    samples_per_s: float
    seconds: float


class Trainer:
    """Owns a net and its optimizer; ``fit`` runs one iteration's worth of steps."""

    def __init__(self, net: ConnectNet, cfg: TrainConfig, device: torch.device,
                 optimizer_state: dict | None = None, writer=None, global_step: int = 0):
        self.net, self.cfg, self.device = net, cfg, device
        self.opt = make_optimizer(net, cfg)
        if optimizer_state:
            try:
                self.opt.load_state_dict(optimizer_state)
            except (ValueError, KeyError):
                pass  # a different optimizer or net: start its state afresh
        self.amp = autocast_dtype(device) if cfg.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        self.writer = writer
        self.global_step = global_step

    def _tensors(self, st, pol, val):
        dev = self.device
        x = torch.from_numpy(np.ascontiguousarray(st)).to(dev, non_blocking=True).float()
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        return (x, torch.from_numpy(np.ascontiguousarray(pol)).to(dev, non_blocking=True),
                torch.from_numpy(np.ascontiguousarray(val)).to(dev, non_blocking=True))

    def evaluate(self, samples: Samples, batch_size: int = 1024) -> dict[str, float]:
        """Mean losses over ``samples`` in eval mode (no augmentation)."""
        if not len(samples):
            return {}
        self.net.eval()
        sums: dict[str, float] = {}
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.amp,
                                                    enabled=self.amp is not None):
            for i in range(0, len(samples), batch_size):
                sl = slice(i, i + batch_size)
                x, p, v = self._tensors(samples.states[sl], samples.policies[sl],
                                        samples.values[sl])
                for k, t in losses(self.net, x, p, v, self.cfg.value_weight).items():
                    sums[k] = sums.get(k, 0.0) + t.item() * len(v)
        return {k: s / len(samples) for k, s in sums.items()}

    def fit(self, train: Samples, val: Samples, lr: float | None = None, seed: int = 0,
            progress: bool = True, desc: str = "train") -> FitResult:
        """``cfg.epochs`` passes over ``train`` (at least one step); returns mean train losses
        and the validation losses after training. Training value targets mix in the root
        search value by ``cfg.value_q_weight``; validation always scores against the game
        results, so runs with different mixes stay comparable."""
        from tqdm import tqdm

        cfg = self.cfg
        lr = cfg.lr if lr is None else lr
        for g in self.opt.param_groups:
            g["lr"] = lr
        train = mix_value_targets(train, cfg.value_q_weight)
        steps = max(1, math.ceil(cfg.epochs * len(train) / cfg.batch_size))
        rng = np.random.default_rng([cfg.seed, seed])
        self.net.train()
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        seen = 0
        bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False,
                   dynamic_ncols=True)
        for st, pol, val_t in minibatches(train, cfg.batch_size, rng, cfg.mirror, steps):
            x, p, v = self._tensors(st, pol, val_t)
            with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                out = losses(self.net, x, p, v, cfg.value_weight)
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(out["total"]).backward()
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.opt)
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
            self.scaler.step(self.opt)
            self.scaler.update()
            seen += len(v)
            self.global_step += 1
            faults.point("train_step")
            vals = dict(zip(out, torch.stack([t.detach().float() for t in out.values()])
                            .tolist()))  # one device sync per step
            for k, x_ in vals.items():
                sums[k] = sums.get(k, 0.0) + x_
            if self.writer is not None:
                for k, x_ in vals.items():
                    self.writer.add_scalar(f"train/{k}", x_, self.global_step)
                self.writer.add_scalar("train/lr", lr, self.global_step)
            bar.set_postfix_str(f"loss {vals['total']:.3f}", refresh=False)
            bar.update(1)
        bar.close()
        seconds = time.perf_counter() - t0
        train_means = {k: s / steps for k, s in sums.items()}
        val_metrics = self.evaluate(val)
        sps = seen / max(seconds, 1e-9)
        if self.writer is not None:
            for k, x_ in val_metrics.items():
                self.writer.add_scalar(f"val/{k}", x_, self.global_step)
            self.writer.add_scalar("train/samples_per_s", sps, self.global_step)
        self.net.eval()
        return FitResult(steps, train_means, val_metrics, sps, seconds)
