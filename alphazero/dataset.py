"""What training makes of dataset shards: files in folders, a bounded replay window, a
game-level validation split, value targets, and minibatches with mirror augmentation.

The file format itself is ``shards.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .encoder import mirror_planes, mirror_policy
from .shards import DataError, Samples, read_samples

_NOT_DATA = (".tmp", ".json", ".jsonl", ".yaml", ".yml", ".txt", ".md", ".pt", ".log")


def list_data_files(dirs: list[str]) -> list[str]:
    """Dataset files in ``dirs``, in folder order then name order. Hidden files, temp files
    and obvious non-data (json, yaml, checkpoints) are skipped; every other file is data (our
    ``.pkl`` shards and the seed's extension-less files)."""
    files = []
    for d in dirs:
        if not os.path.isdir(d):
            raise DataError(f"data folder {d!r} not found; pass a folder of dataset files")
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.startswith(".") or name.endswith(_NOT_DATA) or not os.path.isfile(path):
                continue
            files.append(path)
    return files


@dataclass
class Dataset:
    """Positions with the game each came from: ``samples`` and ``game`` int64 [n] (a key unique
    per game across files), so validation can hold out whole games."""

    samples: Samples
    game: np.ndarray
    files: int


def load_dataset(dirs: list[str], max_samples: int | None = None) -> Dataset:
    """Read every dataset file of ``dirs``; keep at most the ``max_samples`` most recent
    positions (later folders and files are more recent). Raises ``DataError`` on a bad file or
    when nothing is found."""
    files = list_data_files(dirs)
    parts, keys, total = [], [], 0
    # Newest first, so a bounded window never reads more than it keeps.
    for fi, path in reversed(list(enumerate(files))):
        s = read_samples(path)
        lengths = s.meta.get("game_lengths")
        if not (isinstance(lengths, list) and sum(lengths) == len(s)):
            lengths = [len(s)]  # one game per file (the seed's format)
        keys.append(np.repeat(fi * 100_000 + np.arange(len(lengths)), lengths))
        parts.append(s)
        total += len(s)
        if max_samples is not None and total >= max_samples:
            break
    if not total:
        raise DataError(f"no training positions found in {', '.join(map(repr, dirs))}; run "
                        "self-play first or point --data at folders of dataset files")
    samples = Samples.concat(parts[::-1])
    game = np.concatenate(keys[::-1]).astype(np.int64)
    if max_samples is not None and len(samples) > max_samples:
        cut = len(samples) - max_samples
        samples = samples.take(slice(cut, None))
        game = game[cut:]
    return Dataset(samples, game, len(parts))


def split_by_game(game: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) holding out about ``fraction`` of the games, whole."""
    if fraction <= 0:
        return np.arange(len(game)), np.zeros(0, np.int64)
    uniq = np.unique(game)
    rng = np.random.default_rng(seed)
    held = rng.random(len(uniq)) < fraction
    if held.all() and len(uniq) > 1:
        held[rng.integers(len(uniq))] = False
    is_val = np.isin(game, uniq[held])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def minibatches(samples: Samples, batch_size: int, rng: np.random.Generator,
                mirror: bool, steps: int) -> Any:
    """``steps`` batches (states int8 [b, 3, 6, 7], policies [b, 7], values [b]) sampled by
    reshuffled passes; with ``mirror`` a random half of each batch is flipped left-right."""
    n = len(samples)
    order = rng.permutation(n)
    pos = 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        st, pol, val = samples.states[idx], samples.policies[idx], samples.values[idx]
        if mirror:
            flip = rng.random(len(idx)) < 0.5
            st[flip] = mirror_planes(st[flip])
            pol[flip] = mirror_policy(pol[flip])
        yield st, pol, val


def mix_value_targets(samples: Samples, q_weight: float) -> Samples:
    """Value targets ``(1 - w) * z + w * q`` where a root value q is recorded, z elsewhere."""
    if q_weight <= 0:
        return samples
    q = samples.root_values
    mixed = np.where(np.isnan(q), samples.values, (1 - q_weight) * samples.values + q_weight * q)
    return Samples(samples.states, samples.policies, mixed.astype(np.float32), samples.meta,
                   samples.root_values)
