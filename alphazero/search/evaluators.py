"""What the search asks of a network (``Evaluate``), and wrappers around any such function:
mirror symmetry, a bounded cache, and counters.

Each takes an ``Evaluate`` (``Boards [B] -> (priors float32 [B, 7], values float32 [B])``) and
is one, so search, arena and play never know what sits underneath. The stack that
``inference.make_evaluator`` builds, outermost first::

    Cached (canonical keys, two tables: cache.py)  ->  symmetry (average | random | none)
        ->  counted (the network's own calls)  ->  the backend

Connect Four is symmetric under the left-right mirror: the mirrored position's value is the
same and its policy is the mirrored policy. ``average`` evaluates both and averages (one net
call of 2B positions); ``random`` evaluates a random mirror of each position (free, a form of
test-time augmentation for self-play), the coin drawn from a hash of the position and the seed,
so an answer depends on the position alone, never on the batch it came in. Under either, the cache keys a position and its mirror
alike (the canonical one of the pair), so a mirrored position is a hit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from alphazero.rules.game import COLS, Boards, batch_mirror
from alphazero.search.cache import PositionTable, mix64

#: What the search needs from a network, and all it knows of one:
#: ``evaluate(boards) -> (priors float32 [B, 7], values float32 [B])``, values from the side to
#: move's view. ``inference.make_evaluator`` wraps a network as one; tests pass fakes.
Evaluate = Callable[[Boards], tuple[np.ndarray, np.ndarray]]

SYMMETRIES = ("none", "average", "random")


@dataclass
class EvalStats:
    """Counters of one evaluator: ``positions`` asked for by the search in ``calls`` calls,
    ``hits`` of them answered without the network (cached, or a repeat within the call), and
    ``net_positions`` in ``net_calls`` calls that the network computed (averaging counts a
    position and its mirror) in ``net_seconds`` of this process's CPU time (encoding and
    masking included)."""

    calls: int = 0
    positions: int = 0
    hits: int = 0
    net_calls: int = 0
    net_positions: int = 0
    net_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def counted(evaluate: Evaluate, stats: EvalStats) -> Evaluate:
    """``evaluate``, counting its calls, positions and CPU time into ``stats.net_*``."""

    def run(boards: Boards) -> tuple[np.ndarray, np.ndarray]:
        stats.net_calls += 1
        stats.net_positions += len(boards)
        t0 = time.process_time()
        out = evaluate(boards)
        stats.net_seconds += time.process_time() - t0
        return out

    return run


def mirrored(boards: Boards) -> Boards:
    """Every position of ``boards`` mirrored left-right."""
    return Boards(batch_mirror(boards.own), batch_mirror(boards.mask))


def mirror_coin(boards: Boards, mirror: Boards, salt: np.uint64) -> np.ndarray:
    """Whether ``random`` evaluates each position of ``boards`` (bool [B]) as its ``mirror``:
    a coin drawn from a hash of the pair {position, mirror} and ``salt``, flipped for the
    non-canonical member of the pair. A position and its mirror thus always send the same
    orientation to the net, and the answer never depends on the batch, the call order or
    what a cache holds."""
    keys, mirror_keys = boards.own + boards.mask, mirror.own + mirror.mask
    coin = (mix64(np.minimum(keys, mirror_keys) ^ salt) & np.uint64(1)).astype(bool)
    return coin ^ (mirror_keys < keys)


def symmetric(evaluate: Evaluate, mode: str, seed: int = 0) -> Evaluate:
    """``evaluate`` under the mirror symmetry ``mode`` (see the module doc); ``seed`` salts the
    coin of ``random`` (``mirror_coin``: a function of the position, never of the call)."""
    if mode == "none":
        return evaluate
    if mode == "average":
        def average(boards: Boards) -> tuple[np.ndarray, np.ndarray]:
            b = len(boards)
            m = mirrored(boards)
            p, v = evaluate(Boards(np.concatenate([boards.own, m.own]),
                                   np.concatenate([boards.mask, m.mask])))
            return ((p[:b] + p[b:, ::-1]) / 2).astype(np.float32), ((v[:b] + v[b:]) / 2).astype(
                np.float32)
        return average
    if mode == "random":
        salt = mix64(np.array([seed], np.uint64))[0]

        def random_mirror(boards: Boards) -> tuple[np.ndarray, np.ndarray]:
            m = mirrored(boards)
            flip = mirror_coin(boards, m, salt)
            p, v = evaluate(Boards(np.where(flip, m.own, boards.own),
                                   np.where(flip, m.mask, boards.mask)))
            return np.where(flip[:, None], p[:, ::-1], p), v
        return random_mirror
    raise ValueError(f"unknown symmetry {mode!r}; use one of {SYMMETRIES}")


class Cached:
    """``evaluate`` behind a bounded cache keyed by position.

    The key is ``own + mask``, one integer per position (Pons' key: each column's stones
    plus its filled cells fit below the column's sentinel bit, so nothing carries between
    columns and no two positions share a key); its mirror is the mirror of the key.
    ``canonical``: key a position and its mirror alike, storing the canonical orientation
    (exact when ``evaluate`` is mirror symmetric, as under ``average``). Positions repeated
    within one call are evaluated once. It remembers the last ``capacity // 2`` to
    ``capacity`` positions it stored (``cache.PositionTable``); a call of more than
    ``capacity // 2`` positions goes to ``evaluate`` uncached. The cache lives and dies with
    this object: it is bound to one evaluator, that is to one net (the backends snapshot the
    net when made), so it can never answer for another net.
    """

    def __init__(self, evaluate: Evaluate, capacity: int, canonical: bool, stats: EvalStats):
        self.evaluate, self.capacity, self.canonical, self.stats = (evaluate, capacity,
                                                                    canonical, stats)
        self._table = PositionTable(capacity) if capacity >= 2 else None
        self.backend = ""  # named by whoever built the evaluator underneath

    def __call__(self, boards: Boards) -> tuple[np.ndarray, np.ndarray]:
        self.stats.calls += 1
        self.stats.positions += len(boards)
        if self._table is None or len(boards) > self._table.half:
            return self.evaluate(boards)
        own, mask = boards.own, boards.mask
        slot, flip, new = self._table.lookup(own, mask, self.canonical)
        self.stats.hits += len(boards) - new.size  # repeats within the call count too
        if new.size:
            p, v = self.evaluate(Boards(own[new], mask[new]))
        else:
            p, v = np.zeros((0, COLS), np.float32), np.zeros(0, np.float32)
        return self._table.answer(slot, flip, new, p, v)

    def __len__(self) -> int:
        return len(self._table) if self._table is not None else 0


def stack(evaluate: Evaluate, symmetry: str = "none", cache_size: int = 0,
          seed: int = 0) -> Cached:
    """The evaluator stack of the module doc around a network's ``evaluate``; its counters are
    ``.stats``."""
    stats = EvalStats()
    inner = symmetric(counted(evaluate, stats), symmetry, seed)
    return Cached(inner, cache_size, canonical=symmetry != "none", stats=stats)
