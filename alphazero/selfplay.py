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
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Sequence

import numpy as np

from . import atomic
from .config import InferenceConfig, MCTSConfig, NetConfig, SelfPlayConfig
from .encoder import encode
from .exploration import apply_temperature, dirichlet_noise, gumbel_noise, sample_moves
from .game import COLS, Boards, Evaluate, batch_legal, batch_play
from .mcts import search
from .report import SILENT, Reporter
from .shards import Samples, now_iso, shard_bytes
from .tree import ROOT, UNEXPANDED, Tree

CHUNK_RE = re.compile(r"^chunk_(\d{5})\.pkl$")


@dataclass
class GameRecord:
    """One finished game: ``samples`` (one per move) and ``result`` for the first player
    (+1 won, -1 lost, 0 draw)."""

    game_id: int
    samples: Samples
    result: int
    moves: list[int]


@dataclass
class PlayStats:
    """Batch occupancy of one ``play_games``: ``steps`` batched searches, ``live`` games
    summed over them, out of ``slots`` games in flight at most."""

    steps: int = 0
    live: int = 0
    slots: int = 0


def game_rng(seed: int, game_id: int) -> np.random.Generator:
    """The random stream of game ``game_id`` under run seed ``seed``."""
    return np.random.default_rng([seed, game_id])


@dataclass
class GameHistory:
    """What one game in flight has seen so far, one entry per move: the position (``own``,
    ``mask``), the search's policy target and root value, whether the move was a full search
    (recorded for training), and the column played."""

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

    def finish(self, game_id: int, won: bool) -> GameRecord:
        """The finished game; ``won``: the last move made four (else the board is full)."""
        n = len(self.moves)
        # The side to move at ply k is the last mover iff (n - 1 - k) is even.
        if won:
            values = np.where((n - 1 - np.arange(n)) % 2 == 0, 1.0, -1.0).astype(np.float32)
            result = 1 if n % 2 == 1 else -1
        else:
            values = np.zeros(n, np.float32)
            result = 0
        k = np.flatnonzero(self.recorded)
        states = encode(Boards(np.array(self.own, np.uint64)[k],
                               np.array(self.mask, np.uint64)[k]))
        samples = Samples(states.astype(np.int8),
                          np.array(self.policies, np.float32).reshape(-1, COLS)[k], values[k],
                          root_values=np.array(self.root_values, np.float32)[k])
        return GameRecord(game_id, samples, result, self.moves)


def _search_split(boards: Boards, evaluate: Evaluate, mcts: MCTSConfig, sp: SelfPlayConfig,
                  rngs: list[np.random.Generator], full: np.ndarray,
                  tree: Tree | None) -> tuple[np.ndarray, ...]:
    """Search every game, the ``full`` ones with the full budget and root noise, the others
    with ``sp.fast_simulations`` and no Dirichlet noise (playout-cap randomisation), each from
    its reused ``tree`` row when given.

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
        res = search(sub, evaluate, mcts, root_noise=noise, gumbel=g,
                     num_simulations=None if is_full else sp.fast_simulations, tree=sub_tree)
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
    ``stats`` (optional) collects the batch occupancy.
    """
    pending = list(game_ids)[::-1]
    slots = min(sp.parallel_games, len(pending))
    stats = stats if stats is not None else PlayStats()
    stats.slots = max(stats.slots, slots)
    own = np.zeros(slots, np.uint64)
    mask = np.zeros(slots, np.uint64)
    gid = [-1] * slots
    rngs: list[np.random.Generator | None] = [None] * slots
    hist = [GameHistory() for _ in range(slots)]

    def start(s: int) -> bool:
        if not pending:
            gid[s] = -1
            return False
        gid[s] = pending.pop()
        rngs[s] = game_rng(sp.seed, gid[s])
        own[s] = mask[s] = 0
        hist[s] = GameHistory()
        return True

    live = [s for s in range(slots) if start(s)]
    reuse = mcts.reuse_tree and mcts.root_selection == "puct"
    tree: Tree | None = None  # rows follow ``live``
    while live:
        stats.steps += 1
        stats.live += len(live)
        act = np.array(live)
        boards = Boards(own[act], mask[act])
        act_rngs = [rngs[s] for s in live]
        if sp.full_search_prob < 1:
            full = np.array([r.random() < sp.full_search_prob for r in act_rngs])
        else:
            full = np.ones(len(live), bool)
        visits, policy, best, root_value, searched = _search_split(
            boards, evaluate, mcts, sp, act_rngs, full, tree)
        if mcts.root_selection == "gumbel":
            cols = best
        else:
            played = np.array([len(hist[s].moves) for s in live])
            temps = np.where(played < sp.temperature_moves, sp.temperature_high,
                             sp.temperature_low)
            probs = apply_temperature(visits, temps)
            cols = sample_moves(probs, np.array([r.random() for r in act_rngs]))
        new_own, new_mask, won, full_board = batch_play(boards.own, boards.mask, cols)
        next_live, next_rows, next_nodes = [], [], []
        for j, s in enumerate(live):
            hist[s].add(own[s], mask[s], policy[j], root_value[j], bool(full[j]), int(cols[j]))
            own[s], mask[s] = new_own[j], new_mask[j]
            if won[j] or full_board[j]:
                yield hist[s].finish(gid[s], won=bool(won[j]))
                if start(s):
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
    from . import checkpoint as ckpt
    from .inference import evaluator_for
    from .net import fresh_net, select_device

    dev = select_device(device)
    net = (ckpt.load(checkpoint, dev).net if checkpoint is not None
           else fresh_net(net_cfg, init_seed, dev))
    return evaluator_for(net, dev, inference, selfplay=True, seed=init_seed)


def work_stats(evaluate, play: PlayStats, cpu_seconds: float) -> dict:
    """What one worker reports of its self-play: the evaluator's counters (``evaluators.
    EvalStats``), batched searches, live games summed over them, slots, and its CPU seconds."""
    return {**evaluate.stats.as_dict(), "steps": play.steps, "live": play.live,
            "slots": play.slots, "cpu_seconds": cpu_seconds}


def _worker(job: WorkerJob, worker_id: int, messages: mp.Queue) -> None:
    """Process entry point: report ("game", id, positions), ("done", id) or ("error", id, tb)."""
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
        messages.put(("stats", worker_id,
                      work_stats(evaluate, play, time.process_time() - cpu0)))
        messages.put(("done", worker_id))
    except OSError as e:  # a full disk or a read-only folder: the parent reports it in a line
        messages.put(("oserror", worker_id, e.errno, e.strerror, e.filename))
    except BaseException:  # noqa: BLE001 - the parent must hear about every failure
        messages.put(("error", worker_id, traceback.format_exc()))


class WorkerError(RuntimeError):
    """A self-play worker failed; carries its traceback."""


def run_pool(checkpoint: str | None, net: NetConfig, mcts: MCTSConfig, sp: SelfPlayConfig,
             out_dir: str, meta: dict | None = None, reporter: Reporter = SILENT,
             inference: InferenceConfig = InferenceConfig()) -> dict:
    """Play ``sp.games`` games into ``out_dir`` with ``sp.workers`` processes; resumable.

    Chunks already on disk are skipped. With one worker the games run in this process. Returns
    ``{"games": played now, "positions": ..., "seconds": ..., "chunks": written now}`` plus,
    when games were played, the inference ``backend`` and ``work``: the workers' summed
    ``work_stats``. A worker that fails stops the pool and raises ``WorkerError`` with its
    traceback.
    """
    os.makedirs(out_dir, exist_ok=True)
    atomic.remove_stale_temps(out_dir)
    todo = missing_chunks(out_dir, sp)
    total_games = sum(len(chunk_games(c, sp)) for c in todo)
    meta = {"checkpoint": checkpoint, "sims": mcts.num_simulations, "seed": sp.seed,
            **(meta or {})}
    stats: dict = {"games": 0, "positions": 0, "seconds": 0.0, "chunks": len(todo)}
    if not todo:
        return stats
    inference = worker_inference(inference, net, sp.device)
    stats["backend"] = inference.backend
    workers = min(sp.workers, len(todo))
    t0 = time.perf_counter()
    bar = reporter.bar(total_games, "self-play", "game")
    work: dict = {}

    def tick(positions: int) -> None:
        stats["games"] += 1
        stats["positions"] += positions
        rate = stats["positions"] / max(time.perf_counter() - t0, 1e-9)
        bar.set_postfix_str(f"{rate:.0f} pos/s", refresh=False)
        bar.update(1)

    def add_work(w: dict) -> None:
        for k, v in w.items():
            work[k] = max(work.get(k, 0), v) if k == "slots" else work.get(k, 0) + v

    try:
        if workers == 1:
            cpu0 = time.process_time()
            evaluate = load_evaluator(checkpoint, net, sp.device, sp.seed, inference)
            play = PlayStats()
            play_chunks(evaluate, mcts, sp, todo, out_dir, {**meta, "worker": 0},
                        on_game=lambda r: tick(len(r.samples)), stats=play)
            add_work(work_stats(evaluate, play, time.process_time() - cpu0))
        else:
            _run_processes(checkpoint, net, mcts, sp, out_dir, meta, todo, workers, tick,
                           inference, add_work)
    finally:
        bar.close()
    stats["seconds"] = time.perf_counter() - t0
    stats["work"] = work
    return stats


def work_summary(stats: dict) -> dict:
    """The self-play workers' inference figures: backend, network evaluations per worker
    CPU-second, finished positions per worker CPU-second, cache hit rate, mean batch
    occupancy (empty when this run of the iteration played no game)."""
    w = stats.get("work")
    if not w or not w.get("cpu_seconds"):
        return {}
    return {"backend": stats.get("backend"),
            "evals_per_cpu_s": round(w["net_positions"] / w["cpu_seconds"], 1),
            "positions_per_cpu_s": round(stats["positions"] / w["cpu_seconds"], 2),
            "cache_hit_rate": round(w["hits"] / w["positions"], 4) if w["positions"] else 0.0,
            "mean_batch_occupancy": (round(w["live"] / (w["steps"] * w["slots"]), 4)
                                     if w["steps"] else 0.0)}


def worker_inference(inference: InferenceConfig, net: NetConfig,
                     device: str) -> InferenceConfig:
    """``inference`` with ``backend: auto`` replaced by the backend that is fastest here on one
    thread, as a self-play worker runs (timed once per process; see ``inference``)."""
    if inference.backend != "auto":
        return inference
    import torch

    from .inference import resolve_backend
    from .net import build_net, select_device

    dev = select_device(device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        name, _ = resolve_backend("auto", build_net(net, dev), dev)
    finally:
        torch.set_num_threads(threads)
    return replace(inference, backend=name)


def _run_processes(checkpoint, net, mcts, sp, out_dir, meta, todo, workers, tick, inference,
                   add_work) -> None:
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    procs = []
    for w in range(workers):
        job = WorkerJob(checkpoint, net, mcts, sp, tuple(todo[w::workers]), out_dir, meta,
                        sp.device, sp.seed, inference)
        p = ctx.Process(target=_worker, args=(job, w, messages), daemon=True,
                        name=f"selfplay-{w}")
        p.start()
        procs.append(p)
    running = set(range(workers))
    try:
        while running:
            try:
                msg = messages.get(timeout=1.0)
            except queue.Empty:
                for w in list(running):
                    code = procs[w].exitcode
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
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
