"""Connect Four rules on bitboards: one immutable game state, and a batched form over numpy.

Layout (Pascal Pons' solver layout): the 7x6 board is stored in 49 bits, 7 per column, column
``c`` in bits ``7*c .. 7*c+6`` with row 0 at the bottom. The 7th bit of each column is a
sentinel that is never set, so shifted alignments never wrap from one column to the next.

A position is two bitboards: ``own`` (stones of the side to move) and ``mask`` (all stones).
The opponent's stones are ``own ^ mask``. Playing a column moves the new stone into ``mask``
and swaps sides, so ``own`` of the next position is the old opponent's stones.

This module imports nothing from the package and never imports torch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

ROWS = 6
COLS = 7
CELLS = ROWS * COLS
_H1 = ROWS + 1  # bits per column, with the sentinel

#: lowest cell of each column
BOTTOM = tuple(1 << (_H1 * c) for c in range(COLS))
#: highest playable cell of each column; set when the column is full
TOP = tuple(1 << (ROWS - 1 + _H1 * c) for c in range(COLS))
#: every playable cell
BOARD_MASK = sum(((1 << ROWS) - 1) << (_H1 * c) for c in range(COLS))

FIRST_SYMBOL, SECOND_SYMBOL, EMPTY_SYMBOL = "X", "O", "."


class IllegalMoveError(ValueError):
    """A move that the rules do not allow (out of range, full column, game over)."""


def aligned(p: int) -> bool:
    """True when the bitboard ``p`` holds four stones in a row in any direction."""
    # Shifts: 1 vertical, 7 horizontal, 6 and 8 the two diagonals.
    m = p & (p >> 1)
    if m & (m >> 2):
        return True
    m = p & (p >> 7)
    if m & (m >> 14):
        return True
    m = p & (p >> 6)
    if m & (m >> 12):
        return True
    m = p & (p >> 8)
    return bool(m & (m >> 16))


def four_cells(p: int) -> int:
    """The stones of bitboard ``p`` that lie in a four in a row (any direction), as a mask."""
    out = 0
    for s in (1, 7, 6, 8):
        starts = p & (p >> s) & (p >> 2 * s) & (p >> 3 * s)
        out |= starts | (starts << s) | (starts << 2 * s) | (starts << 3 * s)
    return out


class State(NamedTuple):
    """An immutable Connect Four position.

    ``own``: stones of the side to move; ``mask``: all stones; ``lost``: True when the previous
    move made four in a row, so the side to move has lost and the game is over.
    """

    own: int = 0
    mask: int = 0
    lost: bool = False

    @property
    def ply(self) -> int:
        """Number of stones on the board."""
        return self.mask.bit_count()

    @property
    def first_to_move(self) -> bool:
        """True when the side to move is the player who started the game."""
        return self.mask.bit_count() % 2 == 0

    def is_terminal(self) -> bool:
        """True when the game is over (a win or a full board)."""
        return self.lost or self.mask == BOARD_MASK

    def result(self) -> int | None:
        """The result from the side to move's view: -1 lost, 0 draw, None while the game goes on.

        The side to move can never have won: a win ends the game on the winner's own move.
        """
        if self.lost:
            return -1
        if self.mask == BOARD_MASK:
            return 0
        return None

    def legal_moves(self) -> list[int]:
        """Columns (0-based) that can be played; empty when the game is over."""
        if self.lost:
            return []
        mask = self.mask
        return [c for c in range(COLS) if not mask & TOP[c]]

    def is_legal(self, col: int) -> bool:
        """True when column ``col`` (0-based) can be played now."""
        return 0 <= col < COLS and not self.lost and not self.mask & TOP[col]

    def play(self, col: int) -> State:
        """The position after the side to move drops a stone in column ``col`` (0-based).

        Raises ``IllegalMoveError`` for a column out of range, a full column or a finished game.
        """
        if not 0 <= col < COLS:
            raise IllegalMoveError(f"column {col + 1} is out of range: columns are 1 to {COLS}")
        mask = self.mask
        if mask & TOP[col]:
            raise IllegalMoveError(f"column {col + 1} is full")
        if self.lost or mask == BOARD_MASK:
            raise IllegalMoveError("the game is over")
        new_mask = mask | (mask + BOTTOM[col])
        mover = self.own | (new_mask ^ mask)
        return State(self.own ^ mask, new_mask, aligned(mover))

    def play_moves(self, moves: str) -> State:
        """Play a move string in the 1-indexed column format ("4453") from this position."""
        state = self
        for i, ch in enumerate(moves):
            if not ("1" <= ch <= str(COLS)):
                raise IllegalMoveError(
                    f"move {i + 1} of {moves!r} is {ch!r}: moves are digits 1 to {COLS}"
                )
            try:
                state = state.play(int(ch) - 1)
            except IllegalMoveError as e:
                raise IllegalMoveError(f"move {i + 1} of {moves!r}: {e}") from None
        return state

    @classmethod
    def from_moves(cls, moves: str) -> State:
        """The position reached by the 1-indexed move string ``moves`` from the empty board."""
        return cls().play_moves(moves)

    def cell(self, row: int, col: int) -> int:
        """Owner of a cell (row 0 = bottom): 1 first player, 2 second player, 0 empty."""
        bit = 1 << (col * _H1 + row)
        if not self.mask & bit:
            return 0
        own_is_first = self.first_to_move
        is_own = bool(self.own & bit)
        return 1 if is_own == own_is_first else 2

    def render(self, highlight: int = 0, mark=lambda symbol: symbol) -> str:
        """The board as text, top row first, with column numbers 1-7 underneath; the cells of
        the bitboard ``highlight`` are drawn through ``mark`` (e.g. an ANSI colour)."""
        symbols = (EMPTY_SYMBOL, FIRST_SYMBOL, SECOND_SYMBOL)

        def sym(r: int, c: int) -> str:
            text = symbols[self.cell(r, c)]
            return mark(text) if highlight >> (c * _H1 + r) & 1 else text

        lines = [" ".join(sym(r, c) for c in range(COLS)) for r in range(ROWS - 1, -1, -1)]
        lines.append(" ".join(str(c + 1) for c in range(COLS)))
        return "\n".join(lines)

    def mirror(self) -> State:
        """The left-right mirror image of this position."""
        return State(mirror_bits(self.own), mirror_bits(self.mask), self.lost)


def mirror_bits(b: int) -> int:
    """Mirror a bitboard left-right (column c <-> column 6 - c)."""
    out = 0
    for c in range(COLS):
        out |= ((b >> (_H1 * c)) & 0x7F) << (_H1 * (COLS - 1 - c))
    return out


# --------------------------------------------------------------------------------------------
# Batched form: many games at once over numpy uint64 arrays.
# --------------------------------------------------------------------------------------------

_U = np.uint64
BOTTOM_ARR = np.array(BOTTOM, dtype=_U)
TOP_ARR = np.array(TOP, dtype=_U)
BOARD_MASK_U = _U(BOARD_MASK)
_S = {k: _U(k) for k in (1, 2, 6, 7, 8, 12, 14, 16)}


class Boards(NamedTuple):
    """A batch of positions: ``own`` and ``mask`` are uint64 arrays of shape [B].

    This is the ``states`` argument of every ``evaluate(states) -> (priors, values)`` function.
    """

    own: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.own.shape[0])

    @classmethod
    def empty(cls, n: int) -> Boards:
        """``n`` empty boards."""
        return cls(np.zeros(n, dtype=_U), np.zeros(n, dtype=_U))

    @classmethod
    def from_states(cls, states: list[State]) -> Boards:
        """Pack single-game states into a batch."""
        return cls(
            np.array([s.own for s in states], dtype=_U), np.array([s.mask for s in states], dtype=_U)
        )

    def state(self, i: int) -> State:
        """Row ``i`` as a single-game state (``lost`` recomputed from the stones)."""
        own, mask = int(self.own[i]), int(self.mask[i])
        return State(own, mask, aligned(own ^ mask))

    def take(self, idx) -> Boards:
        """Rows ``idx`` (an index array or mask) as a new batch."""
        return Boards(self.own[idx], self.mask[idx])


def batch_aligned(p: np.ndarray) -> np.ndarray:
    """Four in a row test for a uint64 array of bitboards [B] -> bool [B]."""
    s = _S
    m = p & (p >> s[1])
    won = (m & (m >> s[2])) != 0
    m = p & (p >> s[7])
    won |= (m & (m >> s[14])) != 0
    m = p & (p >> s[6])
    won |= (m & (m >> s[12])) != 0
    m = p & (p >> s[8])
    won |= (m & (m >> s[16])) != 0
    return won


def batch_legal(mask: np.ndarray) -> np.ndarray:
    """Playable columns: uint64 [B] -> bool [B, 7] (ignores whether the game is already won)."""
    return (mask[:, None] & TOP_ARR[None, :]) == 0


def batch_play(
    own: np.ndarray, mask: np.ndarray, cols: np.ndarray, check: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Play column ``cols[b]`` (0-based, int [B]) in every game of the batch.

    Returns ``(own', mask', won, full)``: the new positions from the new side to move's view,
    bool [B] True where the move made four in a row (the new side to move has lost), and bool [B]
    True where the board is now full. With ``check``, a full column raises ``IllegalMoveError``.
    """
    cols = np.asarray(cols)
    if check:
        if cols.size and (cols.min() < 0 or cols.max() >= COLS):
            raise IllegalMoveError(f"columns must be 0..{COLS - 1}")
        if np.any(mask & TOP_ARR[cols]):
            raise IllegalMoveError("a batch move was played into a full column")
    new_mask = mask | (mask + BOTTOM_ARR[cols])
    mover = own | (new_mask ^ mask)
    return own ^ mask, new_mask, batch_aligned(mover), new_mask == BOARD_MASK_U


def batch_lost(own: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """bool [B]: the previous move made four in a row, so the side to move has lost."""
    return batch_aligned(own ^ mask)


_COLUMN_BITS = tuple(_U(0x7F << (_H1 * c)) for c in range(COLS))  # a column with its top bit


def batch_mirror(b: np.ndarray) -> np.ndarray:
    """Mirror uint64 bitboards [B] left-right (every column's 7 bits, so keys that carry into
    a column's top bit mirror too): columns swap in pairs around the middle one."""
    out = b & _COLUMN_BITS[COLS // 2]
    for c in range(COLS // 2):  # half the operations of moving each column on its own
        shift = _U(_H1 * (COLS - 1 - 2 * c))
        out |= ((b & _COLUMN_BITS[c]) << shift) | ((b & _COLUMN_BITS[COLS - 1 - c]) >> shift)
    return out


COLUMN_MASK = tuple(((1 << ROWS) - 1) << (_H1 * c) for c in range(COLS))
COLUMN_MASK_ARR = np.array(COLUMN_MASK, dtype=_U)
_BOTTOM_ALL = sum(BOTTOM)


def winning_cells(p, mask):
    """Empty cells that would complete four in a row for the stones ``p`` (Python ints or
    uint64 arrays, same layout). Not necessarily playable yet: AND with ``playable_cells``."""
    if isinstance(p, np.ndarray):
        r = (p << _U(1)) & (p << _U(2)) & (p << _U(3))
        for s in (6, 7, 8):
            s1, s2, s3 = _U(s), _U(2 * s), _U(3 * s)
            t = (p << s1) & (p << s2)
            r |= t & (p << s3)
            r |= t & (p >> s1)
            t = (p >> s1) & (p >> s2)
            r |= t & (p << s1)
            r |= t & (p >> s3)
        return r & (BOARD_MASK_U ^ mask)
    r = (p << 1) & (p << 2) & (p << 3)
    for s in (6, 7, 8):
        t = (p << s) & (p << 2 * s)
        r |= t & (p << 3 * s)
        r |= t & (p >> s)
        t = (p >> s) & (p >> 2 * s)
        r |= t & (p << s)
        r |= t & (p >> 3 * s)
    return r & (BOARD_MASK ^ mask)


def playable_cells(mask):
    """The cell each non-full column would take next (ints or uint64 arrays)."""
    if isinstance(mask, np.ndarray):
        return (mask + _U(_BOTTOM_ALL)) & BOARD_MASK_U
    return (mask + _BOTTOM_ALL) & BOARD_MASK


def batch_cell_columns(cells: np.ndarray) -> np.ndarray:
    """bool [B, 7]: which columns hold at least one of ``cells`` (uint64 [B])."""
    return (cells[:, None] & COLUMN_MASK_ARR[None, :]) != 0
