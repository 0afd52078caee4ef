"""Self-play: many games at once in one process, and a pool of worker processes.

One process keeps ``parallel_games`` games in flight. Each move, one batched search serves all
of them; a finished game is replaced at once by the next one. Every game draws its noise and
move choices from its own random stream, ``default_rng([seed, game_id])``, so a game is the
same whichever worker or slot plays it.

The pool splits the requested games into chunks of ``chunk_games`` consecutive ids; each chunk
becomes one dataset file ``chunk_XXXXX.pkl``, written atomically when its last game ends. A
chunk whose file exists is never replayed, so a killed run loses at most the unfinished chunks.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import re
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Sequence

import numpy as np

from alphazero.core import atomic
from alphazero.core.config import InferenceConfig, MCTSConfig, NetConfig, SelfPlayConfig
from alphazero.rules.encoder import encode
from alphazero.search.exploration import (apply_temperature, dirichlet_noise, gumbel_noise, random_opening,
                          sample_moves)
from alphazero.replay.shards import Samples, now_iso, shard_bytes
from alphazero.report.reporter import SILENT, Reporter
from alphazero.rules.game import COLS, Boards, Evaluate, batch_legal, batch_play
from alphazero.search.mcts import search
from alphazero.search.tree import ROOT, UNEXPANDED, Tree

CHUNK_RE = re.compile(r"^chunk_(\d{5})\.pkl$")


@dataclass
class GameRecord:
    """One finished game: ``samples`` (one per recorded move), ``result`` for the first player
    (+1 won, -1 lost, 0 draw) and ``moves``, every column from the empty board."""

    game_id: int
    samples: Samples
    result: int
    moves: list[int]


@dataclass
class PlayStats:
    """Batch occupancy of one ``play_games``: ``steps`` batched searches, ``live`` games
    summed over them, out of ``slots`` games in flight at most; ``noised_visits`` at roots
    searched under Dirichlet noise, ``inherited_visits`` of them made before the noise (a
    reused subtree's)."""

    steps: int = 0
    live: int = 0
    slots: int = 0
    noised_visits: int = 0
    inherited_visits: int = 0


def game_rng(seed: int, game_id: int) -> np.random.Generator:
    """The random stream of game ``game_id`` under run seed ``seed``."""
    return np.random.default_rng([seed, game_id])


@dataclass
class GameHistory:
    """What one game in flight has seen so far: the ``opening`` columns played at random
    before any search, then one entry per searched move: the position (``own``, ``mask``),
    the search's policy target and root value, whether the move was a full search (recorded
    for training), and the column played."""

    opening: list = field(default_factory=list)
    own: list = field(default_factory=list)
    mask: list = field(default_factory=list)
    policies: list = field(default_factory=list)
    root_values: list = field(default_factory=list)
    recorded: list = field(default_factory=list)
    moves: list = field(default_factory=list)

    def add(self, own: int, mask: int, policy: np.ndarray, root_value: float, recorded: bool,
            col: int) -> None:
        self.own.append(own)
        self.mask.append(mask)
        self.policies.append(policy)
        self.root_values.append(root_value)
        self.recorded.append(recorded)
        self.moves.append(col)

    @property
    def ply(self) -> int:
        """Stones on the board."""
        return len(self.opening) + len(self.moves)

    def finish(self, game_id: int, won: bool) -> GameRecord:
        """The finished game; ``won``: the last move made four (else the board is full)."""
        n = len(self.moves)
        # The side to move at searched move k is the last mover iff (n - 1 - k) is even.
        if won:
            values = np.where((n - 1 - np.arange(n)) % 2 == 0, 1.0, -1.0).astype(np.float32)
            result = 1 if self.ply % 2 == 1 else -1
        else:
            values = np.zeros(n, np.float32)
            result = 0
        k = np.flatnonzero(self.recorded)
        states = encode(Boards(np.array(self.own, np.uint64)[k],
                               np.array(self.mask, np.uint64)[k]))
        samples = Samples(states.astype(np.int8),
                          np.array(self.policies, np.float32).reshape(-1, COLS)[k], values[k],
                          root_values=np.array(self.root_values, np.float32)[k])
        return GameRecord(game_id, samples, result, self.opening + self.moves)


def _search_split(boards: Boards, evaluate: Evaluate, mcts: MCTSConfig, sp: SelfPlayConfig,
                  rngs: list[np.random.Generator], full: np.ndarray,
                  tree: Tree | None, stats: PlayStats) -> tuple[np.ndarray, ...]:
    """Search every game, the ``full`` ones with the full budget and root noise, the others
    with ``sp.fast_simulations`` and no Dirichlet noise (playout-cap randomisation), each from
    its reused ``tree`` row when given (a noised root only with ``mcts.reuse_noised_root``).

    Returns (visits int [B, 7], policy float32 [B, 7], best int [B], root_value float32 [B],
    the searched trees in the order of ``boards``).
    """
    b = len(boards)
    visits = np.zeros((b, COLS), np.int32)
    policy = np.zeros((b, COLS), np.float32)
    best = np.zeros(b, np.int64)
    root_value = np.zeros(b, np.float32)
    gumbel = mcts.root_selection == "gumbel"
    trees, order = [], []
    for is_full in (True, False):
        sel = np.flatnonzero(full == is_full)
        if not sel.size:
            continue
        sub = Boards(boards.own[sel], boards.mask[sel])
        sub_rngs = [rngs[i] for i in sel]
        noise = g = None
        if gumbel:
            g = gumbel_noise(sub_rngs)
        elif is_full and mcts.dirichlet_fraction > 0:
            noise = dirichlet_noise(batch_legal(sub.mask), mcts.dirichlet_alpha, sub_rngs)
        sub_tree = tree if tree is None or sel.size == b else tree.take(sel)
        if noise is not None and sub_tree is not None and not mcts.reuse_noised_root:
            sub_tree = None
        if noise is not None and sub_tree is not None:  # before the search adds to them
            stats.inherited_visits += int(sub_tree.edge_n[:, ROOT].sum())
        res = search(sub, evaluate, mcts, root_noise=noise, gumbel=g,
                     num_simulations=None if is_full else sp.fast_simulations, tree=sub_tree)
        if noise is not None:
            stats.noised_visits += int(res.visits.sum())
        visits[sel], policy[sel], best[sel] = res.visits, res.policy, res.best
        root_value[sel] = res.root_value
        trees.append(res.tree)
        order.append(sel)
    searched = trees[0] if len(trees) == 1 else Tree.concat(trees).take(
        np.argsort(np.concatenate(order)))
    return visits, policy, best, root_value, searched


def play_games(evaluate: Evaluate, mcts: MCTSConfig, sp: SelfPlayConfig,
               game_ids: Sequence[int], stats: PlayStats | None = None) -> Iterator[GameRecord]:
    """Play the games ``game_ids`` with ``sp.parallel_games`` in flight; yield each as it ends.

    Each move searches every live game in one batch (root noise on). Under PUCT the move is
    sampled from the visit counts at ``temperature_high`` for the first ``temperature_moves``
    moves and ``temperature_low`` after, and the policy target is the visit distribution;
    under Gumbel the move is the sequential-halving winner (the Gumbel noise is the sampling)
    and the target is the improved policy. With ``sp.full_search_prob < 1`` each move is a
    full search with that probability, else a fast one that is played but not recorded.
    With ``mcts.reuse_tree`` (PUCT) the subtree of the move played is the next search's start.
    With ``sp.random_opening_moves`` each game starts after its own random opening
    (``exploration.random_opening``; part of the game's moves, counted by the temperature,
    never recorded). ``stats`` (optional) collects the batch occupancy.
    """
    games = _Slots(game_ids, sp)
    stats = stats if stats is not None else PlayStats()
    stats.slots = max(stats.slots, games.size)
    live = [s for s in range(games.size) if games.start(s)]
    reuse = mcts.reuse_tree and mcts.root_selection == "puct"
    tree: Tree | None = None  # rows follow ``live``
    while live:
        stats.steps += 1
        stats.live += len(live)
        act = np.array(live)
        boards = Boards(games.own[act], games.mask[act])
        act_rngs = [games.rngs[s] for s in live]
        full = _full_searches(act_rngs, sp)
        visits, policy, best, root_value, searched = _search_split(
            boards, evaluate, mcts, sp, act_rngs, full, tree, stats)
        cols = _moves(visits, best, [games.hist[s].ply for s in live], act_rngs, mcts, sp)
        new_own, new_mask, won, full_board = batch_play(boards.own, boards.mask, cols)
        next_live, next_rows, next_nodes = [], [], []
        for j, s in enumerate(live):
            games.hist[s].add(games.own[s], games.mask[s], policy[j], root_value[j],
                              bool(full[j]), int(cols[j]))
            games.own[s], games.mask[s] = new_own[j], new_mask[j]
            if won[j] or full_board[j]:
                yield games.hist[s].finish(games.gid[s], won=bool(won[j]))
                if games.start(s):
                    next_live.append(s)
                    next_rows.append(j)
                    next_nodes.append(UNEXPANDED)  # a new game: a fresh tree
            else:
                next_live.append(s)
                next_rows.append(j)
                next_nodes.append(searched.children[j, ROOT, cols[j]])
        live = next_live
        if reuse and live:
            tree = searched.reroot(np.array(next_rows), np.array(next_nodes),
                                   mcts.num_simulations + 1)


class _Slots:
    """The games in flight: slot s holds game ``gid[s]`` (-1: none) at position
    ``own[s], mask[s]`` with its random stream and history; ``start(s)`` puts the next
    pending game there."""

    def __init__(self, game_ids: Sequence[int], sp: SelfPlayConfig):
        self.pending = list(game_ids)[::-1]
        self.sp = sp
        self.size = min(sp.parallel_games, len(self.pending))
        self.own = np.zeros(self.size, np.uint64)
        self.mask = np.zeros(self.size, np.uint64)
        self.gid = [-1] * self.size
        self.rngs: list[np.random.Generator | None] = [None] * self.size
        self.hist = [GameHistory() for _ in range(self.size)]

    def start(self, s: int) -> bool:
        """The next pending game in slot ``s``, after its random opening; False when none
        is left."""
        if not self.pending:
            self.gid[s] = -1
            return False
        self.gid[s] = self.pending.pop()
        self.rngs[s] = game_rng(self.sp.seed, self.gid[s])
        opening, state = random_opening(self.rngs[s], self.sp.random_opening_moves)
        self.own[s], self.mask[s] = state.own, state.mask
        self.hist[s] = GameHistory(opening=opening)
        return True


def _full_searches(rngs: list[np.random.Generator], sp: SelfPlayConfig) -> np.ndarray:
    """Which games get a full search this move (the playout cap): bool [B]."""
    if sp.full_search_prob < 1:
        return np.array([r.random() < sp.full_search_prob for r in rngs])
    return np.ones(len(rngs), bool)


def _moves(visits: np.ndarray, best: np.ndarray, played: list[int],
           rngs: list[np.random.Generator], mcts: MCTSConfig, sp: SelfPlayConfig) -> np.ndarray:
    """The columns played [B]: Gumbel's winners, or a draw from the visit counts [B, 7] at
    the temperature of each game's move number (``played``: moves so far)."""
    if mcts.root_selection == "gumbel":
        return best
    temps = np.where(np.array(played) < sp.temperature_moves, sp.temperature_high,
                     sp.temperature_low)
    probs = apply_temperature(visits, temps)
    return sample_moves(probs, np.array([r.random() for r in rngs]))


# --------------------------------------------------------------------------------------------
# Chunks and the worker pool
# --------------------------------------------------------------------------------------------


def chunk_path(out_dir: str, chunk: int) -> str:
    return os.path.join(out_dir, f"chunk_{chunk:05d}.pkl")


def chunk_games(chunk: int, sp: SelfPlayConfig) -> range:
    """Game ids of ``chunk``."""
    return range(chunk * sp.chunk_games, min((chunk + 1) * sp.chunk_games, sp.games))


def num_chunks(sp: SelfPlayConfig) -> int:
    return -(-sp.games // sp.chunk_games)


def missing_chunks(out_dir: str, sp: SelfPlayConfig) -> list[int]:
    """Chunks with no finished file in ``out_dir`` (a stray temp file does not count)."""
    return [c for c in range(num_chunks(sp)) if not os.path.exists(chunk_path(out_dir, c))]


def play_chunks(evaluate: Evaluate, mcts: MCTSConfig, sp: SelfPlayConfig, chunks: Sequence[int],
                out_dir: str | None, meta: dict,
                on_game: Callable[[GameRecord], None] | None = None,
                on_chunk: Callable[[int, bytes], None] | None = None,
                stats: PlayStats | None = None) -> None:
    """Play every game of ``chunks``; as soon as a chunk is complete, write its file into
    ``out_dir`` atomically, or hand its bytes to ``on_chunk(chunk, payload)`` instead."""
    ids = [g for c in chunks for g in chunk_games(c, sp)]
    owner = {g: c for c in chunks for g in chunk_games(c, sp)}
    done: dict[int, list[GameRecord]] = {c: [] for c in chunks}
    for rec in play_games(evaluate, mcts, sp, ids, stats):
        if on_game is not None:
            on_game(rec)
        c = owner[rec.game_id]
        done[c].append(rec)
        if len(done[c]) == len(chunk_games(c, sp)):
            recs = sorted(done.pop(c), key=lambda r: r.game_id)
            payload = shard_bytes(Samples.concat([r.samples for r in recs]), {
                **meta, "chunk": c, "games": len(recs), "created": now_iso(),
                "results": [r.result for r in recs],
                "game_ids": [r.game_id for r in recs],
                "game_lengths": [len(r.samples) for r in recs],
                "game_moves": [len(r.moves) for r in recs]})
            if on_chunk is not None:
                on_chunk(c, payload)
            else:
                atomic.write_bytes(chunk_path(out_dir, c), payload)


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process needs: paths and configs, never a live network."""

    checkpoint: str | None
    net: NetConfig
    mcts: MCTSConfig
    selfplay: SelfPlayConfig
    chunks: tuple[int, ...]
    out_dir: str
    meta: dict
    device: str
    init_seed: int
    inference: InferenceConfig


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
        evaluate = load_evaluator(job.checkpoint, job.net, job.device, job.init_seed,
                                  job.inference)
        play = PlayStats()
        play_chunks(evaluate, job.mcts, job.selfplay, job.chunks, job.out_dir,
                    {**job.meta, "worker": worker_id},
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
             pool: WorkerPool | None = None) -> dict:
    """Play ``sp.games`` games into ``out_dir`` with ``sp.workers`` processes; resumable.

    Chunks already on disk are skipped. With one worker the games run in this process; with
    more, in ``pool`` (kept by the caller across iterations) or in processes started for this
    call. Returns
    ``{"games": played now, "positions": ..., "seconds": ..., "chunks": written now}`` plus,
    when games were played, the number of ``workers``, the inference ``backend`` and ``work``:
    the workers' summed ``work_stats`` (with the pool's ``process_cpu_seconds``, which its
    caller's own CPU clock cannot see, and its largest ``rss_mb``). A worker that fails stops
    the pool and raises ``WorkerError`` with its traceback.
    """
    todo, meta = open_chunks(out_dir, checkpoint, mcts, sp, meta)
    progress = PoolProgress(todo, sp, reporter, "self-play")
    if not todo:
        return progress.finish()
    inference = worker_inference(inference, net, sp.device)
    workers = min(sp.workers, len(todo))
    progress.stats.update(backend=inference.backend, workers=workers)
    try:
        if workers == 1:
            cpu0 = time.process_time()
            evaluate = load_evaluator(checkpoint, net, worker_device(sp.device, 0), sp.seed,
                                      inference)
            play = PlayStats()
            play_chunks(evaluate, mcts, sp, todo, out_dir, {**meta, "worker": 0},
                        on_game=lambda r: progress.game(len(r.samples)), stats=play)
            progress.add_work(work_stats(evaluate, play, time.process_time() - cpu0))
        else:
            jobs = [WorkerJob(checkpoint, net, mcts, sp, tuple(todo[w::workers]), out_dir,
                              meta, worker_device(sp.device, w), sp.seed, inference)
                    for w in range(workers)]
            if pool is None or pool.workers < workers:
                with WorkerPool(workers) as own_pool:
                    own_pool.run(jobs, progress.game, progress.add_work)
            else:
                pool.run(jobs, progress.game, progress.add_work)
    finally:
        progress.close()
    return progress.finish()


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
    """``inference`` with ``backend: auto`` replaced by the backend that is fastest here on one
    thread, as a self-play worker runs (timed once per process; see ``inference``)."""
    if inference.backend != "auto":
        return inference
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
    return replace(inference, backend=name)


class WorkerPool:
    """``workers`` self-play processes that serve one job after another, so that each pays for
    its imports, compiled search kernels and inference runtime once per run rather than once
    per iteration. Started on the first ``run``; ``close`` (or leaving a ``with`` block) ends
    them. A failure in any worker closes the pool and is raised; the next ``run`` starts a
    fresh one."""

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
