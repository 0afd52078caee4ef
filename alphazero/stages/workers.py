"""Self-play's worker pools: the chunks of an iteration spread over processes or Ray actors.

The games (``selfplay.play_chunks``) are the same wherever they run; a pool only decides where.
``run_pool`` is the one driver: it opens the output folder, skips the chunks already written,
shows progress and sums what the workers report; a ``ChunkRunner`` plays the chunks still to
do. Two runners implement that interface: ``WorkerPool`` here (this process for one worker,
else spawned processes kept across iterations) and ``cluster.RayPool`` (actors on a Ray
cluster).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import time
import traceback
from dataclasses import dataclass, replace
from typing import Callable, Protocol, Sequence

from alphazero.core import atomic
from alphazero.core.config import InferenceConfig, MCTSConfig, NetConfig, SelfPlayConfig
from alphazero.report.reporter import SILENT, Reporter
from alphazero.stages.selfplay import (
    PlayStats,
    chunk_games,
    missing_chunks,
    num_chunks,
    play_chunks,
    recorded_cpu_seconds,
)


@dataclass(frozen=True)
class SelfPlayTask:
    """What every chunk of one self-play call shares: the net to play (a checkpoint path, or
    None for a fresh net seeded with ``selfplay.seed``), the settings and the output folder
    with the metadata each chunk file carries."""

    checkpoint: str | None
    net: NetConfig
    mcts: MCTSConfig
    selfplay: SelfPlayConfig
    out_dir: str
    meta: dict
    inference: InferenceConfig


class ChunkRunner(Protocol):
    """Where chunks are played: ``play`` plays ``todo`` (chunk ids) of ``task``, calling
    ``progress.game`` as games end and ``progress.add_work`` with each worker's ``work_stats``;
    finished chunk files land in ``task.out_dir``."""

    label: str  # the progress bar's
    meta: dict  # added to every chunk file's metadata

    def play(self, task: SelfPlayTask, todo: list[int], progress: PoolProgress) -> None: ...


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process plays: chunks of a task, on a device; never a live network."""

    task: SelfPlayTask
    chunks: tuple[int, ...]
    device: str


def load_evaluator(checkpoint: str | None, net_cfg: NetConfig, device: str,
                   init_seed: int, inference: InferenceConfig = InferenceConfig()):
    """A self-play evaluator (``inference`` settings, with their self-play symmetry) for a
    checkpoint file, or for a fresh net seeded with ``init_seed``; it has ``.stats``."""
    from alphazero.nn import checkpoint as ckpt
    from alphazero.nn.inference import evaluator_for
    from alphazero.nn.net import fresh_net, select_device

    dev = select_device(device)
    if dev.type == "cuda" and dev.index is not None:
        import torch

        # This process's GPU: pinned memory, the bf16 check and the graphs' capture stream
        # follow the current device, which is otherwise cuda:0 whatever ``dev`` says.
        torch.cuda.set_device(dev)
    net = (ckpt.load(checkpoint, dev).net if checkpoint is not None
           else fresh_net(net_cfg, init_seed, dev))
    return evaluator_for(net, dev, inference, selfplay=True, seed=init_seed)


def work_stats(evaluate, play: PlayStats, cpu_seconds: float) -> dict:
    """What one worker reports of its self-play: the evaluator's counters (``evaluators.
    EvalStats``), batched searches, live games summed over them, slots, and its CPU seconds."""
    return {**evaluate.stats.as_dict(), "steps": play.steps, "live": play.live,
            "slots": play.slots, "noised_visits": play.noised_visits,
            "inherited_visits": play.inherited_visits, "cpu_seconds": cpu_seconds}


def _worker(job: WorkerJob, worker_id: int, messages: mp.Queue, cpu_mark: float) -> float:
    """Play one job; report ("game", id, positions), ("stats", id, work), ("done", id),
    ("oserror", ...) or ("error", id, tb). ``cpu_mark``: this process's CPU time when it last
    reported; the work includes ``process_cpu_seconds``, all its CPU since then (the first job
    pays for the imports). Returns the new mark."""
    try:
        import torch

        torch.set_num_threads(1)
        cpu0 = time.process_time()
        task = job.task
        evaluate = load_evaluator(task.checkpoint, task.net, job.device, task.selfplay.seed,
                                  task.inference)
        play = PlayStats()
        play_chunks(evaluate, task.mcts, task.selfplay, job.chunks, task.out_dir,
                    {**task.meta, "worker": worker_id},
                    on_game=lambda r: messages.put(("game", worker_id, len(r.samples))),
                    stats=play)
        now = time.process_time()
        messages.put(("stats", worker_id, {**work_stats(evaluate, play, now - cpu0),
                                           "process_cpu_seconds": now - cpu_mark,
                                           "rss_mb": rss_mb()}))
        messages.put(("done", worker_id))
        return now
    except OSError as e:  # a full disk or a read-only folder: the parent reports it in a line
        messages.put(("oserror", worker_id, e.errno, e.strerror, e.filename))
    except BaseException:  # noqa: BLE001 - the parent must hear about every failure
        messages.put(("error", worker_id, traceback.format_exc()))
    return time.process_time()


def _serve(worker_id: int, jobs: mp.Queue, messages: mp.Queue) -> None:
    """A pool process: play jobs as they come until ``None``."""
    mark = 0.0  # process_time() counts from the process start: imports included
    while (job := jobs.get()) is not None:
        mark = _worker(job, worker_id, messages, mark)


def rss_mb() -> float:
    """This process's resident memory in MB (Linux; elsewhere its peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, else KB
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class WorkerError(RuntimeError):
    """A self-play worker failed; carries its traceback."""


def run_pool(checkpoint: str | None, net: NetConfig, mcts: MCTSConfig, sp: SelfPlayConfig,
             out_dir: str, meta: dict | None = None, reporter: Reporter = SILENT,
             inference: InferenceConfig = InferenceConfig(),
             pool: ChunkRunner | None = None) -> dict:
    """Play ``sp.games`` games into ``out_dir``; resumable: chunks already on disk are skipped.

    ``pool`` plays the rest: a ``WorkerPool`` kept by the caller across iterations, a
    ``cluster.RayPool``, or (None, or a pool with fewer workers than the chunks need) processes
    started for this call, one per worker needed. Returns
    ``{"games": played now, "positions": ..., "seconds": ..., "chunks": written now}`` plus,
    when games were played, the number of ``workers``, the inference ``backend`` and ``work``:
    the workers' summed ``work_stats`` (with the pool's ``process_cpu_seconds``, which its
    caller's own CPU clock cannot see, and its largest ``rss_mb``), and always
    ``resumed_cpu_seconds``: what the chunks found on disk recorded (a killed run's work). A
    worker that fails stops the pool and raises ``WorkerError`` with its traceback.
    """
    todo, meta = open_chunks(out_dir, checkpoint, mcts, sp,
                             {**(pool.meta if pool is not None else {}), **(meta or {})})
    on_disk = sorted(set(range(num_chunks(sp))) - set(todo))  # a killed run's chunks
    resumed = recorded_cpu_seconds(out_dir, on_disk)
    needed = min(sp.workers, len(todo))
    own = pool is None or (isinstance(pool, WorkerPool) and pool.workers < needed)
    runner = WorkerPool(max(needed, 1)) if own else pool
    progress = PoolProgress(todo, sp, reporter, runner.label)
    try:
        if todo:
            runner.play(SelfPlayTask(checkpoint, net, mcts, sp, out_dir, meta, inference),
                        todo, progress)
    except BaseException:
        if own:  # a failure leaves no process of ours behind, waiting or not
            runner.close(graceful=False)
        raise
    finally:
        progress.close()
        if own:
            runner.close()
    return {**progress.finish(), "resumed_cpu_seconds": resumed}


def open_chunks(out_dir: str, checkpoint: str | None, mcts: MCTSConfig, sp: SelfPlayConfig,
                meta: dict | None) -> tuple[list[int], dict]:
    """Make ``out_dir`` ready (created, a killed run's temp files gone) and return the chunks
    still to play with the metadata every chunk file carries."""
    os.makedirs(out_dir, exist_ok=True)
    atomic.remove_stale_temps(out_dir)
    meta = {"checkpoint": checkpoint, "sims": mcts.num_simulations, "seed": sp.seed,
            **(meta or {})}
    return missing_chunks(out_dir, sp), meta


class PoolProgress:
    """What a pool of workers (processes here, actors in ``cluster.py``) has played: games and
    positions on a progress bar, and the workers' summed ``work_stats``."""

    def __init__(self, todo: list[int], sp: SelfPlayConfig, reporter: Reporter, label: str):
        self.stats: dict = {"games": 0, "positions": 0, "seconds": 0.0, "chunks": len(todo)}
        self.work: dict = {}
        self._t0 = time.perf_counter()
        self._bar = (reporter.bar(sum(len(chunk_games(c, sp)) for c in todo), label, "game")
                     if todo else None)

    def game(self, positions: int, games: int = 1) -> None:
        self.stats["games"] += games
        self.stats["positions"] += positions
        rate = self.stats["positions"] / max(time.perf_counter() - self._t0, 1e-9)
        self._bar.set_postfix_str(f"{rate:.0f} pos/s", refresh=False)
        self._bar.update(games)

    def add_work(self, w: dict) -> None:
        for k, v in w.items():
            self.work[k] = (max(self.work.get(k, 0), v) if k in ("slots", "rss_mb")
                            else self.work.get(k, 0) + v)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def finish(self) -> dict:
        """The pool's result: ``stats`` with its ``seconds`` and, when games were played,
        its ``work``."""
        if self._bar is not None:
            self.stats["seconds"] = time.perf_counter() - self._t0
            if self.work:
                self.stats["work"] = self.work
        return self.stats


def work_summary(stats: dict) -> dict:
    """The self-play workers' inference figures: backend, network evaluations per worker
    CPU-second, finished positions per worker CPU-second, cache hit rate, mean batch
    occupancy, the network's share of the workers' CPU and its evaluations per second of its
    own CPU time, the share of the visits at noised roots made before the noise (inherited
    from a reused subtree), ``worker_core_use`` (the workers' CPU over their wall time: 1.0 = each kept
    its core busy; two workers sharing one core read 0.5), and the largest worker's memory
    when they ran in a pool (empty when this run of the iteration played no game)."""
    w = stats.get("work")
    if not w or not w.get("cpu_seconds"):
        return {}
    return {"backend": stats.get("backend"),
            "evals_per_cpu_s": round(w["net_positions"] / w["cpu_seconds"], 1),
            "positions_per_cpu_s": round(stats["positions"] / w["cpu_seconds"], 2),
            "cache_hit_rate": round(w["hits"] / w["positions"], 4) if w["positions"] else 0.0,
            "mean_batch_occupancy": (round(w["live"] / (w["steps"] * w["slots"]), 4)
                                     if w["steps"] else 0.0),
            "net_cpu_share": round(w["net_seconds"] / w["cpu_seconds"], 4),
            **({"noised_visits_inherited": round(w["inherited_visits"] / w["noised_visits"], 4)}
               if w.get("noised_visits") else {}),
            "net_evals_per_net_s": (round(w["net_positions"] / w["net_seconds"], 1)
                                    if w["net_seconds"] else 0.0),
            **({"worker_core_use": round(
                w["cpu_seconds"] / (stats["seconds"] * stats["workers"]), 3)}
               if stats.get("seconds") else {}),
            **({"worker_rss_mb": round(w["rss_mb"], 1)} if "rss_mb" in w else {})}


def worker_device(device: str, worker: int, gpus: int | None = None) -> str:
    """The device of self-play worker ``worker``: with several GPUs (``gpus``, default the
    count CUDA sees) and ``device`` cuda or auto, the workers take the GPUs in turn (worker w
    on cuda:w mod gpus), so that each GPU serves as many processes; else ``device`` as it
    is."""
    if device not in ("auto", "cuda"):
        return device
    if gpus is None:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cuda:{worker % gpus}" if gpus > 1 else device


def worker_inference(inference: InferenceConfig, net: NetConfig,
                     device: str) -> InferenceConfig:
    """``inference`` with self-play's backend in ``backend`` (``selfplay_backend`` when set),
    ``auto`` replaced by the backend that is fastest here on one thread, as a self-play worker
    runs (timed once per process; see ``inference``)."""
    if inference.selfplay_backend_name() != "auto":
        return replace(inference, backend=inference.selfplay_backend_name(), selfplay_backend="")
    import torch

    from alphazero.nn.inference import resolve_backend
    from alphazero.nn.net import select_device

    dev = select_device(device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        name, _ = resolve_backend("auto", net.resolve(dev.type == "cuda"), dev)
    finally:
        torch.set_num_threads(threads)
    return replace(inference, backend=name, selfplay_backend="")


class WorkerPool:
    """``workers`` self-play processes that serve one job after another, so that each pays for
    its imports, compiled search kernels and inference runtime once per run rather than once
    per iteration. Started on the first ``run``; ``close`` (or leaving a ``with`` block) ends
    them. A failure in any worker closes the pool and is raised; the next ``run`` starts a
    fresh one."""

    label = "self-play"
    meta: dict = {}

    def __init__(self, workers: int):
        self.workers = workers
        self._ctx = mp.get_context("spawn")
        self._messages: mp.Queue | None = None
        self._jobs: list[mp.Queue] = []
        self._procs: list[mp.Process] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close(graceful=exc[0] is None)

    def _start(self) -> None:
        self._messages = self._ctx.Queue()
        for w in range(self.workers):
            jobs = self._ctx.Queue()
            p = self._ctx.Process(target=_serve, args=(w, jobs, self._messages), daemon=True,
                                  name=f"selfplay-{w}")
            p.start()
            self._jobs.append(jobs)
            self._procs.append(p)

    def play(self, task: SelfPlayTask, todo: list[int], progress: PoolProgress) -> None:
        """The ``ChunkRunner`` of this machine: ``todo`` dealt round-robin over at most
        ``workers`` processes (in this process when one is enough)."""
        sp = task.selfplay
        task = replace(task, inference=worker_inference(task.inference, task.net, sp.device))
        workers = min(self.workers, sp.workers, len(todo))
        progress.stats.update(backend=task.inference.backend, workers=workers)
        if workers == 1:
            cpu0 = time.process_time()
            evaluate = load_evaluator(task.checkpoint, task.net, worker_device(sp.device, 0),
                                      sp.seed, task.inference)
            play = PlayStats()
            play_chunks(evaluate, task.mcts, sp, todo, task.out_dir, {**task.meta, "worker": 0},
                        on_game=lambda r: progress.game(len(r.samples)), stats=play)
            progress.add_work(work_stats(evaluate, play, time.process_time() - cpu0))
            return
        self.run([WorkerJob(task, tuple(todo[w::workers]), worker_device(sp.device, w))
                  for w in range(workers)], progress.game, progress.add_work)

    def run(self, jobs: Sequence[WorkerJob], tick: Callable[[int], None],
            add_work: Callable[[dict], None]) -> None:
        """Play ``jobs`` (at most one per worker) and wait for all; ``tick(positions)`` per
        finished game, ``add_work(stats)`` per finished job."""
        if len(jobs) > self.workers:
            raise ValueError(f"{len(jobs)} jobs for {self.workers} workers")
        if not self._procs:
            self._start()
        for w, job in enumerate(jobs):
            self._jobs[w].put(job)
        try:
            self._wait(set(range(len(jobs))), tick, add_work)
        except BaseException:
            self.close(graceful=False)
            raise

    def _wait(self, running: set[int], tick, add_work) -> None:
        while running:
            try:
                msg = self._messages.get(timeout=1.0)
            except queue.Empty:
                for w in list(running):
                    code = self._procs[w].exitcode
                    if code is not None:  # died without a word: killed, OOM, segfault
                        raise WorkerError(f"self-play worker {w} died with exit code {code}")
                continue
            if msg[0] == "game":
                tick(msg[2])
            elif msg[0] == "stats":
                add_work(msg[2])
            elif msg[0] == "done":
                running.discard(msg[1])
            elif msg[0] == "oserror":
                raise OSError(msg[2], msg[3], msg[4])
            else:
                raise WorkerError(f"self-play worker {msg[1]} failed:\n{msg[2]}")

    def close(self, graceful: bool = True) -> None:
        """End the workers: let them finish their loop (``graceful``), else terminate them."""
        if graceful:
            for jobs in self._jobs:
                jobs.put(None)
            for p in self._procs:
                p.join(timeout=10)
        for p in self._procs:
            if p.is_alive():
                p.terminate()
        for p in self._procs:
            p.join(timeout=10)
        self._jobs, self._procs, self._messages = [], [], None
