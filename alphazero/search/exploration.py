"""How self-play explores: root noise, temperature, and sampling a move from a distribution.

Only self-play uses these; the search takes noise as an argument and playing to win (arena,
play, evaluation) uses none of them.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from alphazero.rules.game import COLS, State


def dirichlet_noise(legal: np.ndarray, alpha: float,
                    rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """Dirichlet(alpha) noise over each row's legal columns, drawn from that row's own stream.

    ``legal`` bool [B, 7], one generator per row -> float32 [B, 7], rows sum to 1.
    """
    out = np.zeros(legal.shape, dtype=np.float32)
    for i, rng in enumerate(rngs):
        cols = np.flatnonzero(legal[i])
        out[i, cols] = rng.dirichlet(np.full(cols.size, alpha))
    return out


def gumbel_noise(rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """Standard Gumbel samples for Gumbel root selection, one row per stream: float32 [B, 7]."""
    return np.stack([r.gumbel(size=COLS) for r in rngs]).astype(np.float32)


def apply_temperature(visits: np.ndarray, temperature: np.ndarray | float) -> np.ndarray:
    """Move probabilities from visit counts: p ~ N^(1/T). T = 0 puts all mass on the most
    visited moves (ties share it). visits [B, 7], temperature scalar or [B] -> float64 [B, 7]."""
    v = np.asarray(visits, dtype=np.float64)
    t = np.broadcast_to(np.asarray(temperature, dtype=np.float64), (v.shape[0],))
    out = np.empty_like(v)
    greedy = t <= 1e-3
    if greedy.any():
        best = v[greedy] == v[greedy].max(axis=1, keepdims=True)
        out[greedy] = best / best.sum(axis=1, keepdims=True)
    soft = ~greedy
    if soft.any():
        vs = v[soft]
        # Scale by the row maximum before the power so 1/T up to 1000 cannot overflow.
        scaled = (vs / vs.max(axis=1, keepdims=True)) ** (1.0 / t[soft][:, None])
        out[soft] = scaled / scaled.sum(axis=1, keepdims=True)
    return out


def sample_moves(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of one column per row: probs [B, 7], uniforms in [0, 1) [B] -> [B]."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = np.inf  # rounding can leave the total a hair below 1
    choice = (cdf <= uniforms[:, None]).sum(axis=1)
    # Never land on a zero-probability column (possible only through rounding at its edge).
    bad = probs[np.arange(len(choice)), np.minimum(choice, COLS - 1)] <= 0
    if bad.any():
        choice[bad] = probs[bad].argmax(axis=1)
    return np.minimum(choice, COLS - 1)


def random_opening(rng: np.random.Generator, max_moves: int) -> tuple[list[int], State]:
    """A random opening, its columns (0-based) and the position they reach: n drawn
    uniformly from 0..``max_moves``, then n moves each uniform over the legal columns that do
    not end the game (a move that makes four, or fills the board, would leave nothing to
    play). Draws nothing when ``max_moves`` is 0, so games without it are unchanged."""
    state, moves = State(), []
    if max_moves <= 0:
        return moves, state
    for _ in range(int(rng.integers(0, max_moves + 1))):
        open_after = {c: after for c in state.legal_moves()
                      if not (after := state.play(c)).is_terminal()}
        if not open_after:
            break
        col = list(open_after)[int(rng.integers(len(open_after)))]
        state = open_after[col]
        moves.append(col)
    return moves, state


def drawn_opening(rng: np.random.Generator, max_moves: int, is_draw: Callable[[State], bool],
                  tries: int = 64) -> tuple[list[int], State]:
    """A random opening (``random_opening``'s) that ``is_draw`` accepts; after ``tries``
    openings without one, the last drawn. Deterministic given ``rng`` and ``is_draw``."""
    for _ in range(tries):
        moves, state = random_opening(rng, max_moves)
        if moves and is_draw(state):
            break
    return moves, state
