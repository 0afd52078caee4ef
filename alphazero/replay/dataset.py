"""What training makes of dataset shards: files in folders, a bounded replay window, a
game-level validation split, value targets, and minibatches with mirror augmentation.

The file format itself is ``shards.py``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphazero.replay.shards import DataError, Samples, game_lengths, read_samples
from alphazero.rules.encoder import decode, mirror_planes, mirror_policy
from alphazero.search.cache import canonical_keys, mix64

_NOT_DATA = (".tmp", ".json", ".jsonl", ".yaml", ".yml", ".txt", ".md", ".pt", ".log", ".svg",
             ".png", ".jpg", ".html", ".css", ".js", ".py", ".onnx", ".csv", ".toml")


def list_data_files(dirs: list[str]) -> list[str]:
    """Dataset files in ``dirs``, in folder order then name order. Hidden files, temp files
    and obvious non-data (json, yaml, checkpoints) are skipped; every other file is data (our
    ``.pkl`` shards and the seed's extension-less files)."""
    files = []
    for d in dirs:
        if os.path.isfile(d):
            raise DataError(f"--data takes folders and {d!r} is a file; pass its folder "
                            f"{os.path.dirname(os.path.abspath(d))!r}")
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
    """Positions with the game each came from: ``samples`` and ``game`` int64 [n], the game's
    stable id (see ``game_ids``), so validation can hold out whole games."""

    samples: Samples
    game: np.ndarray
    files: int


def game_ids(samples: Samples, path: str) -> np.ndarray:
    """The stable id of each position's game, int64 [n].

    A game is named by (iteration, chunk, game) from its shard's meta: the pipeline's
    iteration, the chunk, and the self-play game id (shards written before ids were stored:
    the game's place in its chunk). The name does not depend on which folders are loaded or in
    what order, so a game keeps its id, and its validation verdict, for the whole run. Files
    without chunk meta (the seed's: one game per file) are named by their folder and file name.
    """
    meta = samples.meta
    lengths = game_lengths(samples)
    ids = meta.get("game_ids")
    if not (isinstance(ids, list) and len(ids) == len(lengths)):
        ids = list(range(len(lengths)))
    if "chunk" in meta:
        names = [f"{meta.get('iteration', '-')}:{meta['chunk']}:{g}" for g in ids]
    else:
        where = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))),
                             os.path.basename(path))
        names = [f"file:{where}:{g}" for g in ids]
    keys = [int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "little") >> 1
            for n in names]
    return np.repeat(np.array(keys, np.int64), lengths)


def load_dataset(dirs: list[str], max_samples: int | None = None) -> Dataset:
    """Read every dataset file of ``dirs``; keep at most the ``max_samples`` most recent
    positions (later folders and files are more recent). Raises ``DataError`` on a bad file or
    when nothing is found."""
    parts, keys, total = [], [], 0
    # Newest first, so a bounded window never reads more than it keeps.
    for path in reversed(list_data_files(dirs)):
        s = read_samples(path)
        keys.append(game_ids(s, path))
        parts.append(s)
        total += len(s)
        if max_samples is not None and total >= max_samples:
            break
    if not total:
        raise DataError(f"no training positions found in {', '.join(map(repr, dirs))}; run "
                        "self-play first or point --data at folders of dataset files")
    samples = Samples.concat(parts[::-1])
    game = np.concatenate(keys[::-1])
    samples.replies = reply_policies(samples, game)
    if max_samples is not None and len(samples) > max_samples:
        cut = len(samples) - max_samples
        samples = samples.take(slice(cut, None))
        game = game[cut:]
    return Dataset(samples, game, len(parts))


def reply_policies(samples: Samples, game: np.ndarray) -> np.ndarray:
    """Each position's opponent reply target, float32 [n, 7]: the policy of the next position
    when that is the same game (``game`` int64 [n]) one stone later, else zeros. A game's
    positions are stored in move order; a move played by a fast search (playout cap) leaves
    a gap, and its position has no reply target."""
    stones = samples.states[:, :2].sum(axis=(1, 2, 3), dtype=np.int64)
    follows = (game[1:] == game[:-1]) & (stones[1:] == stones[:-1] + 1)
    out = np.zeros_like(samples.policies)
    out[:-1][follows] = samples.policies[1:][follows]
    return out


def is_held_out(game: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Whether each game id (int64 [n]) is a validation game: a fixed hash of (seed, id) below
    ``fraction``. The verdict depends on nothing else, so it never changes during a run."""
    with np.errstate(over="ignore"):
        x = mix64(game.astype(np.uint64) ^ (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)))
    return (x >> np.uint64(11)).astype(np.float64) / 2.0 ** 53 < fraction


def split_by_game(game: np.ndarray, fraction: float,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): whole games held out by ``is_held_out``. When that would
    hold out every game of the window, none is (there is nothing to train on otherwise)."""
    held = is_held_out(game, fraction, seed) if fraction > 0 else np.zeros(len(game), bool)
    if held.all():
        held[:] = False
    return np.flatnonzero(~held), np.flatnonzero(held)


def unseen(held_out: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Which of the ``held_out`` positions (planes int8 [n, 3, 6, 7]) occur nowhere among
    the ``train`` positions (planes [m, 3, 6, 7]), not even as a mirror image: bool [n].
    Held-out games share their openings with training games, so a loss over all held-out
    positions partly measures memory; over these, it measures generalisation."""
    def keys(planes: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(planes), 65536):  # bounded temporaries for a large window
            b = decode(planes[i:i + 65536])
            out.append(canonical_keys(b.own, b.mask))
        return np.concatenate(out) if out else np.zeros(0, np.uint64)
    return ~np.isin(keys(held_out), keys(train))


def minibatches(samples: Samples, targets: np.ndarray, batch_size: int,
                rng: np.random.Generator, mirror: bool, steps: int) -> Any:
    """``steps`` batches (states int8 [b, 3, 6, 7], policies [b, 7], results z [b], value
    targets [b], replies [b, 7]) sampled by reshuffled passes; ``targets`` float32 [n] (see
    ``value_targets``); with ``mirror`` a random half of each batch is flipped left-right."""
    n = len(samples)
    order = rng.permutation(n)
    pos = 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        st, pol, rep = samples.states[idx], samples.policies[idx], samples.replies[idx]
        if mirror:
            flip = rng.random(len(idx)) < 0.5
            st[flip] = mirror_planes(st[flip])
            pol[flip] = mirror_policy(pol[flip])
            rep[flip] = mirror_policy(rep[flip])
        yield st, pol, samples.outcomes[idx], targets[idx], rep


def value_targets(samples: Samples, q_weight: float) -> np.ndarray:
    """Value targets ``(1 - w) * z + w * q`` where a root value q is recorded, z elsewhere:
    float32 [n]."""
    z, q = samples.outcomes, samples.root_values
    if q_weight <= 0:
        return z
    return np.where(np.isnan(q), z, (1 - q_weight) * z + q_weight * q).astype(np.float32)
