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
publish. Each step is skipped when its output file already exists. What the run has to say goes
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
from alphazero.nn import checkpoint
from alphazero.nn.grow import GrowError, grow
from alphazero.nn.net import fresh_net, select_device
from alphazero.replay.shards import read_samples
from alphazero.report import plots
from alphazero.report.lines import duration, summary_line
from alphazero.report.reporter import SILENT, Reporter, read_metrics
from alphazero.report.reports import IterationReport, JudgeReport, SelfPlayReport, TrainReport
from alphazero.rules.positions import PONS, LabelledPosition, load_positions, path_of
from alphazero.run.judge import judge
from alphazero.stages.cluster import RayPool
from alphazero.stages.selfplay import check_requirements
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


# --------------------------------------------------------------------------------------------
# Creating and reopening runs
# --------------------------------------------------------------------------------------------


def create_run(run_dir: str, cfg: Config, init_from: str | None = None,
               notice: Callable[[str], None] = print, ray: bool = False) -> bool:
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
    check_requirements(cfg, selfplay_here=not ray)
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


def open_run(run_dir: str, overrides: list[str] | tuple[str, ...] = (),
             ray: bool = False) -> Config:
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
    check_requirements(cfg, selfplay_here=not ray)
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

    cfg = open_run(run_dir, ray=ray_address is not None)
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
    solved = load_positions(path_of(PONS))[::5] if scored else []
    _prepare_folder(paths)
    # Local processes are started by the first self-play that needs them; kept till the end.
    # A cluster is joined now, before anything else is opened: unreachable is a one-line error.
    pool = RayPool(ray_address) if ray_address else WorkerPool(cfg.selfplay.workers)
    writer = SummaryWriter(paths.tb)
    reporter = dataclasses.replace(console, writer=writer, metrics=paths.metrics)
    durations: list[float] = []
    past: list[JudgeReport] = []  # read once; each iteration adds its own
    try:
        for it in todo:
            t0 = time.perf_counter()
            if not past or past[-1].iteration != it - 1:
                past = past_reports(paths, it)
            report = iteration(it, cfg, paths, device, solved,
                               reporter.labelled(f"iter {it}"), pool, past)
            report = dataclasses.replace(report, seconds=round(time.perf_counter() - t0, 1))
            past.append(report.judge)
            durations.append(report.seconds)
            publish(reporter, report, total, eta=np.mean(durations) * (total - it),
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


def iteration(it: int, cfg: Config, paths: RunPaths, device, solved: list[LabelledPosition],
              reporter: Reporter, pool: ChunkRunner | None = None,
              past: list[JudgeReport] | None = None) -> IterationReport:
    """One iteration, with the settings ``cfg.schedule`` has in force at ``it``; each step is
    skipped when its output file already exists. ``pool``: where self-play's chunks run;
    ``past``: the judge reports of earlier iterations (read from the run folder if None)."""
    cfg = cfg.at(it)
    solved = solved if cfg.pipeline.positions_eval else []
    start = (_cpu_seconds(), time.perf_counter())
    played = self_play(it, cfg, paths, reporter, pool)
    # The pool's workers are not reaped until the run ends, so os.times cannot see them:
    # their CPU comes from their own reports, counted as if spent before self-play began.
    clock = [(start[0] - played.pool_cpu_seconds, start[1]),
             (_cpu_seconds(), time.perf_counter())]
    cand = train_candidate(it, cfg, paths, device, reporter)
    clock.append((_cpu_seconds(), time.perf_counter()))
    verdict = judged(it, cfg, paths, device, cand, solved, reporter,
                     past_reports(paths, it) if past is None else past)
    promote_if_better(it, verdict, cand, paths)
    clock.append((_cpu_seconds(), time.perf_counter()))
    # CPU seconds of this process and its self-play workers (Ray actors not included), and
    # wall seconds, per phase; a resumed iteration counts only the part done after the restart.
    phases = ("selfplay", "train", "arena")
    cpu = {p: round(b[0] - a[0], 1) for p, a, b in zip(phases, clock, clock[1:])}
    cpu["total"] = round(clock[-1][0] - clock[0][0], 1)
    wall = {p: round(b[1] - a[1], 1) for p, a, b in zip(phases, clock, clock[1:])}
    return IterationReport(it, cfg.scheduled(it) if cfg.schedule else None, played,
                           TrainReport.from_meta(cand.meta), verdict, cpu, wall)


def self_play(it: int, cfg: Config, paths: RunPaths, reporter: Reporter,
              pool: ChunkRunner | None = None) -> SelfPlayReport:
    """Self-play with the best net into ``data/iter_XXXX``, chunk by chunk (resumable), in
    ``pool`` when given."""
    sp = dataclasses.replace(cfg.selfplay, seed=_selfplay_seed(cfg.selfplay.seed, it))
    stats = run_pool(paths.best, cfg.net, cfg.mcts, sp, paths.data(it), {"iteration": it},
                     reporter, cfg.inference, pool=pool)
    return _selfplay_report(paths.data(it), stats)


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


def judged(it: int, cfg: Config, paths: RunPaths, device, cand: checkpoint.Checkpoint,
           solved: list[LabelledPosition], reporter: Reporter,
           past: list[JudgeReport]) -> JudgeReport:
    """``judge.judge`` of iteration ``it``, written to ``evals/iter_XXXX.json`` once (read
    back when a resumed run finds it)."""
    if os.path.exists(paths.eval(it)):
        return _read_report(paths.eval(it))
    best = checkpoint.load(paths.best, device, expect=cfg.net)
    report = judge(it, cfg, device, cand, best, solved, reporter, past)
    os.makedirs(os.path.dirname(paths.eval(it)), exist_ok=True)
    atomic.write_json(paths.eval(it), report.as_json())
    return report


def past_reports(paths: RunPaths, it: int) -> list[JudgeReport]:
    """The judge reports of iterations before ``it`` found in the run folder."""
    return [_read_report(paths.eval(i)) for i in range(1, it) if os.path.exists(paths.eval(i))]


def _read_report(path: str) -> JudgeReport:
    with open(path, encoding="utf-8") as fh:
        return JudgeReport.from_json(json.load(fh))


def promote_if_better(it: int, verdict: JudgeReport, cand: checkpoint.Checkpoint,
                      paths: RunPaths) -> None:
    """Make the candidate the best net if the arena said so (idempotent: best.pt records its
    iteration)."""
    faults.point("promote")
    if verdict.promoted and checkpoint.load(paths.best).iteration < it:
        # With its optimizer state, so a shipped best net can warm-start a new run.
        checkpoint.save(paths.best, cand.net, iteration=it, optimizer=cand.optimizer,
                        meta={"elo": verdict.elo, "elo_ci": verdict.elo_ci,
                              "global_step": cand.meta.get("global_step", 0)})


def publish(reporter: Reporter, report: IterationReport, total: int, eta: float,
           hparams: dict | None = None) -> None:
    """An iteration's scalars and pictures to TensorBoard (with the run's ``hparams``), its
    row to metrics.jsonl, its line to the console."""
    it, row, verdict = report.iteration, report.row(), report.judge
    for tag, value in report.scalars():
        reporter.scalar(tag, value, it)
    if verdict.empty_board:
        eb = verdict.empty_board
        reporter.text("best/empty_board", "policy by column: " + " ".join(
            f"{100 * p:.0f}%" for p in eb["policy"]) + f"; value {eb['value']:+.3f}", it)
    _figures(reporter, row, it)
    if verdict.policy_mistakes is not None:
        reporter.hparams(hparams or {}, {"hparam/policy_mistakes": verdict.policy_mistakes,
                                         "hparam/elo": verdict.elo}, it)
    faults.point("metrics")
    reporter.record(row)
    reporter.line(summary_line(row, total) + f" | {duration(report.seconds)}, "
                  f"ETA {duration(eta)}")
    reporter.flush()


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


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _selfplay_seed(seed: int, it: int) -> int:
    return seed * 1_000_003 + it


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _selfplay_report(folder: str, stats: dict) -> SelfPlayReport:
    """An iteration's dataset files (positions, games, mean game length in moves) with the
    speed of the self-play just run (``stats``: ``workers.run_pool``'s)."""
    positions = games = moves = 0
    for name in sorted(os.listdir(folder)):
        if name.endswith(".pkl"):
            s = read_samples(os.path.join(folder, name))
            positions += len(s)
            games += int(s.meta.get("games", 0))
            moves += sum(s.meta.get("game_moves", []))
    return SelfPlayReport(positions, games, round(moves / games, 2) if games else None,
                          stats["positions"] / stats["seconds"] if stats["seconds"] else 0.0,
                          work_summary(stats),
                          stats.get("work", {}).get("process_cpu_seconds", 0.0)
                          + stats.get("resumed_cpu_seconds", 0.0))
