"""Self-play's games: many at once in one process, written chunk by chunk.

One process keeps ``parallel_games`` games in flight. Each move, one batched search serves all
of them; a finished game is replaced at once by the next one. Every game draws its noise and
move choices from its own random stream, ``default_rng([seed, game_id])``, so a game is the
same whichever worker or slot plays it.

The requested games are split into chunks of ``chunk_games`` consecutive ids; each chunk
becomes one dataset file ``chunk_XXXXX.pkl``, written atomically when its last game ends. A
chunk whose file exists is never replayed, so a killed run loses at most the unfinished chunks.
Where the chunks are played (this process, worker processes, Ray actors) is ``workers.py``'s.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from alphazero.core import atomic
from alphazero.core.config import Config, MCTSConfig, SelfPlayConfig
from alphazero.replay.shards import Samples, now_iso, read_samples, shard_bytes
from alphazero.rules.encoder import encode
from alphazero.rules import solver
from alphazero.rules.game import COLS, Boards, State, batch_legal, batch_play
from alphazero.search.evaluators import Evaluate
from alphazero.search.exploration import (
    apply_temperature,
    dirichlet_noise,
    drawn_opening,
    gumbel_noise,
    random_opening,
    sample_moves,
)
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
                  rngs: list[np.random.Generator], full_search: np.ndarray,
                  tree: Tree | None, stats: PlayStats) -> tuple[np.ndarray, ...]:
    """Search every game, those with ``full_search`` with the full budget and root noise, the others
    with ``sp.fast_simulations`` and no Dirichlet noise (playout-cap randomisation), each from
    its reused ``tree`` row when given (a noised root only with ``mcts.reuse_noised_root``).

    Returns (visits int [B, 7], policy float32 [B, 7], move int [B] (the search's choice),
    root_value float32 [B], the searched trees in the order of ``boards``).
    """
    b = len(boards)
    visits = np.zeros((b, COLS), np.int32)
    policy = np.zeros((b, COLS), np.float32)
    move = np.zeros(b, np.int64)
    root_value = np.zeros(b, np.float32)
    gumbel = mcts.root_selection == "gumbel"
    trees, order = [], []
    for is_full in (True, False):
        sel = np.flatnonzero(full_search == is_full)
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
        visits[sel], policy[sel], move[sel] = res.visits, res.policy, res.move
        root_value[sel] = res.root_value
        trees.append(res.tree)
        order.append(sel)
    searched = trees[0] if len(trees) == 1 else Tree.concat(trees).take(
        np.argsort(np.concatenate(order)))
    return visits, policy, move, root_value, searched


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
        full_search = _full_searches(act_rngs, sp)
        visits, policy, chosen, root_value, searched = _search_split(
            boards, evaluate, mcts, sp, act_rngs, full_search, tree, stats)
        # Forced playouts: the move is drawn from the pruned target, not the forced visits.
        counts = policy if mcts.forced_playouts > 0 else visits
        cols = _moves(counts, chosen, [games.hist[s].ply for s in live], act_rngs, mcts, sp)
        new_own, new_mask, won, full_board = batch_play(boards.own, boards.mask, cols)
        next_live, next_rows, next_nodes = [], [], []
        for j, s in enumerate(live):
            games.hist[s].add(games.own[s], games.mask[s], policy[j], root_value[j],
                              bool(full_search[j]), int(cols[j]))
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
        opening, state = self._opening(self.rngs[s])
        self.own[s], self.mask[s] = state.own, state.mask
        self.hist[s] = GameHistory(opening=opening)
        return True

    def _opening(self, rng: np.random.Generator) -> tuple[list[int], State]:
        """A game's start: a drawn start (share ``drawn_start_share``), a random opening
        (share ``random_opening_share``) or the empty board. The shares are drawn only when
        asked for, so games without them keep their streams."""
        sp, most = self.sp, self.sp.random_opening_moves
        if most and sp.drawn_start_share > 0 and rng.random() < sp.drawn_start_share:
            return drawn_opening(rng, most, solver.is_draw)
        if most and sp.random_opening_share < 1 and rng.random() >= sp.random_opening_share:
            most = 0
        return random_opening(rng, most)


def check_requirements(cfg: Config, judging: bool = True, selfplay_here: bool = True) -> None:
    """Raise a one-line error naming the fix when ``cfg`` needs what is missing here, now or
    at any iteration of its schedule: ``SolverUnavailable`` for drawn starts, ``BackendError``
    for a backend of self-play (and of judging, with ``judging``) that is not installed or
    does not run on its device. Judging runs here, on ``train.device``; so does self-play
    with ``selfplay_here`` (on a Ray cluster only ``selfplay.device: cpu`` is certain: with
    ``auto`` a node may have a GPU). Callers check before they write anything."""
    if cfg.selfplay.drawn_start_share > 0 or "selfplay.drawn_start_share" in cfg.schedule:
        solver.require()
    from alphazero.nn.inference import require_backend
    from alphazero.nn.net import select_device

    selfplay_device = (select_device(cfg.selfplay.device) if selfplay_here
                       else select_device("cpu") if cfg.selfplay.device == "cpu" else None)
    judging_device = select_device(cfg.train.device) if judging else None
    for it in [0, *sorted({it for steps in cfg.schedule.values() for it in steps})]:
        inf = cfg.at(it).inference if it else cfg.inference
        # Self-play on another kind of device than judging's is fixed by its own backend.
        apart = (selfplay_device is not None and judging_device is not None
                 and selfplay_device.type != judging_device.type)
        require_backend(inf.selfplay_backend_name(), "inference.selfplay_backend" if apart
                        else inf.selfplay_backend_key(), selfplay_device)
        if judging:
            require_backend(inf.backend, "inference.backend", judging_device)


def _full_searches(rngs: list[np.random.Generator], sp: SelfPlayConfig) -> np.ndarray:
    """Which games get a full search this move (the playout cap): bool [B]."""
    if sp.full_search_prob < 1:
        return np.array([r.random() < sp.full_search_prob for r in rngs])
    return np.ones(len(rngs), bool)


def _moves(visits: np.ndarray, chosen: np.ndarray, played: list[int],
           rngs: list[np.random.Generator], mcts: MCTSConfig, sp: SelfPlayConfig) -> np.ndarray:
    """The columns played [B]: Gumbel's winners, or a draw from the visit counts [B, 7] (or
    any distribution proportional to them) at the temperature of each game's move number
    (``played``: moves so far)."""
    if mcts.root_selection == "gumbel":
        return chosen
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


def recorded_cpu_seconds(out_dir: str, chunks: Sequence[int]) -> float:
    """The CPU seconds the files of ``chunks`` say their self-play took (``cpu_seconds`` in
    each chunk's meta; 0 for files written before chunks recorded it, and for Ray actors'
    chunks, since the pipeline counts no actor's CPU)."""
    metas = [read_samples(chunk_path(out_dir, c)).meta for c in chunks]
    return sum(float(m.get("cpu_seconds", 0.0)) for m in metas if not m.get("ray"))


def play_chunks(evaluate: Evaluate, mcts: MCTSConfig, sp: SelfPlayConfig, chunks: Sequence[int],
                out_dir: str | None, meta: dict,
                on_game: Callable[[GameRecord], None] | None = None,
                on_chunk: Callable[[int, bytes], None] | None = None,
                stats: PlayStats | None = None) -> None:
    """Play every game of ``chunks``; as soon as a chunk is complete, write its file into
    ``out_dir`` atomically, or hand its bytes to ``on_chunk(chunk, payload)`` instead. Each
    chunk's meta records ``cpu_seconds``, this process's CPU since the chunk before (games of
    several chunks are in flight together), so that a run killed after writing it can still
    count that work."""
    ids = [g for c in chunks for g in chunk_games(c, sp)]
    mark = time.process_time()
    owner = {g: c for c in chunks for g in chunk_games(c, sp)}
    done: dict[int, list[GameRecord]] = {c: [] for c in chunks}
    for rec in play_games(evaluate, mcts, sp, ids, stats):
        if on_game is not None:
            on_game(rec)
        c = owner[rec.game_id]
        done[c].append(rec)
        if len(done[c]) == len(chunk_games(c, sp)):
            recs = sorted(done.pop(c), key=lambda r: r.game_id)
            now = time.process_time()
            cpu, mark = now - mark, now
            payload = shard_bytes(Samples.concat([r.samples for r in recs]), {
                **meta, "chunk": c, "games": len(recs), "created": now_iso(),
                "cpu_seconds": round(cpu, 6),
                "results": [r.result for r in recs],
                "game_ids": [r.game_id for r in recs],
                "game_lengths": [len(r.samples) for r in recs],
                "game_moves": [len(r.moves) for r in recs]})
            if on_chunk is not None:
                on_chunk(c, payload)
            else:
                atomic.write_bytes(chunk_path(out_dir, c), payload)
