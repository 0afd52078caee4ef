"""The AlphaZero loop over a run folder; every stage hands off through files, so a run killed
at any moment resumes where it stopped.

Run folder::

    config.yaml              the resolved config (edit iterations to extend the run)
    best.pt                  the net that plays self-play; its iteration field says which
    candidates/iter_XXXX.pt  the trained net of each iteration, with its optimizer state
    data/iter_XXXX/*.pkl     self-play dataset files (chunks; finished ones are never redone)
    evals/iter_XXXX.json     arena result, promotion decision and reference results
    metrics.jsonl            one line per finished iteration
    tb/                      TensorBoard logs

One iteration reads like the algorithm: self-play with the best net -> train the candidate on
the replay window -> candidate against best in the arena -> promote or keep -> measure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import checkpoint, faults
from .arena import (
    MCTSPlayer, PolicyPlayer, arena_match, elo_from_score, play_match, promote, reference_player,
    score_positions,
)
from .cluster import run_ray_pool
from .config import Config, ConfigError, dump, load
from .data import atomic_write_bytes, load_dataset, split_by_game
from .mcts import match_config
from .net import build_net, make_evaluator, select_device
from .positions import PONS, load_positions, path_of
from .selfplay import run_pool
from .train import Trainer, lr_at


@dataclass(frozen=True)
class RunPaths:
    root: str

    @property
    def config(self) -> str:
        return os.path.join(self.root, "config.yaml")

    @property
    def best(self) -> str:
        return os.path.join(self.root, "best.pt")

    @property
    def metrics(self) -> str:
        return os.path.join(self.root, "metrics.jsonl")

    @property
    def tb(self) -> str:
        return os.path.join(self.root, "tb")

    def data(self, it: int) -> str:
        return os.path.join(self.root, "data", f"iter_{it:04d}")

    def candidate(self, it: int) -> str:
        return os.path.join(self.root, "candidates", f"iter_{it:04d}.pt")

    def eval(self, it: int) -> str:
        return os.path.join(self.root, "evals", f"iter_{it:04d}.json")


def write_json(path: str, obj: dict) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def read_metrics(path: str) -> list[dict]:
    """Finished iterations, one dict each; a torn last line (a kill mid-append) is skipped."""
    out: dict[int, dict] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and "iteration" in row:
                    out[row["iteration"]] = row
    return [out[k] for k in sorted(out)]


def _append_metrics(path: str, row: dict) -> None:
    # A kill mid-write can leave a torn line; start on a fresh line so the next row is whole.
    prefix = ""
    if os.path.exists(path) and os.path.getsize(path):
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            prefix = "" if fh.read(1) == b"\n" else "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(prefix + json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# --------------------------------------------------------------------------------------------
# Creating and reopening runs
# --------------------------------------------------------------------------------------------


def create_run(run_dir: str, cfg: Config) -> bool:
    """A new run folder with the resolved config and a freshly initialised best net.

    If ``run_dir`` already holds a run with exactly this config, nothing is written and False
    is returned (the caller resumes it); a run with another config is a ``ConfigError``.
    """
    import torch

    device = select_device(cfg.train.device)
    cfg = dataclasses.replace(cfg, net=cfg.net.resolve(device.type == "cuda"))
    if os.path.exists(os.path.join(run_dir, "config.yaml")):
        if load(os.path.join(run_dir, "config.yaml")) == cfg:
            return False
        raise ConfigError(f"run folder {run_dir!r} already holds a run with another config; "
                          f"continue it with --resume {run_dir} or choose another --run-dir")
    os.makedirs(run_dir, exist_ok=True)
    torch.manual_seed(cfg.selfplay.seed)
    net = build_net(cfg.net, "cpu")
    # The net first, the config last: a folder with config.yaml is always a complete run.
    checkpoint.save(RunPaths(run_dir).best, net, iteration=0, meta={"elo": 0.0})
    dump(cfg, RunPaths(run_dir).config)
    return True


def open_run(run_dir: str, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a run's config, apply overrides (saved back), and check it against best.pt."""
    paths = RunPaths(run_dir)
    if not os.path.exists(paths.config):
        raise ConfigError(f"{run_dir!r} is not a run folder (no config.yaml); start one with "
                          "'alphazero pipeline --config FILE --run-dir DIR'")
    cfg = load(paths.config, overrides)
    if overrides:
        dump(cfg, paths.config)
    if cfg.net.blocks is None:  # a hand-written config.yaml: resolve as on creation
        cfg = dataclasses.replace(cfg, net=cfg.net.resolve(select_device(
            cfg.train.device).type == "cuda"))
    checkpoint.load(paths.best, "cpu", expect=cfg.net)
    return cfg


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def run(run_dir: str, progress: bool = True, log: Callable[[str], None] = print,
        ray_address: str | None = None) -> list[dict]:
    """Run (or resume) the iterations of the run in ``run_dir``; returns all metrics rows.
    With ``ray_address`` self-play runs on that Ray cluster (see ``cluster.py``)."""
    from torch.utils.tensorboard import SummaryWriter

    cfg = open_run(run_dir)
    paths = RunPaths(run_dir)
    device = select_device(cfg.train.device)
    done = {r["iteration"] for r in read_metrics(paths.metrics)}
    total = cfg.pipeline.iterations
    todo = [it for it in range(1, total + 1) if it not in done]
    if not todo:
        log(f"run {run_dir}: all {total} iterations are done; raise pipeline.iterations in "
            f"{paths.config} to extend it")
        return read_metrics(paths.metrics)
    log(f"run {run_dir}: iterations {todo[0]}..{total} of {total}, net {cfg.net.describe()}, "
        f"{cfg.mcts.num_simulations} sims, device {device}")
    positions = load_positions(path_of(PONS))[::5] if cfg.pipeline.positions_eval else []
    # Fail in one clear line before any work if the folder cannot be written (read-only, full).
    probe = os.path.join(run_dir, ".write-probe")
    atomic_write_bytes(probe, b"ok")
    os.unlink(probe)
    writer = SummaryWriter(paths.tb)
    durations: list[float] = []
    try:
        for it in todo:
            t0 = time.perf_counter()
            row = iteration(it, cfg, paths, device, writer, positions, progress, ray_address)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            faults.point("metrics")
            _append_metrics(paths.metrics, row)
            durations.append(row["seconds"])
            eta = np.mean(durations) * (total - it)
            log(summary_line(row, total) + f" | {_fmt_time(row['seconds'])}, "
                f"ETA {_fmt_time(eta)}")
            writer.flush()
    finally:
        writer.close()
    return read_metrics(paths.metrics)


def summary_line(row: dict, total: int) -> str:
    t, a = row["train"], row["arena"]
    refs = " ".join(f"{k} {v['score']:.0%}" for k, v in row.get("reference", {}).items())
    pol = row.get("policy_mistakes")
    return (f"iter {row['iteration']}/{total} | {row['selfplay']['positions']} positions "
            f"({row['selfplay']['positions_per_s']:.0f}/s) | loss {t['total']:.3f} "
            f"(v {t['value']:.3f} p {t['policy']:.3f}) val {row['val'].get('total', float('nan')):.3f}"
            f" | arena W{a['wins']}/D{a['draws']}/L{a['losses']} "
            f"{'promoted' if a['promoted'] else 'kept best'}"
            + (f" | vs {refs}" if refs else "")
            + (f" | policy mistakes {pol:.1%}" if pol is not None else ""))


def _selfplay_seed(seed: int, it: int) -> int:
    return seed * 1_000_003 + it


def iteration(it: int, cfg: Config, paths: RunPaths, device, writer, positions,
              progress: bool, ray_address: str | None = None) -> dict:
    """One iteration; each phase is skipped when its output file already exists."""
    # 1. Self-play with the best net: resumable chunk by chunk.
    sp = dataclasses.replace(cfg.selfplay, seed=_selfplay_seed(cfg.selfplay.seed, it))
    cpu0 = _cpu_seconds()
    if ray_address:
        stats = run_ray_pool(ray_address, paths.best, cfg.net, cfg.mcts, sp, paths.data(it),
                             meta={"iteration": it}, progress=progress,
                             desc=f"iter {it} self-play (ray)")
    else:
        stats = run_pool(paths.best, cfg.net, cfg.mcts, sp, paths.data(it),
                         meta={"iteration": it}, progress=progress,
                         desc=f"iter {it} self-play")
    sp_positions = _count_positions(paths.data(it))
    cpu1 = _cpu_seconds()

    # 2. Train the candidate on the replay window, continuing the previous candidate.
    cand = paths.candidate(it)
    if not os.path.exists(cand):
        _train_candidate(it, cfg, paths, device, writer, progress)
    ck = checkpoint.load(cand, device, expect=cfg.net)
    train_info = ck.meta
    cpu2 = _cpu_seconds()

    # 3. Arena against the best, then promotion (idempotent: best.pt records its iteration).
    ev_path = paths.eval(it)
    best_ck = checkpoint.load(paths.best, device, expect=cfg.net)
    if os.path.exists(ev_path):
        with open(ev_path, encoding="utf-8") as fh:
            ev = json.load(fh)
    else:
        result = arena_match(make_evaluator(ck.net, device), make_evaluator(best_ck.net, device),
                             cfg.arena, cfg.mcts, seed=it, progress=progress)
        promoted = promote(result, cfg.arena)
        prev_elo = float(best_ck.meta.get("elo", 0.0))
        ev = {"iteration": it, "wins": result.wins, "draws": result.draws,
              "losses": result.losses, "score": result.score, "promoted": promoted,
              "elo": prev_elo + (elo_from_score(result.score, result.n) if promoted else 0.0)}
        ev["reference"] = _reference(ck.net if promoted else best_ck.net, cfg, device, it)
        ev["candidate_policy_mistakes"] = _policy_mistakes(ck.net, device, positions)
        ev["policy_mistakes"] = (ev["candidate_policy_mistakes"] if promoted
                                 else _policy_mistakes(best_ck.net, device, positions))
        os.makedirs(os.path.dirname(ev_path), exist_ok=True)
        write_json(ev_path, ev)
    faults.point("promote")
    if ev["promoted"] and best_ck.iteration < it:
        checkpoint.save(paths.best, ck.net, iteration=it, meta={"elo": ev["elo"]})

    writer.add_scalar("arena/score", ev["score"], it)
    writer.add_scalar("arena/promoted", float(ev["promoted"]), it)
    writer.add_scalar("elo/best", ev["elo"], it)
    for name, r in ev["reference"].items():
        writer.add_scalar(f"reference/{name}", r["score"], it)
    if ev.get("policy_mistakes") is not None:
        writer.add_scalar("positions/policy_mistake_rate", ev["policy_mistakes"], it)
    if ev.get("candidate_policy_mistakes") is not None:
        writer.add_scalar("positions/candidate_policy_mistake_rate",
                          ev["candidate_policy_mistakes"], it)
    writer.add_scalar("selfplay/positions", sp_positions, it)
    return {
        "iteration": it,
        "selfplay": {"positions": sp_positions, "games": cfg.selfplay.games,
                     "positions_per_s": (stats["positions"] / stats["seconds"]
                                         if stats["seconds"] else 0.0)},
        "train": train_info.get("train", {}),
        "val": train_info.get("val", {}),
        "window_positions": train_info.get("window_positions"),
        "arena": {k: ev[k] for k in ("wins", "draws", "losses", "score", "promoted")},
        "elo": ev["elo"],
        "reference": ev["reference"],
        "policy_mistakes": ev.get("policy_mistakes"),
        "candidate_policy_mistakes": ev.get("candidate_policy_mistakes"),
        # CPU seconds of this process and its finished workers (Ray actors not included);
        # a resumed iteration counts only the part done after the restart.
        "cpu_seconds": {"selfplay": round(cpu1 - cpu0, 1), "train": round(cpu2 - cpu1, 1),
                        "total": round(_cpu_seconds() - cpu0, 1)},
    }


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _count_positions(folder: str) -> int:
    from .data import read_samples

    return sum(len(read_samples(os.path.join(folder, f))) for f in sorted(os.listdir(folder))
               if f.endswith(".pkl"))


def _train_candidate(it: int, cfg: Config, paths: RunPaths, device, writer,
                     progress: bool) -> None:
    t = cfg.train
    first = max(1, it - t.replay_iterations + 1)
    # Older folders of the window may have been deleted to save space: use what is there.
    dirs = [paths.data(i) for i in range(first, it + 1) if os.path.isdir(paths.data(i))]
    ds = load_dataset(dirs, t.max_samples)
    tr_idx, va_idx = split_by_game(ds.game, t.validation_fraction, seed=t.seed + it)
    prev = paths.candidate(it - 1)
    start = checkpoint.load(prev if os.path.exists(prev) else paths.best, device,
                            expect=cfg.net)
    trainer = Trainer(start.net, t, device, optimizer_state=start.optimizer, writer=writer,
                      global_step=int(start.meta.get("global_step", 0)))
    fit = trainer.fit(ds.samples.take(tr_idx), ds.samples.take(va_idx),
                      lr=lr_at(t, it, cfg.pipeline.iterations), seed=it, progress=progress,
                      desc=f"iter {it} train")
    os.makedirs(os.path.dirname(paths.candidate(it)), exist_ok=True)
    checkpoint.save(paths.candidate(it), trainer.net, iteration=it, optimizer=trainer.opt,
                    meta={"global_step": trainer.global_step, "train": fit.train, "val": fit.val,
                          "steps": fit.steps, "samples_per_s": fit.samples_per_s,
                          "window_positions": len(ds.samples)})


def _reference(net, cfg: Config, device, it: int) -> dict:
    out = {}
    if cfg.pipeline.eval_games <= 0:
        return out
    m = match_config(cfg.mcts, cfg.arena.num_simulations)
    me = MCTSPlayer(make_evaluator(net, device), m, "best")
    for spec in cfg.pipeline.eval_opponents:
        r = play_match(me, reference_player(spec, seed=it), cfg.pipeline.eval_games,
                       cfg.arena.opening_plies, seed=10_000 + it, parallel=cfg.arena.parallel_games)
        out[spec] = {"wins": r.wins, "draws": r.draws, "losses": r.losses, "score": r.score}
    return out


def _policy_mistakes(net, device, positions) -> float | None:
    if not positions:
        return None
    scores = score_positions(PolicyPlayer(make_evaluator(net, device)), positions)
    n = sum(s.n for s in scores.values())
    return sum(s.mistakes for s in scores.values()) / n
