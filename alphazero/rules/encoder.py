"""The single owner of the mapping between positions and network tensors.

Planes ``[B, 3, 6, 7]`` (uint8), from the side to move's view, row 0 = TOP row of the board,
column 0 = leftmost:

* plane 0: the side to move's stones;
* plane 1: the opponent's stones;
* plane 2: all ones when the side to move is the second player, all zeros when it is the first
  (the seed's constant "player to move" plane, whose ones mean the second player moves).
"""

from __future__ import annotations

import numpy as np

from alphazero.rules.game import COLS, ROWS, Boards, batch_legal

# Bit of the 49-bit layout for each (row from the top, column) cell, flattened to [42].
_BIT_INDEX = np.array(
    [c * (ROWS + 1) + (ROWS - 1 - r) for r in range(ROWS) for c in range(COLS)], dtype=np.int64
)


def _unpack(b: np.ndarray) -> np.ndarray:
    """uint64 bitboards [B] -> uint8 cells [B, 6, 7], row 0 = top."""
    bits = np.unpackbits(np.ascontiguousarray(b, dtype="<u8").view(np.uint8).reshape(-1, 8),
                         axis=1, bitorder="little")
    return bits[:, _BIT_INDEX].reshape(-1, ROWS, COLS)


def encode(boards: Boards) -> np.ndarray:
    """Input planes for a batch of positions: ``Boards`` of size B -> uint8 [B, 3, 6, 7]."""
    own = _unpack(boards.own)
    opp = _unpack(boards.own ^ boards.mask)
    second = (np.bitwise_count(boards.mask) & np.uint64(1)).astype(np.uint8)
    out = np.empty((own.shape[0], 3, ROWS, COLS), dtype=np.uint8)
    out[:, 0] = own
    out[:, 1] = opp
    out[:, 2] = second[:, None, None]
    return out


def decode(planes: np.ndarray) -> Boards:
    """Inverse of ``encode``: planes [B, 3, 6, 7] -> ``Boards``. Plane 2 is not needed."""
    planes = np.asarray(planes)
    weights = (np.uint64(1) << _BIT_INDEX.astype(np.uint64)).reshape(ROWS, COLS)
    own = (planes[:, 0].astype(np.uint64) * weights).sum(axis=(1, 2), dtype=np.uint64)
    opp = (planes[:, 1].astype(np.uint64) * weights).sum(axis=(1, 2), dtype=np.uint64)
    return Boards(own, own | opp)


def legal_mask(boards: Boards) -> np.ndarray:
    """Playable columns: ``Boards`` [B] -> bool [B, 7]."""
    return batch_legal(boards.mask)


def mirror_planes(planes: np.ndarray) -> np.ndarray:
    """Left-right mirror of planes [..., 6, 7] (a view; copy before writing into it)."""
    return planes[..., ::-1]


def mirror_policy(policy: np.ndarray) -> np.ndarray:
    """Left-right mirror of per-column vectors [..., 7] (policies, legal masks)."""
    return policy[..., ::-1]
