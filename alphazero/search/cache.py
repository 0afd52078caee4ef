"""The bounded position cache of the evaluator stack: two hash tables, compiled with numba.

Self-play asks the network about a few dozen positions per call, about a thousand calls per
worker and iteration, so the cache's own cost is paid per call: one compiled pass finds every
position of a call, and one more stores what the network said and answers the call (a Python
dictionary with numpy around it cost twice as much of a self-play worker's CPU,
docs/benchmarks.md).

Layout: two open-addressing tables (linear probing) of ``size`` slots, a power of two at least
twice ``half``, each holding at most ``half = capacity // 2`` positions; a slot holds the key,
its priors [7] and its value. New positions go into the current table; a position found only in
the other (older) one is copied over. When a call's new positions would overflow the current
table, the older one is emptied and becomes the current one: the cache always remembers the
last ``half`` to ``capacity`` positions it stored, and never more than ``capacity``. No entry is
ever deleted on its own, so the probing needs no tombstones.

The key is ``own + mask``, one integer per position (see ``evaluators.Cached``). Without numba
the same functions run as plain Python (slower, same answers).
"""

from __future__ import annotations

import numpy as np

from alphazero.core.compiled import jit
from alphazero.rules.game import COLS, batch_mirror

#: A free slot's key: no position's key (own + mask < 2**49) has all 64 bits set.
EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64 [n] (wrapping): every input bit moves every output
    bit. The one hash behind the random mirror's coin and the validation split."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def canonical_keys(own: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The key ``own + mask`` of each position (uint64 [n]) or of its mirror, whichever is
    smaller: one key for a position and its mirror image."""
    keys = own + mask
    return np.minimum(keys, batch_mirror(keys))


@jit
def _find(table, key, bits, width):
    """The slot of ``key`` in ``table`` [size], or the free slot where it would go: its
    home is the key's bits folded by ``width`` (size = 2**width, bits = size - 1)."""
    i = key & bits
    k = key >> width
    while k:
        i ^= k & bits
        k >>= width
    while table[i] != key and table[i] != EMPTY:
        i = (i + np.uint64(1)) & bits
    return np.int64(i)


@jit
def _assign(keys, tables, state, bits, width, data_p, data_v, slot, new):
    """Give each position i of the call, keyed ``keys[i]``, its slot ``slot[i]`` (table * size
    + index) in the current table ``state[0]`` (filled ``state[1]``; the other ``state[2]``).
    A key only in the older table is copied over; one found nowhere is listed in ``new[:n]``,
    its data left for ``_answer``. Returns n."""
    size = tables.shape[1]
    cur = state[0]
    n_new = 0
    for i in range(keys.size):
        key = keys[i]
        j = _find(tables[cur], key, bits, width)
        s = cur * size + j
        slot[i] = s
        if tables[cur, j] == key:
            continue  # stored earlier, or earlier in this very call
        tables[cur, j] = key
        state[1] += 1
        old = 1 - cur
        jo = _find(tables[old], key, bits, width)
        if tables[old, jo] == key:
            data_p[s] = data_p[old * size + jo]
            data_v[s] = data_v[old * size + jo]
        else:
            new[n_new] = i
            n_new += 1
    return n_new


@jit
def _answer(slot, flip, new, p, v, data_p, data_v, priors, values):
    """Store the network's answers ``p`` [n, 7], ``v`` [n] for the positions ``new`` [n] (in
    the stored orientation), then answer every position from its slot, mirrored back where
    it was flipped."""
    for j in range(new.size):
        i = new[j]
        s = slot[i]
        for a in range(COLS):
            data_p[s, a] = p[j, COLS - 1 - a] if flip[i] else p[j, a]
        data_v[s] = v[j]
    for i in range(slot.size):
        s = slot[i]
        for a in range(COLS):
            priors[i, a] = data_p[s, COLS - 1 - a] if flip[i] else data_p[s, a]
        values[i] = data_v[s]


class PositionTable:
    """The tables of the module doc for ``capacity`` positions (>= 2)."""

    def __init__(self, capacity: int):
        self.half = capacity // 2
        self.width = max(int(2 * self.half - 1).bit_length(), 1)
        size = 1 << self.width
        self.bits = np.uint64(size - 1)
        self.tables = np.full((2, size), EMPTY, np.uint64)
        self.data_p = np.zeros((2 * size, COLS), np.float32)
        self.data_v = np.zeros(2 * size, np.float32)
        self.state = np.zeros(3, np.int64)  # current table, its fill, the other's fill

    def __len__(self) -> int:
        return int(self.state[1] + self.state[2])

    def lookup(self, own: np.ndarray, mask: np.ndarray, canonical: bool):
        """Slots for a call of n <= ``half`` positions (uint64 [n] each); returns the
        bookkeeping for ``answer``: (slot int64 [n], flip bool [n], new int64 [k])."""
        n = own.size
        if self.state[1] + n > self.half:  # the older table goes; the current one ages
            old = 1 - self.state[0]
            self.tables[old] = EMPTY
            self.state[:] = (old, 0, self.state[1])
        keys = own + mask
        flip = np.zeros(n, np.bool_)
        if canonical:  # key a position and its mirror alike: the smaller key of the two
            mirror = batch_mirror(keys)
            flip = mirror < keys
            keys = np.where(flip, mirror, keys)
        slot, new = np.empty(n, np.int64), np.empty(n, np.int64)
        k = _assign(keys, self.tables, self.state, self.bits, np.uint64(self.width),
                    self.data_p, self.data_v, slot, new)
        return slot, flip, new[:k]

    def answer(self, slot, flip, new, p, v) -> tuple[np.ndarray, np.ndarray]:
        """Store ``p`` [k, 7], ``v`` [k] for the ``new`` positions; priors [n, 7] and values
        [n] for the whole call."""
        n = slot.size
        priors, values = np.empty((n, COLS), np.float32), np.empty(n, np.float32)
        _answer(slot, flip, new, np.ascontiguousarray(p, np.float32),
                np.ascontiguousarray(v, np.float32), self.data_p, self.data_v, priors, values)
        return priors, values
