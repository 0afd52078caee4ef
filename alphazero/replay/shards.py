"""The dataset shard format: pickled (state, policy, value) files, read without running code.

Our shard format (one file per chunk of self-play games, ``.pkl``)::

    {"format": "alphazero-c4-data", "version": 1,
     "states": int8 [n, 3, 6, 7]  (encoder planes, side to move's view),
     "policies": float32 [n, 7]   (search visit distribution, rows sum to 1),
     "values": float32 [n]        (final result from the side to move's view: +1, 0, -1),
     "root_values": float32 [n]   (optional: the root search value, same view, in [-1, 1];
                                   NaN where not recorded),
     "meta": {"checkpoint": str, "iteration": int, "sims": int, "seed": int, "games": int,
              "created": ISO time, "cpu_seconds": float (its self-play's CPU), ...}}

Every file is read through ``SafeUnpickler``, which admits only the globals that numpy arrays
need; anything else (a hostile payload) is refused before it can run. The seed blog's own
format (a pickled list of ``[s (6, 7, 3), p (7,), v]``) is imported through the same gate.
What training makes of shards (window, split, minibatches) is ``dataset.py``.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from alphazero.core import atomic
from alphazero.rules.game import COLS, ROWS

FORMAT = "alphazero-c4-data"
VERSION = 1


class DataError(ValueError):
    """A dataset file that cannot be used, phrased for the user (names the file)."""


# Globals a pickled numpy array may need, numpy 1.x and 2.x spellings.
_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only numpy arrays and plain containers."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _what_else(raw: bytes) -> str | None:
    """What a file that is plainly no pickle is, or None (a pickle starts with 0x80)."""
    if raw.startswith(b"\x80"):
        return None
    if raw.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        return "a picture"
    if raw.startswith(b"PK\x03\x04"):
        return "a zip archive (a checkpoint is one: use it with --checkpoint)"
    try:
        text = raw[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text (an SVG picture)" if "<svg" in text[:400] else "text"


def safe_load(path: str | os.PathLike) -> Any:
    """Unpickle ``path`` through ``SafeUnpickler``; every failure is a one-line ``DataError``."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DataError(f"dataset file {path!r} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path!r} is a folder; pass one of its dataset files "
                        "(chunk_XXXXX.pkl)") from None
    except OSError as e:
        raise DataError(f"dataset file {path!r} cannot be read ({e.strerror})") from None
    if (what := _what_else(raw)) is not None:
        raise DataError(f"{path!r} is not a dataset file: it is {what}; pass a chunk_XXXXX.pkl "
                        "that self-play wrote (or the seed's files)")
    try:
        return SafeUnpickler(io.BytesIO(raw)).load()
    except pickle.UnpicklingError as e:
        msg = " ".join(str(e).split())  # one line
        if msg.startswith("refused global"):
            raise DataError(f"dataset file {path!r} was refused: it asks to run code ({msg}); "
                            "delete it, only load data this project or the seed wrote") from None
        raise DataError(f"dataset file {path!r} is truncated or corrupted ({msg}); "
                        "delete it and regenerate it") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, UnicodeDecodeError) as e:
        raise DataError(f"dataset file {path!r} is truncated or corrupted "
                        f"({type(e).__name__}); delete it and regenerate it") from None


@dataclass
class Samples:
    """A block of training positions: states int8 [n, 3, 6, 7], policies float32 [n, 7],
    outcomes float32 [n] (game results z, the file's "values"), root_values float32 [n] (root
    search values; NaN where not recorded, e.g. the seed's data; None given = none
    recorded), replies float32 [n, 7] (the opponent's reply: the next position's policy,
    all zeros where it was not a recorded search; derived by ``dataset.load_dataset``, never
    written; None given = none known)."""

    states: np.ndarray
    policies: np.ndarray
    outcomes: np.ndarray
    meta: dict = field(default_factory=dict)
    root_values: np.ndarray | None = None
    replies: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.root_values is None:
            self.root_values = np.full(len(self.outcomes), np.nan, np.float32)
        if self.replies is None:
            self.replies = np.zeros((len(self.outcomes), COLS), np.float32)

    def __len__(self) -> int:
        return int(self.outcomes.shape[0])

    def has_root_values(self) -> bool:
        """True when at least one position carries its root search value."""
        return bool(np.isfinite(self.root_values).any())

    @classmethod
    def empty(cls) -> Samples:
        return cls(np.zeros((0, 3, ROWS, COLS), np.int8), np.zeros((0, COLS), np.float32),
                   np.zeros(0, np.float32))

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.states for p in parts]),
                   np.concatenate([p.policies for p in parts]),
                   np.concatenate([p.outcomes for p in parts]),
                   root_values=np.concatenate([p.root_values for p in parts]),
                   replies=np.concatenate([p.replies for p in parts]))

    def take(self, idx: np.ndarray | slice) -> Samples:
        """The positions ``idx`` (an index array or a slice)."""
        return Samples(self.states[idx], self.policies[idx], self.outcomes[idx],
                       root_values=self.root_values[idx], replies=self.replies[idx])


def game_lengths(samples: Samples) -> list[int]:
    """Positions per game of a dataset file, in order: its ``game_lengths`` meta when it adds
    up, else one game (the seed's format: one game per file)."""
    lengths = samples.meta.get("game_lengths")
    if isinstance(lengths, list) and sum(lengths) == len(samples):
        return lengths
    return [len(samples)]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_samples(path: str | os.PathLike, samples: Samples, meta: dict | None = None) -> None:
    """Write a shard atomically (readers never see half a file)."""
    atomic.write_bytes(path, shard_bytes(samples, meta))


def shard_bytes(samples: Samples, meta: dict | None = None) -> bytes:
    """The bytes of a shard file (what ``write_samples`` writes)."""
    obj = {
        "format": FORMAT, "version": VERSION,
        "states": np.ascontiguousarray(samples.states, dtype=np.int8),
        "policies": np.ascontiguousarray(samples.policies, dtype=np.float32),
        "values": np.ascontiguousarray(samples.outcomes, dtype=np.float32),
        "meta": {**samples.meta, **(meta or {})},
    }
    if samples.has_root_values():
        obj["root_values"] = np.ascontiguousarray(samples.root_values, dtype=np.float32)
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _check_array(path: str, name: str, a: Any, shape_tail: tuple, kinds: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype.kind not in kinds or a.shape[1:] != shape_tail:
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise DataError(f"dataset file {path!r} has the wrong shape: {name} is {got}, expected "
                        f"[n, {', '.join(map(str, shape_tail))}]; delete it and regenerate it")
    return a


def _validate(path: str, states: np.ndarray, policies: np.ndarray, values: np.ndarray) -> None:
    n = states.shape[0]
    if policies.shape[0] != n or values.shape[0] != n:
        raise DataError(f"dataset file {path!r} has the wrong shape: {n} states, "
                        f"{policies.shape[0]} policies, {values.shape[0]} values")
    if n and (not np.all(np.isfinite(policies)) or not np.all(np.isfinite(values))
              or np.abs(values).max() > 1 or policies.min() < 0
              or np.abs(policies.sum(axis=1) - 1).max() > 1e-3
              or not np.isin(states, (0, 1)).all()):
        raise DataError(f"dataset file {path!r} holds invalid values (policies must be "
                        "distributions, values in [-1, 1], planes 0/1); regenerate it")


def read_samples(path: str | os.PathLike) -> Samples:
    """Read one of our shards, or a seed-format file, as ``Samples``. Raises ``DataError``."""
    path = os.fspath(path)
    obj = safe_load(path)
    if isinstance(obj, list):
        return import_seed(obj, path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DataError(f"dataset file {path!r} is neither an alphazero-c4 shard nor a seed "
                        "dataset (a list of [s, p, v]); remove it from the data folder")
    if obj.get("version") != VERSION:
        raise DataError(f"dataset file {path!r} has version {obj.get('version')}, this program "
                        f"reads {VERSION}")
    states = _check_array(path, "states", obj.get("states"), (3, ROWS, COLS), "iu")
    policies = _check_array(path, "policies", obj.get("policies"), (COLS,), "f")
    values = _check_array(path, "values", obj.get("values"), (), "f")
    _validate(path, states, policies, values)
    q = obj.get("root_values")
    if q is not None:
        q = _check_array(path, "root_values", q, (), "f")
        if q.shape[0] != values.shape[0] or np.nanmax(np.abs(q), initial=0.0) > 1:
            raise DataError(f"dataset file {path!r} holds invalid root_values (one per "
                            "position, in [-1, 1]); regenerate it")
        q = q.astype(np.float32, copy=False)
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    return Samples(states.astype(np.int8, copy=False), policies.astype(np.float32, copy=False),
                   values.astype(np.float32, copy=False), meta, q)


def import_seed(entries: list, path: str = "<seed data>") -> Samples:
    """Convert the seed blog's per-game list of ``[s, p, v]`` to ``Samples``.

    Seed facts (see the format note): ``s`` int [6, 7, 3], row 0 = top, planes O, X,
    player-to-move (ones when X moves); O moves first; ``v`` the ABSOLUTE result (+1 O won, -1 X
    won, 0 draw), written as 0 for the first position whatever happened, so every entry's value
    is recomputed from the game's result, taken from the entries after the first.
    """
    if not entries:
        return Samples.empty()
    states, policies, results = [], [], []
    for i, e in enumerate(entries):
        if not isinstance(e, (list, tuple)) or len(e) != 3:
            raise DataError(f"seed dataset {path!r}: entry {i} is not [s, p, v]")
        s, p, v = e
        s = np.asarray(s) if isinstance(s, np.ndarray) else None
        if s is None or s.shape != (ROWS, COLS, 3) or s.dtype.kind not in "iuf":
            raise DataError(f"seed dataset {path!r} has the wrong shape: entry {i} board must "
                            "be a (6, 7, 3) number array")
        p = np.asarray(p, dtype=np.float64) if isinstance(p, (np.ndarray, list)) else None
        if p is None or p.shape != (COLS,):
            raise DataError(f"seed dataset {path!r} has the wrong shape: entry {i} policy "
                            "must have 7 entries")
        if isinstance(v, np.ndarray):
            v = v.item() if v.size == 1 else None
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool):
            raise DataError(f"seed dataset {path!r}: entry {i} value is not a number")
        o_planes, x_planes, x_to_move = s[..., 0], s[..., 1], s[..., 2]
        x_moves = bool(np.asarray(x_to_move).max() > 0)
        own, opp = (x_planes, o_planes) if x_moves else (o_planes, x_planes)
        states.append(np.stack([own, opp, np.full((ROWS, COLS), int(x_moves))]))
        total = p.sum()
        policies.append(p / total if total > 0 else p)
        results.append((float(v), x_moves))
    later = [r for r, _ in results[1:] if r != 0]
    result = later[0] if later else results[0][0]
    if any(r not in (0.0, result) for r, _ in results[1:]):
        raise DataError(f"seed dataset {path!r}: entries disagree about the game's result; a "
                        "seed file holds one game, every entry after the first carrying that "
                        "game's result (+1 O won, -1 X won, 0 draw): split a pooled list of "
                        "positions into one file per game")
    # Absolute (+1 = O won) to the side to move's view: O to move keeps the sign.
    values = np.array([result if not x else -result for _, x in results], np.float32)
    st = np.array(states)
    pol = np.array(policies, np.float32)
    _validate(path, st, pol, values)
    return Samples(st.astype(np.int8), pol, values, {"source": "seed", "file": path})
