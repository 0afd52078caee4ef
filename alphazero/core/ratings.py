"""Ratings that mean something: match Elo with its interval, promotion with a stated error
rate, and a maximum-likelihood Elo over every recorded match of a run.

* ``match_elo``: the Elo difference a match implies, with a 95% interval; a one-sided match
  (all wins or all losses) has no point estimate, only a bound.
* ``promotion_verdict``: promote a candidate only when its score is above 1/2 with error rate
  ``alpha`` (the chance of promoting a candidate no better than the best), looking after every
  batch of games and stopping as soon as the answer is clear.
* ``fit_elo``: Bradley-Terry (Elo) ratings by maximum likelihood over all matches between named
  players, ``random`` fixed at 0, with a 95% interval per player from the curvature of the
  likelihood. Promotions do not enter it, so gating alone never moves a rating.

Draws count half a win throughout (the score), as in Elo's own definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

ANCHOR = "random"
_PRIOR_SD = 1500.0  # Elo; keeps a player who never lost finite, far wider than any interval


def elo_from_score(score: float) -> float:
    """Elo difference of a player scoring ``score`` (in (0, 1)) against its opponent."""
    return -400.0 * math.log10(1.0 / score - 1.0)


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (k may be fractional: draws count half)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / d
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class MatchElo:
    """Elo of A over B from one match: ``elo`` (None when the match is one-sided), and the
    95% interval ``[lo, hi]`` (an end is None where it is unbounded)."""

    elo: float | None
    lo: float | None
    hi: float | None

    def __str__(self) -> str:
        if self.elo is None:
            return f">= {_signed(self.lo)}" if self.lo is not None else f"<= {_signed(self.hi)}"
        return f"{_signed(self.elo)} [{_signed(self.lo)}, {_signed(self.hi)}]"


def _signed(x: float) -> str:
    """An Elo figure with its sign, never "-0"."""
    r = round(x)
    return f"{r:+d}" if r else "0"


def match_elo(wins: int, draws: int, losses: int) -> MatchElo:
    """The Elo difference a match implies (A's view), with its 95% Wilson interval."""
    n = wins + draws + losses
    if n == 0:
        return MatchElo(None, None, None)
    score = (wins + 0.5 * draws) / n
    lo, hi = wilson(wins + 0.5 * draws, n)
    to_elo = (lambda s: elo_from_score(s) if 0 < s < 1 else None)
    return MatchElo(to_elo(score), to_elo(lo), to_elo(hi))


def promotion_verdict(wins: int, draws: int, losses: int, alpha: float, looks: int,
                      final: bool) -> bool | None:
    """After a batch of arena games: True (promote), False (keep the best), or None (play on).

    Promote when the one-sided lower confidence bound of the score is above 1/2, at level
    ``alpha / looks`` (Bonferroni over the ``looks`` the match may take), so a candidate no
    better than the best is promoted with probability at most ``alpha``. Stop and keep when
    the upper bound is below 1/2, or when the last batch (``final``) proves nothing.
    """
    n = wins + draws + losses
    z = NormalDist().inv_cdf(1 - alpha / max(looks, 1))
    lo, hi = wilson(wins + 0.5 * draws, n, z)
    if lo > 0.5:
        return True
    if hi < 0.5 or final:
        return False
    return None


@dataclass(frozen=True)
class Rating:
    """A player's fitted Elo (``random`` = 0) and its 95% interval; ``bound`` is ``">="``
    or ``"<="`` when the player never lost or never scored, and the rating is then only its
    interval's end."""

    elo: float
    lo: float
    hi: float
    games: int
    bound: str | None = None

    def __str__(self) -> str:
        if self.bound == ">=":
            return f">= {_signed(self.lo)}"
        if self.bound == "<=":
            return f"<= {_signed(self.hi)}"
        return f"{_signed(self.elo)} [{_signed(self.lo)}, {_signed(self.hi)}]"


def fit_elo(matches: list[tuple[str, str, int, int, int]]) -> dict[str, Rating]:
    """Maximum-likelihood Elo of every player in ``matches`` ((a, b, a's wins, draws, a's
    losses) each), with ``random`` fixed at 0 when it played (else the first player).

    Newton's method on the Bradley-Terry log-likelihood of the scores, with a weak Gaussian
    prior (sd 1500 Elo) so that a player who never lost stays finite; the interval is
    +-1.96 standard errors from the inverse Hessian. Players not connected to the anchor by
    matches are rated relative to the prior only.
    """
    players = sorted({p for m in matches for p in m[:2]})
    if not players:
        return {}
    anchor = ANCHOR if ANCHOR in players else players[0]
    free = [p for p in players if p != anchor]
    idx = {p: i for i, p in enumerate(free)}
    c = math.log(10) / 400
    r = np.zeros(len(free))
    for _ in range(100):
        grad, hess = -r / _PRIOR_SD ** 2, -np.eye(len(free)) / _PRIOR_SD ** 2
        for a, b, w, d, l in matches:
            n = w + d + l
            ra = r[idx[a]] if a in idx else 0.0
            rb = r[idx[b]] if b in idx else 0.0
            e = 1 / (1 + math.exp(-c * (ra - rb)))
            g, h = c * (w + 0.5 * d - n * e), c * c * n * e * (1 - e)
            for p, sign in ((a, 1), (b, -1)):
                if p in idx:
                    grad[idx[p]] += sign * g
                    hess[idx[p], idx[p]] -= h
            if a in idx and b in idx:
                hess[idx[a], idx[b]] += h
                hess[idx[b], idx[a]] += h
        step = np.linalg.solve(hess, grad)
        r -= step
        if np.abs(step).max() < 1e-6:
            break
    sd = np.sqrt(np.diag(np.linalg.inv(-hess))) if free else np.zeros(0)
    out = {anchor: Rating(0.0, 0.0, 0.0, _games(matches, anchor))}
    for p in free:
        elo, half = float(r[idx[p]]), 1.96 * float(sd[idx[p]])
        scored, lost = _one_sided(matches, p)
        bound = ">=" if not lost else ("<=" if not scored else None)
        out[p] = Rating(elo, elo - half, elo + half, _games(matches, p), bound)
    return out


def _games(matches, p: str) -> int:
    return sum(w + d + l for a, b, w, d, l in matches if p in (a, b))


def _one_sided(matches, p: str) -> tuple[bool, bool]:
    """(p ever scored, p ever lost) over its matches."""
    scored = lost = False
    for a, b, w, d, l in matches:
        if a == p:
            scored |= w + d > 0
            lost |= l + d > 0
        elif b == p:
            scored |= l + d > 0
            lost |= w + d > 0
    return scored, lost
