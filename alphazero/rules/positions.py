"""Solver-labelled benchmark positions (shipped in ``alphazero/data``), the mistake rule, and
scoring a player against them (mistake rates with Wilson intervals).

Two files, both with one position per line and the perfect-play score of every column from the
side to move's view ('x' = full column): ``pons_p6k.txt`` (Pascal Pons' 6 x 1000 benchmark,
``SET MOVES S1..S7``) and ``c4_positions.txt`` (``MOVES S1..S7``, set named by game phase).
A move is a *mistake* when its score's sign (win > 0, draw 0, loss < 0) is worse than the best
sign among the legal moves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

from alphazero.core.ratings import wilson
from alphazero.report.reporter import SILENT, Reporter
from alphazero.rules.game import COLS, Boards, State

PONS = "pons_p6k.txt"
C4 = "c4_positions.txt"


@dataclass
class LabelledPosition:
    """A position, its benchmark set, and the exact score of each column (None = full)."""

    set: str
    moves: str
    scores: tuple[int | None, ...]

    @property
    def state(self) -> State:
        return State.from_moves(self.moves)

    def best_sign(self) -> int:
        return max(np.sign(s) for s in self.scores if s is not None)

    def is_mistake(self, col: int) -> bool:
        """True when playing ``col`` (0-based) loses value class against the best move."""
        s = self.scores[col]
        if s is None:
            raise ValueError(f"column {col + 1} is full in position {self.moves}")
        return np.sign(s) < self.best_sign()

    def mistake_mask(self) -> np.ndarray:
        """bool [7]: legal columns that are mistakes."""
        return np.array([s is not None and np.sign(s) < self.best_sign() for s in self.scores])

    def mistake_possible(self) -> bool:
        return bool(self.mistake_mask().any())


def _phase(n: int) -> str:
    return "opening" if n <= 13 else ("middle" if n <= 27 else "end")


def path_of(name: str) -> str:
    """Path of a shipped benchmark file (``PONS`` or ``C4``), or ``name`` itself if it exists."""
    if os.path.exists(name):
        return name
    return str(resources.files("alphazero") / "data" / name)


def load_positions(path: str) -> list[LabelledPosition]:
    """Parse either benchmark format; '#' lines are comments."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) == COLS + 2:
                set_name, moves, raw = parts[0], parts[1], parts[2:]
            elif len(parts) == COLS + 1:
                moves, raw = parts[0], parts[1:]
                set_name = _phase(len(moves))
            else:
                raise ValueError(f"{path}:{lineno}: expected [SET] MOVES S1..S7, got {line!r}")
            scores = tuple(None if s == "x" else int(s) for s in raw)
            out.append(LabelledPosition(set_name, moves, scores))
    return out


# --------------------------------------------------------------------------------------------
# Scoring a player against them
# --------------------------------------------------------------------------------------------


@dataclass
class SetScore:
    """Mistakes on one benchmark set: rate over all positions, with a 95% Wilson interval,
    and over the positions where a mistake is possible at all."""

    n: int
    mistakes: int
    possible: int

    @property
    def rate(self) -> float:
        return self.mistakes / max(self.n, 1)

    @property
    def rate_possible(self) -> float:
        return self.mistakes / max(self.possible, 1)

    def ci95(self) -> tuple[float, float]:
        return wilson(self.mistakes, self.n)


def score_positions(player, positions: list[LabelledPosition], batch: int = 256,
                    reporter: Reporter = SILENT) -> dict[str, SetScore]:
    """Mistake counts per set for ``player``'s choice in each position; ``player`` is anything
    with ``select(boards) -> columns int [B]`` (see ``arena.Player``). Positions are taken in a
    fixed shuffled order, so every batch mixes the sets and the progress bar's ETA holds from
    the first batch (the sets' positions differ in cost)."""
    out = {p.set: SetScore(0, 0, 0) for p in positions}
    order = np.random.default_rng(0).permutation(len(positions))
    bar = reporter.bar(len(positions), "positions", "pos")
    for i in range(0, len(positions), batch):
        chunk = [positions[k] for k in order[i:i + batch]]
        cols = player.select(Boards.from_states([p.state for p in chunk]))
        for p, c in zip(chunk, cols):
            s = out[p.set]
            s.n += 1
            s.mistakes += bool(p.is_mistake(int(c)))
            s.possible += p.mistake_possible()
        bar.update(len(chunk))
    bar.close()
    return dict(sorted(out.items()))
