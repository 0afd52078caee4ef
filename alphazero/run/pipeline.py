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

One iteration reads like the algorithm (``iteration``): self-play with the best net -> train
the candidate on the replay window -> candidate against best in the arena -> promote or keep ->
record. Each step is skipped when its output file already exists. What the run has to say goes
through one ``Reporter`` (console, TensorBoard, metrics.jsonl).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from alphazero.core import atomic, config, faults
from alphazero.core.config import Config, ConfigError
from alphazero.core.ratings import fit_elo, wilson
from alphazero.nn import checkpoint
from alphazero.nn.grow import GrowError, grow
from alphazero.nn.inference import evaluator_for
from alphazero.nn.net import fresh_net, select_device
from alphazero.replay.shards import read_samples
from alphazero.report import plots
from alphazero.report.reporter import SILENT, Reporter, read_metrics
from alphazero.rules import solver
from alphazero.rules.game import Boards
from alphazero.rules.positions import (
    PONS,
    LabelledPosition,
    load_positions,
    path_of,
    score_positions,
)
from alphazero.search.mcts import match_config
from alphazero.stages.arena import (
    MCTSPlayer,
    PolicyPlayer,
    arena_match,
    play_match,
    reference_player,
)
from alphazero.stages.breadth import measure
from alphazero.stages.cluster import RayPool
from alphazero.stages.train import train_and_save
from alphazero.stages.workers import ChunkRunner, WorkerPool, run_pool, work_summary


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


#: The search's mistakes are measured on every this-many-th position of the policy's set.
SEARCH_EVERY = 2

# --------------------------------------------------------------------------------------------
# Creating and reopening runs
# --------------------------------------------------------------------------------------------


def create_run(run_dir: str, cfg: Config, init_from: str | None = None,
               notice: Callable[[str], None] = print) -> bool:
    """A new run folder with the resolved config and its first best net: a fresh one, or the
    net of the checkpoint ``init_from`` (a warm start; its optimizer state, when it has one,
    becomes candidate 0, so training continues it, learning-rate schedule included; a smaller
    net is grown into the configured one, said through ``notice``).

    If ``run_dir`` already holds a run with exactly this config, nothing is written and False
    is returned (the caller resumes it); a run with another config is a ``ConfigError``.
    """
    device = select_device(cfg.train.device)
    cfg = dataclasses.replace(cfg, net=cfg.net.resolve(device.type == "cuda"))
    paths = RunPaths(run_dir)
    if os.path.exists(paths.config):
        if config.load(paths.config) == cfg:
            return False
        raise ConfigError(f"run folder {run_dir!r} already holds a run with another config; "
                          f"continue it with --resume {run_dir} or choose another --run-dir")
    start = _warm_start(init_from, cfg, notice) if init_from else None
    os.makedirs(run_dir, exist_ok=True)
    # The nets first, the config last: a folder with config.yaml is always a complete run.
    if start is None:
        checkpoint.save(paths.best, fresh_net(cfg.net, cfg.selfplay.seed), iteration=0,
                        meta={"elo": 0.0})
    else:
        checkpoint.save(paths.best, start.net, iteration=0,
                        meta={"elo": 0.0, "init_from": os.path.abspath(init_from)})
        if start.optimizer:
            os.makedirs(os.path.dirname(paths.candidate(0)), exist_ok=True)
            checkpoint.save(paths.candidate(0), start.net, iteration=0, optimizer=start.optimizer,
                            meta={"global_step": int(start.meta.get("global_step", 0))})
    config.dump(cfg, paths.config)
    return True


def _warm_start(path: str, cfg: Config, notice: Callable[[str], None]) -> checkpoint.Checkpoint:
    """The checkpoint at ``path`` as the start of a run of ``cfg``: as it is when its net is
    the configured one; grown into it (``grow.py``: same outputs) when it is smaller, without
    its optimizer state, so no candidate 0 is written and training starts a fresh optimizer
    and the learning-rate schedule at step 0."""
    start = checkpoint.load(path, "cpu")
    if checkpoint.same_arch(start.net_config, cfg.net):
        return start
    try:
        net = grow(start.net, cfg.net, cfg.selfplay.seed)
    except GrowError as e:
        raise ConfigError(f"--init-from {path!r}: {e}") from None
    notice(f"init-from: {start.net_config.describe()} grown into {cfg.net.describe()} (same "
           "outputs; a fresh optimizer)")
    return dataclasses.replace(start, net=net, net_config=net.cfg, optimizer=None)


def open_run(run_dir: str, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a run's config, apply overrides, check it against best.pt, and only then save
    the overrides back."""
    paths = RunPaths(run_dir)
    if not os.path.exists(paths.config):
        raise ConfigError(f"{run_dir!r} is not a run folder (no config.yaml); start one with "
                          "'alphazero pipeline --config FILE --run-dir DIR'")
    loaded = config.load(paths.config, overrides)
    cfg = loaded
    if cfg.net.blocks is None:  # a hand-written config.yaml: resolve as on creation
        cfg = dataclasses.replace(cfg, net=cfg.net.resolve(select_device(
            cfg.train.device).type == "cuda"))
    checkpoint.load(paths.best, "cpu", expect=cfg.net)
    # Saved only once the checks above passed: a rejected override leaves the run as it was.
    if overrides:
        config.dump(loaded, paths.config)
    return cfg


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------


def run(run_dir: str, console: Reporter = SILENT, ray_address: str | None = None) -> list[dict]:
    """Run (or resume) the iterations of the run in ``run_dir``; returns all metrics rows.

    ``console``: bars and lines (the run adds its TensorBoard writer and metrics file). With
    ``ray_address`` self-play runs on that Ray cluster (see ``cluster.py``).
    """
    from torch.utils.tensorboard import SummaryWriter

    cfg = open_run(run_dir)
    paths = RunPaths(run_dir)
    device = select_device(cfg.train.device)
    done = {r["iteration"] for r in read_metrics(paths.metrics)}
    total = cfg.pipeline.iterations
    todo = [it for it in range(1, total + 1) if it not in done]
    if not todo:
        console.line(f"run {run_dir}: all {total} iterations are done; raise "
                     f"pipeline.iterations in {paths.config} to extend it")
        return read_metrics(paths.metrics)
    console.line(f"run {run_dir}: iterations {todo[0]}..{total} of {total}, net "
                 f"{cfg.net.describe()}, {cfg.mcts.num_simulations} sims")
    console.line(_stages_line(cfg, device, ray_address))
    for warning in cfg.warnings():
        console.line(f"warning: {warning}")
    scored = cfg.pipeline.positions_eval or "pipeline.positions_eval" in cfg.schedule
    positions = load_positions(path_of(PONS))[::5] if scored else []
    _prepare_folder(paths)
    writer = SummaryWriter(paths.tb)
    reporter = dataclasses.replace(console, writer=writer, metrics=paths.metrics)
    durations: list[float] = []
    # Local processes are started by the first self-play that needs them; kept till the end.
    pool = RayPool(ray_address) if ray_address else WorkerPool(cfg.selfplay.workers)
    try:
        for it in todo:
            t0 = time.perf_counter()
            row = iteration(it, cfg, paths, device, positions, reporter.labelled(f"iter {it}"),
                            pool)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            durations.append(row["seconds"])
            record(reporter, row, total, eta=np.mean(durations) * (total - it),
                   hparams=flat_config(cfg))
    finally:
        if isinstance(pool, WorkerPool):
            pool.close()
        writer.close()
    return read_metrics(paths.metrics)


def _stages_line(cfg: Config, device, ray_address: str | None) -> str:
    """Where each stage runs and on which inference backend (``auto`` resolved here)."""
    from alphazero.nn.inference import resolve_backend
    from alphazero.stages.workers import worker_device, worker_inference

    sp = cfg.selfplay
    if ray_address:  # each actor finds its own device and backend on its own machine
        where, backend = f"the Ray cluster at {ray_address}", f"{sp.device}, resolved on each actor"
    else:
        where = ", ".join(sorted({worker_device(sp.device, w) for w in range(sp.workers)}))
        where = str(select_device(where)) if "," not in where else where
        backend = worker_inference(cfg.inference, cfg.net, sp.device).backend
    judge_backend, _ = resolve_backend(cfg.inference.backend, cfg.net, device)
    workers = f"{sp.workers} worker{'s' if sp.workers != 1 else ''}"
    return (f"self-play on {where} ({backend}, {workers} x {sp.parallel_games} games in "
            f"flight); training on {device}; arena on {device} ({judge_backend})")


def _prepare_folder(paths: RunPaths) -> None:
    """Fail in one clear line before any work if the folder cannot be written (read-only,
    full), and clear the temp files a killed run left."""
    probe = os.path.join(paths.root, ".write-probe")
    atomic.write_bytes(probe, b"ok")
    os.unlink(probe)
    for folder in (paths.root, os.path.dirname(paths.candidate(1)),
                   os.path.dirname(paths.eval(1))):
        atomic.remove_stale_temps(folder)


def iteration(it: int, cfg: Config, paths: RunPaths, device, positions: list[LabelledPosition],
              reporter: Reporter, pool: ChunkRunner | None = None) -> dict:
    """One iteration, with the settings ``cfg.schedule`` has in force at ``it``; each step is
    skipped when its output file already exists. ``pool``: self-play processes kept across
    iterations."""
    cfg = cfg.at(it)
    positions = positions if cfg.pipeline.positions_eval else []
    start = (_cpu_seconds(), time.perf_counter())
    stats = self_play(it, cfg, paths, reporter, pool)
    # The pool's workers are not reaped until the run ends, so os.times cannot see them:
    # their CPU comes from their own reports, counted as if spent before self-play began.
    pooled = stats.get("work", {}).get("process_cpu_seconds", 0.0)
    clock = [(start[0] - pooled, start[1]), (_cpu_seconds(), time.perf_counter())]
    cand = train_candidate(it, cfg, paths, device, reporter)
    clock.append((_cpu_seconds(), time.perf_counter()))
    ev = judge(it, cfg, paths, device, cand, positions, reporter)
    promote_if_better(it, ev, cand, paths)
    clock.append((_cpu_seconds(), time.perf_counter()))
    # CPU seconds of this process and its self-play workers (Ray actors not included), and
    # wall seconds, per phase; a resumed iteration counts only the part done after the restart.
    phases = ("selfplay", "train", "arena")
    cpu = {p: round(b[0] - a[0], 1) for p, a, b in zip(phases, clock, clock[1:])}
    cpu["total"] = round(clock[-1][0] - clock[0][0], 1)
    wall = {p: round(b[1] - a[1], 1) for p, a, b in zip(phases, clock, clock[1:])}
    return _row(it, cfg, _selfplay_summary(paths.data(it)), stats, cand.meta, ev, cpu, wall)


def self_play(it: int, cfg: Config, paths: RunPaths, reporter: Reporter,
              pool: ChunkRunner | None = None) -> dict:
    """Self-play with the best net into ``data/iter_XXXX``, chunk by chunk (resumable), in
    ``pool`` when given."""
    sp = dataclasses.replace(cfg.selfplay, seed=_selfplay_seed(cfg.selfplay.seed, it))
    args = (paths.best, cfg.net, cfg.mcts, sp, paths.data(it), {"iteration": it}, reporter,
            cfg.inference)
    return run_pool(*args, pool=pool)


def train_candidate(it: int, cfg: Config, paths: RunPaths, device,
                    reporter: Reporter) -> checkpoint.Checkpoint:
    """Train the candidate of ``it`` on the replay window, continuing the previous candidate
    (or the best net at the start); returns it, loaded on ``device``."""
    cand = paths.candidate(it)
    if not os.path.exists(cand):
        t = cfg.train
        # Older folders of the window may have been deleted to save space: use what is there.
        dirs = [paths.data(i) for i in range(max(1, it - t.replay_iterations + 1), it + 1)
                if os.path.isdir(paths.data(i))]
        prev = paths.candidate(it - 1)
        start = checkpoint.load(prev if os.path.exists(prev) else paths.best, device,
                                expect=cfg.net)
        train_and_save(start, dirs, t, device, cand, iteration=it, seed=it, reporter=reporter)
    return checkpoint.load(cand, device, expect=cfg.net)


def judge(it: int, cfg: Config, paths: RunPaths, device, cand: checkpoint.Checkpoint,
          positions: list[LabelledPosition], reporter: Reporter) -> dict:
    """The candidate against the best in the arena and the promotion decision; then the new
    best's reference matches, its mistakes on solved positions (raw policy and search), and
    its Elo fitted over every match of the run. Written to ``evals/iter_XXXX.json`` once."""
    if os.path.exists(paths.eval(it)):
        with open(paths.eval(it), encoding="utf-8") as fh:
            return json.load(fh)
    best = checkpoint.load(paths.best, device, expect=cfg.net)
    cand_ev = evaluator_for(cand.net, device, cfg.inference)
    best_ev = evaluator_for(best.net, device, cfg.inference)
    result, promoted = arena_match(cand_ev, best_ev, cfg.arena, cfg.mcts, seed=it,
                                   reporter=reporter)
    new_best_ev = cand_ev if promoted else best_ev
    ev = {"iteration": it, "wins": result.wins, "draws": result.draws,
          "losses": result.losses, "score": result.score, "promoted": promoted,
          "candidate": f"iter_{it}", "best": f"iter_{best.iteration}",
          "best_after": f"iter_{it if promoted else best.iteration}"}
    ev["reference"] = _reference(new_best_ev, cfg, it)
    ev["candidate_policy_mistakes"] = _mistakes(PolicyPlayer(cand_ev), positions)
    # A promoted candidate is the new best: its policy was just scored.
    ev["policy_mistakes"] = (ev["candidate_policy_mistakes"] if promoted else _mistakes(
        PolicyPlayer(best_ev), positions))
    searcher = MCTSPlayer(new_best_ev, match_config(cfg.mcts, cfg.arena.num_simulations))
    priors, values = new_best_ev(Boards.empty(1))
    ev["empty_board"] = {"policy": [round(float(x), 4) for x in priors[0]],
                         "value": round(float(values[0]), 4)}
    if (b := _breadth(searcher, cfg, it, reporter)) is not None:
        ev["breadth"] = b
    ev["search_mistakes"] = _mistakes(searcher, positions[::SEARCH_EVERY])
    ev["search_positions"] = len(positions[::SEARCH_EVERY])
    ev["policy_positions"] = len(positions)
    rating = fit_elo(_matches([*_past_evals(paths, it), ev])).get(ev["best_after"])
    ev["elo"] = rating.elo if rating else 0.0
    ev["elo_ci"] = [rating.lo, rating.hi] if rating else None
    ev["elo_text"] = str(rating) if rating else "n/a"
    os.makedirs(os.path.dirname(paths.eval(it)), exist_ok=True)
    atomic.write_json(paths.eval(it), ev)
    return ev


def _past_evals(paths: RunPaths, it: int) -> list[dict]:
    out = []
    for i in range(1, it):
        if os.path.exists(paths.eval(i)):
            with open(paths.eval(i), encoding="utf-8") as fh:
                out.append(json.load(fh))
    return out


def _matches(evals: list[dict]) -> list[tuple[str, str, int, int, int]]:
    """Every recorded match of the run as (a, b, a's wins, draws, a's losses): arena games
    between nets and the reference games of each iteration's best. Evals written before
    players were named are left out."""
    out = []
    for ev in evals:
        if "candidate" not in ev:
            continue
        out.append((ev["candidate"], ev["best"], ev["wins"], ev["draws"], ev["losses"]))
        for spec, r in ev["reference"].items():
            out.append((ev["best_after"], spec, r["wins"], r["draws"], r["losses"]))
    return out


def promote_if_better(it: int, ev: dict, cand: checkpoint.Checkpoint, paths: RunPaths) -> None:
    """Make the candidate the best net if the arena said so (idempotent: best.pt records its
    iteration)."""
    faults.point("promote")
    if ev["promoted"] and checkpoint.load(paths.best).iteration < it:
        # With its optimizer state, so a shipped best net can warm-start a new run.
        checkpoint.save(paths.best, cand.net, iteration=it, optimizer=cand.optimizer,
                        meta={"elo": ev["elo"], "elo_ci": ev.get("elo_ci"),
                              "global_step": cand.meta.get("global_step", 0)})


def record(reporter: Reporter, row: dict, total: int, eta: float,
           hparams: dict | None = None) -> None:
    """An iteration's scalars and pictures to TensorBoard (with the run's ``hparams``), its
    row to metrics.jsonl, its line to the console."""
    it = row["iteration"]
    _strength_scalars(reporter, row, it)
    _stage_scalars(reporter, row, it)
    if row.get("empty_board"):
        eb = row["empty_board"]
        reporter.text("best/empty_board", "policy by column: " + " ".join(
            f"{100 * p:.0f}%" for p in eb["policy"]) + f"; value {eb['value']:+.3f}", it)
    _figures(reporter, row, it)
    if row.get("policy_mistakes") is not None:
        reporter.hparams(hparams or {}, {"hparam/policy_mistakes": row["policy_mistakes"],
                                         "hparam/elo": row["elo"]}, it)
    faults.point("metrics")
    reporter.record(row)
    reporter.line(summary_line(row, total) + f" | {_fmt_time(row['seconds'])}, "
                  f"ETA {_fmt_time(eta)}")
    reporter.flush()


def _strength_scalars(reporter: Reporter, row: dict, it: int) -> None:
    """Mistakes against perfect play with their intervals, breadth, Elo, arena, references."""
    for key, n_key in (("policy_mistakes", "policy_positions"),
                       ("search_mistakes", "search_positions"),
                       ("candidate_policy_mistakes", "policy_positions")):
        if row.get(key) is None:
            continue
        reporter.scalar(f"strength/{key}", row[key], it)
        if row.get(n_key):  # evals written before the counts were recorded have none
            lo, hi = wilson(row[key] * row[n_key], row[n_key])
            reporter.scalar(f"strength/{key}_ci95_low", lo, it)
            reporter.scalar(f"strength/{key}_ci95_high", hi, it)
    reporter.scalar("strength/elo", row["elo"], it)
    for kind, b in (row.get("breadth") or {}).items():
        reporter.scalar(f"breadth/{kind}_kept", b["kept_rate"], it)
        reporter.scalar(f"breadth/{kind}_good_moves", b["good_move_rate"], it)
    if row.get("elo_ci"):
        reporter.scalar("strength/elo_ci95_low", row["elo_ci"][0], it)
        reporter.scalar("strength/elo_ci95_high", row["elo_ci"][1], it)
    reporter.scalar("arena/score", row["arena"]["score"], it)
    reporter.scalar("arena/promoted", float(row["arena"]["promoted"]), it)
    reporter.scalar("arena/games", row["arena"]["wins"] + row["arena"]["draws"]
                    + row["arena"]["losses"], it)
    for name, r in row["reference"].items():
        reporter.scalar(f"reference/{name}", r["score"], it)


def _stage_scalars(reporter: Reporter, row: dict, it: int) -> None:
    """Self-play's output and speed, each phase's time, the iteration's mean losses."""
    sp = row["selfplay"]
    reporter.scalar("selfplay/positions", sp["positions"], it)
    reporter.scalar("selfplay/positions_per_s", sp["positions_per_s"], it)
    for key in ("evals_per_cpu_s", "positions_per_cpu_s", "cache_hit_rate",
                "mean_batch_occupancy", "net_cpu_share", "noised_visits_inherited",
                "worker_core_use", "worker_rss_mb"):
        if key in sp:
            reporter.scalar(f"selfplay/{key}", sp[key], it)
    if sp.get("mean_game_moves"):
        reporter.scalar("selfplay/mean_game_moves", sp["mean_game_moves"], it)
    for phase, seconds in row["wall_seconds"].items():
        reporter.scalar(f"time/{phase}_s", seconds, it)
    # Per-iteration means of the losses, on the iteration axis of every chart above (the
    # train/ and val/ tags are per optimizer step).
    for part in ("train", "val", "val_unseen"):
        for k, x in row.get(part, {}).items():
            reporter.scalar(f"iteration_{part}/{k}", x, it)
    if row.get("val_unseen_share") is not None:
        reporter.scalar("iteration_val_unseen/share", row["val_unseen_share"], it)


def flat_config(cfg: Config) -> dict:
    """``{"section.key": value}`` of every config field (lists as text), for TensorBoard."""
    return {f"{section}.{k}": (v if isinstance(v, (int, float, str, bool)) or v is None
                               else str(v))
            for section, fields in config.to_dict(cfg).items() for k, v in fields.items()}


def _figures(reporter: Reporter, row: dict, it: int) -> None:
    """The best net's empty-board policy and its mistakes curve over the run, as pictures
    (with the plots extra; the scalars carry the same numbers without it)."""
    if reporter.writer is None or not plots.available():
        return
    if row.get("empty_board"):
        reporter.figure("best/empty_board_policy", plots.policy_figure(
            row["empty_board"]["policy"], row["empty_board"]["value"]), it)
    history = [*read_metrics(reporter.metrics), row] if reporter.metrics else [row]
    if any(r.get("policy_mistakes") is not None for r in history):
        reporter.figure("best/mistakes_curve", plots.mistakes_figure(history), it)


def _rate(rate: float | None, n: int | None) -> str:
    if rate is None or not n:
        return "n/a"
    lo, hi = wilson(rate * n, n)
    return f"{rate:.1%} [{lo:.1%}, {hi:.1%}]"


def summary_line(row: dict, total: int) -> str:
    """One line per iteration, strength first: the best net's mistakes on solver-labelled
    positions (raw policy, search) with 95% intervals and its fitted Elo."""
    t, v, a = row["train"], row["val"], row["arena"]
    refs = " ".join(f"{k} {r['score']:.0%}" for k, r in row.get("reference", {}).items())
    val = (f"val {v['total']:.3f}" if v else "val n/a (no game held out)")
    if row.get("val_unseen"):
        val += f" unseen {row['val_unseen']['total']:.3f} ({row['val_unseen_share']:.0%})"
    strength = ""
    if row.get("policy_mistakes") is not None:
        policy = _rate(row["policy_mistakes"], row.get("policy_positions"))
        search = _rate(row.get("search_mistakes"), row.get("search_positions"))
        strength = f" | mistakes: policy {policy}, search {search}"
    return (f"iter {row['iteration']}/{total}{strength} | Elo {row.get('elo_text', 'n/a')}"
            f" | {row['selfplay']['positions']} positions "
            f"({row['selfplay']['positions_per_s']:.0f}/s) | loss {t['total']:.3f} "
            f"(v {t['value']:.3f} p {t['policy']:.3f}) {val}"
            f" | arena W{a['wins']}/D{a['draws']}/L{a['losses']} "
            f"{'promoted' if a['promoted'] else 'kept best'}"
            + (f" | vs {refs}" if refs else ""))


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _row(it: int, cfg: Config, played: dict, stats: dict, train_meta: dict, ev: dict,
         cpu: dict, wall: dict) -> dict:
    return {
        "iteration": it,
        **({"scheduled": cfg.scheduled(it)} if cfg.schedule else {}),
        "selfplay": {**played, "positions_per_s": (stats["positions"] / stats["seconds"]
                                                   if stats["seconds"] else 0.0),
                     **work_summary(stats)},
        "train": train_meta.get("train", {}),
        "val": train_meta.get("val", {}),
        "val_unseen": train_meta.get("val_unseen", {}),
        "val_unseen_share": train_meta.get("unseen_share"),
        "window_positions": train_meta.get("window_positions"),
        "train_steps": train_meta.get("steps"),
        "global_step": train_meta.get("global_step"),
        "arena": {k: ev[k] for k in ("wins", "draws", "losses", "score", "promoted")},
        "elo": ev["elo"],
        "elo_ci": ev.get("elo_ci"),
        "elo_text": ev.get("elo_text"),
        "reference": ev["reference"],
        **{k: ev.get(k) for k in ("policy_mistakes", "policy_positions", "search_mistakes",
                                  "search_positions", "candidate_policy_mistakes",
                                  "empty_board", "breadth")},
        "cpu_seconds": cpu,
        "wall_seconds": wall,
    }


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _selfplay_seed(seed: int, it: int) -> int:
    return seed * 1_000_003 + it


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _selfplay_summary(folder: str) -> dict:
    """Positions, games and mean game length (moves) of an iteration's dataset files."""
    positions = games = moves = 0
    for name in sorted(os.listdir(folder)):
        if name.endswith(".pkl"):
            s = read_samples(os.path.join(folder, name))
            positions += len(s)
            games += int(s.meta.get("games", 0))
            moves += sum(s.meta.get("game_moves", []))
    return {"positions": positions, "games": games,
            "mean_game_moves": round(moves / games, 2) if games else None}


def _reference(evaluate, cfg: Config, it: int) -> dict:
    out = {}
    if cfg.pipeline.eval_games <= 0:
        return out
    m = match_config(cfg.mcts, cfg.arena.num_simulations)
    me = MCTSPlayer(evaluate, m, "best")
    for spec in cfg.pipeline.eval_opponents:
        r = play_match(me, reference_player(spec, seed=it), cfg.pipeline.eval_games,
                       cfg.arena.opening_plies, seed=10_000 + it, parallel=cfg.arena.parallel_games)
        out[spec] = {"wins": r.wins, "draws": r.draws, "losses": r.losses, "score": r.score}
    return out


def _breadth(searcher, cfg: Config, it: int, reporter: Reporter) -> dict | None:
    """The best net's breadth measure (``breadth.py``) on this iteration's turn, the same
    starts every time (seed 0), or None (off, not its turn, or no solver here: said)."""
    p = cfg.pipeline
    if not p.breadth_starts or (it % p.breadth_every and it != p.iterations):
        return None
    if not solver.available():
        reporter.line("breadth: skipped, it plays against the solver: pip install "
                      "'alphazero-c4[solver]'")
        return None
    return measure(searcher, p.breadth_starts, seed=0).as_dict()


def _mistakes(player, positions: list[LabelledPosition]) -> float | None:
    """``player``'s mistake rate over ``positions`` (None when there are none)."""
    if not positions:
        return None
    scores = score_positions(player, positions)
    return sum(s.mistakes for s in scores.values()) / sum(s.n for s in scores.values())
