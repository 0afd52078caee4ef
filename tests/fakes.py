"""Fake evaluators for search tests: no network, fully deterministic."""

import numpy as np

from alphazero.rules.game import Boards


def uniform_evaluator(boards: Boards):
    """Uniform priors over all columns (search masks illegal ones), value 0."""
    n = len(boards)
    return np.full((n, 7), 1 / 7, np.float32), np.zeros(n, np.float32)


def hashed_evaluator(boards: Boards):
    """Position-dependent but deterministic priors and values, from a hash of the bitboards."""
    key = (boards.own * np.uint64(0x9E3779B97F4A7C15)) ^ (boards.mask * np.uint64(0xBF58476D1CE4E5B9))
    cols = np.arange(7, dtype=np.uint64)
    mixed = (key[:, None] >> (cols * np.uint64(5))) & np.uint64(0xFF)
    priors = (mixed.astype(np.float32) + 1.0)
    priors /= priors.sum(axis=1, keepdims=True)
    values = ((key >> np.uint64(40)) & np.uint64(0xFFFF)).astype(np.float32) / 65535.0 * 1.6 - 0.8
    return priors, values


class CountingEvaluator:
    """Wraps an evaluator; records the batch size of each call and every position evaluated."""

    def __init__(self, inner=uniform_evaluator):
        self.inner = inner
        self.calls = []
        self.seen_own = []
        self.seen_mask = []

    def __call__(self, boards: Boards):
        self.calls.append(len(boards))
        self.seen_own.append(boards.own.copy())
        self.seen_mask.append(boards.mask.copy())
        return self.inner(boards)
