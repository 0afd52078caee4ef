"""Matches between players, reference opponents and the promotion rule.

A player is anything with ``select(boards) -> columns``: it picks one column for every position
of a batch, so a whole match runs as batches across games. Reference opponents:

* ``random``: a uniformly random legal column;
* ``greedy``: wins at once if it can, blocks the opponent's immediate win if it must, else random;
* ``alphabeta:K``: negamax with alpha-beta to depth K, scoring leaves by threats (empty cells
  that would complete four) of each side, ties broken at random;
* ``solver``: perfect play through the optional solver extra, random among the best moves.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from alphazero.core import faults
from alphazero.core.config import ArenaConfig, MCTSConfig
from alphazero.core.opponents import BUILTIN_OPPONENTS, OpponentError, parse_opponent
from alphazero.core.ratings import MatchElo, match_elo, promotion_verdict
from alphazero.report.reporter import SILENT, Reporter
from alphazero.rules import solver
from alphazero.rules.game import (
    BOARD_MASK,
    Boards,
    State,
    batch_cell_columns,
    batch_legal,
    batch_play,
    playable_cells,
    winning_cells,
)
from alphazero.search.evaluators import Evaluate
from alphazero.search.mcts import Searcher, match_config


class Player(Protocol):
    name: str

    def select(self, boards: Boards) -> np.ndarray:
        """One column (int [B]) for each of the B non-terminal positions."""


def _random_legal(legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.argmax(rng.random(legal.shape) * legal + legal * 1e-9, axis=1)


class RandomPlayer:
    def __init__(self, seed: int = 0):
        self.name = "random"
        self.rng = np.random.default_rng(seed)

    def select(self, boards: Boards) -> np.ndarray:
        return _random_legal(batch_legal(boards.mask), self.rng)


class GreedyPlayer:
    def __init__(self, seed: int = 0):
        self.name = "greedy"
        self.rng = np.random.default_rng(seed)

    def select(self, boards: Boards) -> np.ndarray:
        own, mask = boards.own, boards.mask
        play = playable_cells(mask)
        wins = batch_cell_columns(winning_cells(own, mask) & play)
        blocks = batch_cell_columns(winning_cells(own ^ mask, mask) & play)
        legal = batch_legal(mask)
        choice = np.where(wins.any(axis=1)[:, None], wins,
                          np.where(blocks.any(axis=1)[:, None], blocks, legal))
        return _random_legal(choice, self.rng)


_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: better cut-offs
_WIN = 1000


class AlphaBetaPlayer:
    """Depth-limited negamax; a win found at depth d scores ``_WIN - d`` (faster is better)."""

    def __init__(self, depth: int, seed: int = 0):
        self.name = f"alphabeta:{depth}"
        self.depth = depth
        self.rng = random.Random(seed)

    @staticmethod
    def _heuristic(s: State) -> int:
        opp = s.own ^ s.mask
        mine = winning_cells(s.own, s.mask).bit_count()
        theirs = winning_cells(opp, s.mask).bit_count()
        return mine - theirs

    def _negamax(self, s: State, depth: int, alpha: int, beta: int, ply: int) -> int:
        if s.lost:
            return -(_WIN - ply)
        if s.mask == BOARD_MASK:
            return 0
        if winning_cells(s.own, s.mask) & playable_cells(s.mask):
            return _WIN - ply - 1
        if depth == 0:
            return self._heuristic(s)
        best = -10 * _WIN
        for c in _ORDER:
            if not s.is_legal(c):
                continue
            v = -self._negamax(s.play(c), depth - 1, -beta, -alpha, ply + 1)
            if v > best:
                best = v
            if v > alpha:
                alpha = v
            if alpha >= beta:
                break
        return best

    def choose(self, s: State) -> int:
        scores = {}
        for c in s.legal_moves():
            scores[c] = -self._negamax(s.play(c), self.depth - 1, -10 * _WIN, 10 * _WIN, 1)
        top = max(scores.values())
        return self.rng.choice([c for c, v in scores.items() if v == top])

    def select(self, boards: Boards) -> np.ndarray:
        """Columns for a batch; large batches are spread over all CPU cores."""
        n = len(boards)
        workers = min(os.cpu_count() or 1, n // 16)
        if workers <= 1:
            return np.array([self.choose(boards.state(i)) for i in range(n)])
        import multiprocessing as mp

        parts = np.array_split(np.arange(n), workers)
        jobs = [(self.depth, self.rng.randrange(2**31), boards.own[p], boards.mask[p])
                for p in parts]
        with mp.get_context("spawn").Pool(workers) as pool:
            return np.concatenate(pool.map(_alphabeta_chunk, jobs))


def _alphabeta_chunk(job) -> np.ndarray:
    depth, seed, own, mask = job
    player = AlphaBetaPlayer(depth, seed)
    b = Boards(own, mask)
    return np.array([player.choose(b.state(i)) for i in range(len(b))], dtype=np.int64)


class MCTSPlayer:
    """Search with a network evaluator and no root noise; plays the search's best move (the
    most visited column under PUCT, the sequential-halving winner under Gumbel)."""

    def __init__(self, evaluate: Evaluate, mcts: MCTSConfig, name: str = "mcts"):
        self.name = name
        self.evaluate = evaluate
        self.mcts = mcts
        self.searcher = Searcher(evaluate, mcts)  # reuses its subtrees between moves

    def select(self, boards: Boards) -> np.ndarray:
        return self.searcher(boards).move


class PolicyPlayer:
    """The raw network policy, no search: the most probable legal column."""

    def __init__(self, evaluate: Evaluate, name: str = "policy"):
        self.name = name
        self.evaluate = evaluate

    def select(self, boards: Boards) -> np.ndarray:
        return self.evaluate(boards)[0].argmax(axis=1)


class SolverPlayer:
    """Perfect play (the solver extra): uniformly at random among the best-scoring moves,
    from its own seeded stream. Moving first from the empty board it wins every game."""

    def __init__(self, seed: int = 0):
        self.name = "solver"
        self.rng = random.Random(seed)

    def select(self, boards: Boards) -> np.ndarray:
        out = []
        for i in range(len(boards)):
            scores = solver.scores(boards.state(i))
            top = max(x for x in scores if x is not None)
            out.append(self.rng.choice([c for c, x in enumerate(scores) if x == top]))
        return np.array(out, dtype=np.int64)


def reference_player(spec: str, seed: int = 0) -> Player:
    """The built-in opponent ``spec`` names (see ``opponents.parse_opponent``); an
    ``OpponentError`` for anything else."""
    kind, arg = parse_opponent(spec)
    if kind == "random":
        return RandomPlayer(seed)
    if kind == "greedy":
        return GreedyPlayer(seed)
    if kind == "alphabeta":
        return AlphaBetaPlayer(int(arg), seed)
    if kind == "solver":
        solver.scores(State())  # fail now, in one line, if the extra is missing
        return SolverPlayer(seed)
    raise OpponentError(f"unknown opponent {spec!r}: use a checkpoint path, {BUILTIN_OPPONENTS}")


# --------------------------------------------------------------------------------------------
# Matches
# --------------------------------------------------------------------------------------------


@dataclass
class MatchResult:
    """Counts from player A's view, and each game's moves and result for A."""

    wins: int = 0
    draws: int = 0
    losses: int = 0
    games: list[tuple[str, int]] = field(default_factory=list)
    a_first: list[bool] = field(default_factory=list)  # per game: A moved first

    @property
    def n(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / max(self.n, 1)

    def elo(self) -> MatchElo:
        """Elo difference of A over B implied by the score, with its 95% interval."""
        return match_elo(self.wins, self.draws, self.losses)

    def summary(self) -> str:
        return f"W{self.wins}/D{self.draws}/L{self.losses} (score {self.score:.3f})"

    def by_colour(self) -> dict[str, dict[str, int]]:
        """A's wins, draws and losses when it moved first and when it moved second."""
        out = {side: {"wins": 0, "draws": 0, "losses": 0} for side in ("first", "second")}
        for (_, r), first in zip(self.games, self.a_first):
            out["first" if first else "second"][{1: "wins", 0: "draws", -1: "losses"}[r]] += 1
        return out


def openings(count: int, plies: int, seed: int) -> list[str]:
    """``count`` random openings of ``plies`` moves that leave the game open (distinct while
    there are enough of them)."""
    rng = random.Random(seed)
    seen: list[str] = []
    attempts = 0
    while len(seen) < count:
        s, moves = State(), ""
        for _ in range(plies):
            c = rng.choice(s.legal_moves())
            s, moves = s.play(c), moves + str(c + 1)
        attempts += 1
        if s.is_terminal() or s.result() is not None:
            continue
        if moves in seen and attempts < 50 * count:
            continue
        seen.append(moves)
    return seen


def match_batch(parallel: int) -> int:
    """Games played together between two looks of a match: ``parallel`` rounded down to whole
    colour-swapped pairs."""
    return max(2, parallel - parallel % 2)


def play_match(a: Player, b: Player, games: int, opening_plies: int = 2, seed: int = 0,
               parallel: int = 64, reporter: Reporter = SILENT,
               stop: Callable[[MatchResult, bool], bool] | None = None) -> MatchResult:
    """``games`` games of A against B; each opening is played twice, A first then B first.
    Up to ``parallel`` games run at once (rounded down to pairs), each player choosing for all
    its games in one call. ``stop(result, final)``, asked after every batch, ends the match
    early when it returns True."""
    opens = openings((games + 1) // 2, opening_plies, seed)
    jobs = [(opens[g // 2], g % 2 == 0) for g in range(games)]  # (opening, A moves first)
    step = match_batch(parallel)
    result = MatchResult()
    bar = reporter.bar(games, "arena", "game")
    for start in range(0, games, step):
        batch = jobs[start:start + step]
        for (moves, r), (_, first) in zip(_play_batch(a, b, batch, bar), batch):
            result.wins += r == 1
            result.draws += r == 0
            result.losses += r == -1
            result.games.append((moves, r))
            result.a_first.append(first)
        if stop is not None and stop(result, start + step >= games):
            break
    bar.close()
    return result


def _play_batch(a: Player, b: Player, jobs: list[tuple[str, bool]],
                bar: Any) -> list[tuple[str, int]]:
    """Play the games ``jobs`` ((opening, A moves first) each) to the end together; returns
    each game's moves and its result for A (+1, 0, -1)."""
    states = [State.from_moves(o) for o, _ in jobs]
    own = np.array([s.own for s in states], np.uint64)
    mask = np.array([s.mask for s in states], np.uint64)
    moves = [o for o, _ in jobs]
    a_first = np.array([f for _, f in jobs])
    live = np.ones(len(jobs), bool)
    outcome = np.zeros(len(jobs), int)  # for A
    while live.any():
        # A is to move when (stones played is even) == (A moves first).
        a_turn = (np.bitwise_count(mask) % 2 == 0) == a_first
        cols = np.zeros(len(jobs), np.int64)
        for player, turn in ((a, a_turn), (b, ~a_turn)):
            idx = np.flatnonzero(live & turn)
            if idx.size:
                cols[idx] = player.select(Boards(own[idx], mask[idx]))
        idx = np.flatnonzero(live)
        o, m, won, full = batch_play(own[idx], mask[idx], cols[idx])
        own[idx], mask[idx] = o, m
        for j, g in enumerate(idx):
            moves[g] += str(int(cols[g]) + 1)
            if won[j] or full[j]:
                live[g] = False
                outcome[g] = 0 if not won[j] else (1 if a_turn[g] else -1)
                bar.update(1)
                faults.point("arena_game")
    return [(moves[g], int(outcome[g])) for g in range(len(jobs))]


def arena_match(candidate: Evaluate, best: Evaluate, cfg: ArenaConfig, mcts: MCTSConfig,
                seed: int, reporter: Reporter = SILENT) -> tuple[MatchResult, bool]:
    """Candidate (A) against best (B) with search at ``cfg.num_simulations``, no noise, until
    the promotion rule has its answer; returns the games played and whether to promote."""
    m = match_config(mcts, cfg.num_simulations)
    verdict: list[bool] = []

    def decided(result: MatchResult, final: bool) -> bool:
        v = promotion(result, cfg, final)
        if v is not None:
            verdict.append(v)
        return v is not None

    result = play_match(MCTSPlayer(candidate, m, "candidate"), MCTSPlayer(best, m, "best"),
                        cfg.games, cfg.opening_plies, seed, cfg.parallel_games, reporter, decided)
    return result, verdict[-1]


def promotion(result: MatchResult, cfg: ArenaConfig, final: bool = True) -> bool | None:
    """The promotion rule, asked after a batch of games: True (promote), False (keep the
    best) or None (play on). Without gating, always promote; with ``cfg.alpha`` > 0, promote
    only when the candidate is better at that error rate (``ratings.promotion_verdict``);
    with ``alpha`` = 0, when the final score reaches ``cfg.threshold``."""
    if not cfg.gating:
        return True
    if cfg.alpha > 0:
        looks = -(-cfg.games // match_batch(cfg.parallel_games))
        return promotion_verdict(result.wins, result.draws, result.losses, cfg.alpha, looks,
                                 final)
    return result.score >= cfg.threshold if final else None
