"""Training: loss = value MSE + policy cross-entropy against the search distribution.

``train_and_save`` is the one entry point (the ``train`` command and the pipeline both call
it): dataset folders -> window and game-level split -> ``Trainer.fit`` -> checkpoint. The loop
itself (``Trainer.fit``) is one screen: minibatches from the replay window, AdamW or SGD with
momentum, gradient clipping, autocast on CUDA. The optimizer state travels in the checkpoint,
so it carries over from one iteration to the next.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as Fn

from . import checkpoint, faults
from .config import TrainConfig
from .dataset import load_dataset, minibatches, mix_value_targets, split_by_game
from .net import ConnectNet, autocast_dtype
from .report import SILENT, Reporter
from .shards import Samples


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
                 optimizer_state: dict | None = None, reporter: Reporter = SILENT,
                 global_step: int = 0):
        self.net, self.cfg, self.device = net, cfg, device
        self.opt = make_optimizer(net, cfg)
        if optimizer_state:
            try:
                self.opt.load_state_dict(optimizer_state)
            except (ValueError, KeyError):
                pass  # a different optimizer or net: start its state afresh
        self.amp = autocast_dtype(device) if cfg.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        self.reporter = reporter
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

    def step(self, x: torch.Tensor, p: torch.Tensor, v: torch.Tensor) -> dict[str, float]:
        """One gradient step on a batch (planes [b, 3, 6, 7], policies [b, 7], values [b]);
        returns its losses."""
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            out = losses(self.net, x, p, v, self.cfg.value_weight)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(out["total"]).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.global_step += 1
        faults.point("train_step")
        # One device sync per step.
        return dict(zip(out, torch.stack([t.detach().float() for t in out.values()]).tolist()))

    def fit(self, train: Samples, val: Samples, lr: float | None = None,
            seed: int = 0) -> FitResult:
        """``cfg.epochs`` passes over ``train`` (at least one step); returns mean train losses
        and the validation losses after training. Training value targets mix in the root
        search value by ``cfg.value_q_weight``; validation always scores against the game
        results, so runs with different mixes stay comparable."""
        cfg, rep = self.cfg, self.reporter
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
        bar = rep.bar(steps, "train", "step")
        for st, pol, val_t in minibatches(train, cfg.batch_size, rng, cfg.mirror, steps):
            vals = self.step(*self._tensors(st, pol, val_t))
            seen += len(val_t)
            for k, x in vals.items():
                sums[k] = sums.get(k, 0.0) + x
                rep.scalar(f"train/{k}", x, self.global_step)
            rep.scalar("train/lr", lr, self.global_step)
            bar.set_postfix_str(f"loss {vals['total']:.3f}", refresh=False)
            bar.update(1)
        bar.close()
        seconds = time.perf_counter() - t0
        train_means = {k: s / steps for k, s in sums.items()}
        val_metrics = self.evaluate(val)
        sps = seen / max(seconds, 1e-9)
        for k, x_ in val_metrics.items():
            rep.scalar(f"val/{k}", x_, self.global_step)
        rep.scalar("train/samples_per_s", sps, self.global_step)
        self.net.eval()
        return FitResult(steps, train_means, val_metrics, sps, seconds)


def train_and_save(start: checkpoint.Checkpoint, dirs: list[str], cfg: TrainConfig,
                   device: torch.device, out: str, iteration: int, lr: float | None = None,
                   seed: int = 0, split_seed: int | None = None,
                   reporter: Reporter = SILENT) -> FitResult:
    """Train ``start``'s net (and its optimizer state) on the dataset files of ``dirs`` and
    save the result to ``out`` as iteration ``iteration``.

    The window is the ``cfg.max_samples`` most recent positions; whole games are held out by
    ``split_by_game`` with ``split_seed`` (default ``cfg.seed``). ``lr`` (default ``cfg.lr``)
    and ``seed`` (batch order) are passed to ``Trainer.fit``. Raises ``DataError`` on bad data.
    """
    ds = load_dataset(dirs, cfg.max_samples)
    tr, va = split_by_game(ds.game, cfg.validation_fraction,
                           cfg.seed if split_seed is None else split_seed)
    reporter.line(f"train: {len(tr)} positions ({len(va)} held out) from {ds.files} files, "
                  f"net {start.net.cfg.describe()}, device {device}")
    trainer = Trainer(start.net, cfg, device, optimizer_state=start.optimizer,
                      reporter=reporter, global_step=int(start.meta.get("global_step", 0)))
    fit = trainer.fit(ds.samples.take(tr), ds.samples.take(va), lr=lr, seed=seed)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    checkpoint.save(out, trainer.net, iteration=iteration, optimizer=trainer.opt,
                    meta={"global_step": trainer.global_step, "train": fit.train, "val": fit.val,
                          "steps": fit.steps, "samples_per_s": fit.samples_per_s,
                          "window_positions": len(ds.samples)})
    return fit
