"""A perfect Connect Four solver, through the optional ``bitbully`` package
(``pip install "alphazero-c4[solver]"``).

Scores follow Pascal Pons' convention, the same as the shipped benchmark files: from the side
to move's view, positive = a win (the larger, the sooner), 0 = a draw, negative = a loss.
"""

from __future__ import annotations

import functools
from typing import Any

from alphazero.rules.game import COLS, ROWS, State


class SolverUnavailable(RuntimeError):
    """The solver extra is not installed; the message says how to install it."""


@functools.lru_cache(maxsize=1)
def _agent() -> Any:
    try:
        import bitbully
    except ImportError:
        raise SolverUnavailable('the perfect solver needs the solver extra: pip install '
                                '"alphazero-c4[solver]" (or pip install bitbully)') from None
    return bitbully.BitBully()


def require() -> None:
    """Raise ``SolverUnavailable`` (its message names the fix) unless the extra is installed."""
    _agent()


def available() -> bool:
    """True when the solver extra is installed."""
    try:
        require()
    except SolverUnavailable:
        return False
    return True


def scores(state: State) -> list[int | None]:
    """The perfect score of every column of ``state`` (None where the column is full); the
    game must not be over. Raises ``SolverUnavailable`` without the extra."""
    agent = _agent()
    import bitbully

    if state.is_terminal():
        raise ValueError("the game is over: there is nothing to solve")
    board = bitbully.Board.from_array(
        [[state.cell(r, c) for c in range(COLS)] for r in range(ROWS - 1, -1, -1)])
    by_col = agent.score_all_moves(board)
    return [by_col.get(c) if state.is_legal(c) else None for c in range(COLS)]


def value(state: State) -> int:
    """``state``'s result under perfect play for the side to move (game not over): +1 a win,
    0 a draw, -1 a loss."""
    best = max(s for s in scores(state) if s is not None)
    return (best > 0) - (best < 0)


def is_draw(state: State) -> bool:
    """True when ``state`` (game not over) is a draw under perfect play."""
    return value(state) == 0


def verdict(score: int, ply: int) -> dict:
    """A column's score (Pons' convention) at a position of ``ply`` stones, in words for a
    person: ``{"result": "win" | "draw" | "loss", "moves": k}``, k = the side to move's own
    moves, this one included, until its four (win) or before the opponent's (loss)."""
    if score > 0:
        return {"result": "win", "moves": (COLS * ROWS + 3 - ply) // 2 - score}
    if score < 0:
        return {"result": "loss", "moves": (COLS * ROWS + 2 - ply) // 2 + score}
    return {"result": "draw", "moves": None}
