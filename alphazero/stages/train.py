"""Training: loss = value MSE + policy cross-entropy against the search distribution (+ the
reply head's cross-entropy against the opponent's next search policy, when the net has one).

``train_and_save`` is the one entry point (the ``train`` command and the pipeline both call
it): dataset folders -> window and game-level split -> ``Trainer.fit`` -> checkpoint. The loop
itself (``Trainer.fit``) is one screen: minibatches from the replay window, AdamW or SGD with
momentum, gradient clipping, autocast on CUDA. The optimizer state travels in the checkpoint,
so it carries over from one iteration to the next.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as Fn

from alphazero.core import faults
from alphazero.core.config import ConfigError, TrainConfig
from alphazero.nn import checkpoint
from alphazero.nn.net import ConnectNet, autocast_dtype
from alphazero.replay.dataset import load_dataset, minibatches, split_by_game, unseen, value_targets
from alphazero.replay.shards import Samples
from alphazero.report.reporter import SILENT, Reporter


def make_optimizer(net: ConnectNet, cfg: TrainConfig, state: dict | None = None,
                   notice: Callable[[str], None] = print) -> torch.optim.Optimizer:
    """The configured optimizer for ``net``, continuing ``state`` (a saved optimizer's state)
    when it is of the same kind. The config governs: learning rate, weight decay, betas and
    momentum are set from ``cfg`` after the state is loaded; a state of another kind, or one
    that does not fit the net, is dropped with a one-line ``notice``."""
    # No weight decay on biases and BatchNorm parameters (1-d tensors), as is usual.
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay}, {"params": no_decay}]
    if cfg.optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                                                     nesterov=True)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
    if state:
        saved = "sgd" if "momentum" in state["param_groups"][0] else "adamw"
        if saved != cfg.optimizer:
            notice(f"train: the checkpoint's optimizer state is {saved} but train.optimizer is "
                   f"{cfg.optimizer}; starting a fresh {cfg.optimizer} optimizer")
        else:
            try:
                opt.load_state_dict(state)
            except (ValueError, KeyError):
                notice("train: the checkpoint's optimizer state does not fit this net; "
                       "starting a fresh optimizer")
    for group, wd in zip(opt.param_groups, (cfg.weight_decay, 0.0)):
        group.update(lr=cfg.lr, weight_decay=wd)
        if cfg.optimizer == "sgd":
            group["momentum"] = cfg.momentum
        else:
            group["betas"] = tuple(cfg.betas)
    return opt


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based, counted over the whole run).

    ``cosine``: from ``lr`` down to ``lr * lr_final_fraction`` over ``lr_decay_steps`` steps,
    then constant. Keyed to steps taken, not to the run's planned length, so extending a run
    never raises the rate.
    """
    if cfg.lr_schedule == "constant":
        return cfg.lr
    frac = min(step / max(cfg.lr_decay_steps, 1), 1.0)
    lo = cfg.lr * cfg.lr_final_fraction
    return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * frac))


def losses(net: ConnectNet, states: torch.Tensor, policies: torch.Tensor, z: torch.Tensor,
           targets: torch.Tensor, replies: torch.Tensor, value_weight: float = 1.0,
           reply_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """states float [B, 3, 6, 7], policies [B, 7], game results z [B], value targets [B],
    opponent replies [B, 7] (zero rows: none) -> dict of scalar tensors: ``total`` (what
    training minimises: value_weight * value + policy + reply_weight * reply), ``value`` (MSE
    against the targets), ``value_z`` (MSE against z), ``policy`` (cross-entropy),
    ``policy_kl`` (KL from the target policy: cross-entropy minus the target's entropy),
    ``entropy`` (of the net's policy), ``sign_acc`` (value sign right on decided games), and
    with a reply head ``reply`` (its cross-entropy over the positions with a reply)."""
    logits, v, reply_logits = net.forward_train(states)
    logits, v = logits.float(), v.float()
    logp = torch.log_softmax(logits, dim=-1)
    policy_loss = -(policies * logp).sum(dim=-1).mean()
    target_entropy = -torch.xlogy(policies, policies).sum(dim=-1).mean()
    value_loss = Fn.mse_loss(v, targets)
    entropy = -(logp.exp() * logp).sum(dim=-1).mean()
    decided = z != 0
    sign_acc = ((torch.sign(v) == torch.sign(z)) & decided).sum() / decided.sum().clamp(min=1)
    out = {"total": value_weight * value_loss + policy_loss, "value": value_loss,
           "value_z": Fn.mse_loss(v, z), "policy": policy_loss,
           "policy_kl": policy_loss - target_entropy, "entropy": entropy, "sign_acc": sign_acc}
    if reply_logits is not None:
        # Rows without a reply are zeros: they add nothing to the sum, and the mean is over
        # the rows that have one.
        per_row = -(replies * torch.log_softmax(reply_logits.float(), dim=-1)).sum(dim=-1)
        out["reply"] = per_row.sum() / (replies.sum(dim=-1) > 0).sum().clamp(min=1)
        if reply_weight > 0:  # at 0 the head gets no gradient, so no weight decay either
            out["total"] = out["total"] + reply_weight * out["reply"]
    return out


def trunk_weights(net: ConnectNet) -> list[torch.Tensor]:
    """The convolution weights of the stem and the residual blocks: every one feeds a
    BatchNorm, so the function is invariant to their scale and only their direction learns."""
    return [p for m in (net.stem, net.blocks) for p in m.parameters() if p.ndim > 1]


def _norm(tensors: list[torch.Tensor]) -> float:
    return float(torch.sqrt(sum((t.detach().float() ** 2).sum() for t in tensors)))


@dataclass
class FitResult:
    """One ``fit``: steps taken, mean training losses, validation losses, speed; and, from
    ``train_and_save``, the positions trained on and held out and the files they came from,
    and the validation losses over the held-out positions that occur nowhere in training
    (``val_unseen``; ``unseen_share`` of the held-out positions)."""

    steps: int
    train: dict[str, float]
    val: dict[str, float]
    samples_per_s: float
    seconds: float
    positions: int = 0
    held_out: int = 0
    files: int = 0
    val_unseen: dict[str, float] = field(default_factory=dict)
    unseen_share: float = 0.0


class Trainer:
    """Owns a net and its optimizer; ``fit`` runs one iteration's worth of steps."""

    #: Every this many steps, measure the trunk's relative update ||dw|| / ||w||.
    MEASURE_EVERY = 10

    def __init__(self, net: ConnectNet, cfg: TrainConfig, device: torch.device,
                 optimizer_state: dict | None = None, reporter: Reporter = SILENT,
                 global_step: int = 0):
        if cfg.reply_weight > 0 and net.reply_head is None:
            raise ConfigError(f"train.reply_weight: {cfg.reply_weight} but the net has no reply "
                              "head; set train.reply_weight=0, or start from a net with one "
                              "(--set net.reply_head=true for a new one)")
        self.net, self.cfg, self.device = net, cfg, device
        self.reporter = reporter
        self.opt = make_optimizer(net, cfg, optimizer_state, notice=reporter.line)
        self.amp = autocast_dtype(device) if cfg.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        self.global_step = global_step
        self._steps_measured: list[float] = []
        if device.type == "cuda":
            # Every step has the same batch shape: cuDNN's timed choice of kernels pays for
            # itself within a few steps.
            torch.backends.cudnn.benchmark = True

    def _tensors(self, *arrays: np.ndarray) -> list[torch.Tensor]:
        dev = self.device
        out = [torch.from_numpy(np.ascontiguousarray(a)).to(dev, non_blocking=True)
               for a in arrays]
        out[0] = out[0].float()
        if dev.type == "cuda":
            out[0] = out[0].contiguous(memory_format=torch.channels_last)
        return out

    def validate(self, samples: Samples, batch_size: int = 1024) -> dict[str, float]:
        """Mean losses over ``samples`` in eval mode (no augmentation), against the same
        targets as training (``value``) and against the game results (``value_z``)."""
        if not len(samples):
            return {}
        self.net.eval()
        targets = value_targets(samples, self.cfg.value_q_weight)
        sums: dict[str, float] = {}
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.amp,
                                                    enabled=self.amp is not None):
            for i in range(0, len(samples), batch_size):
                sl = slice(i, i + batch_size)
                batch = self._tensors(samples.states[sl], samples.policies[sl],
                                      samples.outcomes[sl], targets[sl], samples.replies[sl])
                for k, t in losses(self.net, *batch, self.cfg.value_weight,
                                   self.cfg.reply_weight).items():
                    sums[k] = sums.get(k, 0.0) + t.item() * len(targets[sl])
        return {k: s / len(samples) for k, s in sums.items()}

    def step(self, x: torch.Tensor, p: torch.Tensor, z: torch.Tensor,
             v: torch.Tensor, r: torch.Tensor) -> dict[str, float]:
        """One gradient step on a batch (planes [b, 3, 6, 7], policies [b, 7], results [b],
        value targets [b], replies [b, 7]) at the schedule's learning rate; returns its
        losses."""
        lr = lr_at(self.cfg, self.global_step)
        for g in self.opt.param_groups:
            g["lr"] = lr
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            out = losses(self.net, x, p, z, v, r, self.cfg.value_weight, self.cfg.reply_weight)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(out["total"]).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        measure = self.global_step % self.MEASURE_EVERY == 0
        before = [w.detach().clone() for w in trunk_weights(self.net)] if measure else []
        self.scaler.step(self.opt)
        self.scaler.update()
        if measure:
            moved = [w.detach() - b for w, b in zip(trunk_weights(self.net), before)]
            self._steps_measured.append(_norm(moved) / max(_norm(before), 1e-12))
        self.global_step += 1
        faults.point("train_step")
        # One device sync per step.
        vals = torch.stack([t.detach().float() for t in out.values()]).tolist()
        return {**dict(zip(out, vals)), "lr": lr}

    def fit(self, train: Samples, val: Samples, seed: int = 0) -> FitResult:
        """``cfg.epochs`` passes over ``train`` (at least one step); returns mean train losses
        and the validation losses after training, against the same targets (value targets
        mix in the root search value by ``cfg.value_q_weight``; ``value_z`` scores against
        the game results alone), plus the trunk's weight norm and mean relative step."""
        cfg, rep = self.cfg, self.reporter
        targets = value_targets(train, cfg.value_q_weight)
        steps = max(1, math.ceil(cfg.epochs * len(train) / cfg.batch_size))
        rng = np.random.default_rng([cfg.seed, seed])
        self.net.train()
        self._steps_measured = []
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = rep.bar(steps, "train", "step")
        for batch in minibatches(train, targets, cfg.batch_size, rng, cfg.mirror, steps):
            vals = self.step(*self._tensors(*batch))
            for k, x in vals.items():
                sums[k] = sums.get(k, 0.0) + x
                rep.scalar(f"train/{k}", x, self.global_step)
            bar.set_postfix_str(f"loss {vals['total']:.3f}", refresh=False)
            bar.update(1)
        bar.close()
        seconds = time.perf_counter() - t0
        train_means = {k: s / steps for k, s in sums.items()}
        train_means["weight_norm"] = _norm(trunk_weights(self.net))
        train_means["effective_step"] = float(np.mean(self._steps_measured or [0.0]))
        val_metrics = self.validate(val)
        sps = steps * cfg.batch_size / max(seconds, 1e-9)
        for k, x in val_metrics.items():
            rep.scalar(f"val/{k}", x, self.global_step)
        for k in ("weight_norm", "effective_step"):
            rep.scalar(f"train/{k}", train_means[k], self.global_step)
        rep.scalar("train/samples_per_s", sps, self.global_step)
        self.net.eval()
        return FitResult(steps, train_means, val_metrics, sps, seconds)


def train_and_save(start: checkpoint.Checkpoint, dirs: list[str], cfg: TrainConfig,
                   device: torch.device, out: str, iteration: int, seed: int = 0,
                   reporter: Reporter = SILENT) -> FitResult:
    """Train ``start``'s net (and its optimizer state) on the dataset files of ``dirs`` and
    save the result to ``out`` as iteration ``iteration``.

    The window is the ``cfg.max_samples`` most recent positions; whole games are held out by
    their stable ids (``dataset.split_by_game`` with ``cfg.seed``: the same games every
    iteration). ``seed`` (batch order) is passed to ``Trainer.fit``. Raises ``DataError`` on
    bad data.
    """
    ds = load_dataset(dirs, cfg.max_samples)
    tr, va = split_by_game(ds.game, cfg.validation_fraction, cfg.seed)
    trainer = Trainer(start.net, cfg, device, optimizer_state=start.optimizer,
                      reporter=reporter, global_step=int(start.meta.get("global_step", 0)))
    train, val = ds.samples.take(tr), ds.samples.take(va)
    fit = trainer.fit(train, val, seed=seed)
    new = np.flatnonzero(unseen(val.states, train.states)) if len(val) else np.zeros(0, int)
    val_unseen = trainer.validate(val.take(new))
    for k, x in val_unseen.items():
        reporter.scalar(f"val_unseen/{k}", x, trainer.global_step)
    share = round(len(new) / len(val), 4) if len(val) else 0.0
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    checkpoint.save(out, trainer.net, iteration=iteration, optimizer=trainer.opt,
                    meta={"global_step": trainer.global_step, "train": fit.train, "val": fit.val,
                          "val_unseen": val_unseen, "unseen_share": share,
                          "steps": fit.steps, "samples_per_s": fit.samples_per_s,
                          "window_positions": len(ds.samples)})
    return dataclasses.replace(fit, positions=len(tr), held_out=len(va), files=ds.files,
                               val_unseen=val_unseen, unseen_share=share)
