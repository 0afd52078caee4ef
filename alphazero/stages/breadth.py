"""Play off the beaten path against perfect play: how a player holds positions that random
openings lead to, where its own self-play seldom goes.

A start is the position after a few uniformly random moves, labelled by the solver: won or
drawn for the side to move (lost starts are left out: nothing can be kept there). The player
takes the side to move and plays the game out against the solver (random among its best
moves). For won and drawn starts apart it reports how often the player reached the
theoretical result (kept the win, held the draw) and the share of its moves that kept the
position's value (a move whose solver score has the best move's sign). Everything is drawn
from one seed, so two nets meet the same starts and the same solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alphazero.rules import solver
from alphazero.rules.game import Boards, State
from alphazero.stages.arena import Player, SolverPlayer


@dataclass
class Kept:
    """One kind of start: ``games`` played, ``kept`` ending in the theoretical result;
    ``moves`` the player made, ``good`` of them keeping the value."""

    games: int = 0
    kept: int = 0
    moves: int = 0
    good: int = 0

    def as_dict(self) -> dict:
        return {"games": self.games, "kept": self.kept,
                "kept_rate": self.kept / self.games if self.games else None,
                "moves": self.moves,
                "good_move_rate": self.good / self.moves if self.moves else None}


@dataclass
class Breadth:
    """``won``: starts won for the player's side; ``drawn``: drawn ones."""

    won: Kept = field(default_factory=Kept)
    drawn: Kept = field(default_factory=Kept)

    def as_dict(self) -> dict:
        return {"won": self.won.as_dict(), "drawn": self.drawn.as_dict()}

    def summary(self) -> str:
        def part(name: str, k: Kept, verb: str) -> str:
            if not k.games:
                return f"no {name} starts"
            return (f"{verb} {k.kept}/{k.games} {name} starts ({k.kept / k.games:.0%}), "
                    f"{k.good / k.moves:.1%} of {k.moves} moves keep the value")
        return f"{part('won', self.won, 'kept')}; {part('drawn', self.drawn, 'held')}"


def starts(per_kind: int, seed: int, plies: tuple[int, int] = (4, 12)) -> list[tuple[str, int]]:
    """``per_kind`` won and ``per_kind`` drawn starts ``(moves, value)`` (value +1 won, 0
    drawn, for the side to move): positions after a uniformly random number of random moves
    in ``plies``, none ending the game, no position twice. Needs the solver extra."""
    rng = np.random.default_rng(seed)
    found: dict[int, list[str]] = {1: [], 0: []}
    seen: set[tuple[int, int]] = set()
    while min(len(v) for v in found.values()) < per_kind:
        state, moves = State(), ""
        for _ in range(int(rng.integers(plies[0], plies[1] + 1))):
            cols = [c for c in state.legal_moves() if not state.play(c).is_terminal()]
            col = int(rng.choice(cols))
            state, moves = state.play(col), moves + str(col + 1)
        value = solver.value(state)
        key = (state.own, state.mask)
        if value in found and len(found[value]) < per_kind and key not in seen:
            seen.add(key)
            found[value].append(moves)
    return [(m, v) for v in (1, 0) for m in found[v]]


def measure(player: Player, per_kind: int = 100, seed: int = 0,
            plies: tuple[int, int] = (4, 12)) -> Breadth:
    """``player`` from ``starts(per_kind, seed, plies)`` against the solver, all games in
    one batch (the player chooses for every game whose turn it is in one call)."""
    jobs = starts(per_kind, seed, plies)
    opponent = SolverPlayer(seed)
    states = [State.from_moves(m) for m, _ in jobs]
    mine = [s.ply % 2 for s in states]  # the player moves when ply % 2 equals this
    out = Breadth()
    tally = [out.won if v == 1 else out.drawn for _, v in jobs]
    while live := [g for g, s in enumerate(states) if not s.is_terminal()]:
        for turn, chooser in ((True, player), (False, opponent)):
            idx = [g for g in live if not states[g].is_terminal()
                   and (states[g].ply % 2 == mine[g]) == turn]
            if not idx:
                continue
            cols = chooser.select(Boards.from_states([states[g] for g in idx]))
            for g, col in zip(idx, cols):
                if turn:
                    _judge_move(states[g], int(col), tally[g])
                states[g] = states[g].play(int(col))
    for g, (_, value) in enumerate(jobs):
        t = tally[g]
        t.games += 1
        result = states[g].result()  # for the side to move at the end
        mover_won = result == -1 and states[g].ply % 2 != mine[g]
        t.kept += mover_won if value == 1 else result == 0 or mover_won
    return out


def _judge_move(state: State, col: int, tally: Kept) -> None:
    scores = solver.scores(state)
    best = max(s for s in scores if s is not None)
    tally.moves += 1
    tally.good += np.sign(scores[col]) == np.sign(best)
