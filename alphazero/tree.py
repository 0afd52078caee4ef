"""The search tree as arrays, batched across games (DeepMind's mctx is the model).

Every game's tree lives in preallocated arrays with room for ``num_simulations + 1`` nodes;
node ``ROOT`` is the root and the node created by simulation ``i`` is node ``i + 1``.

Statistics live on edges (parent, action), stored in the parent's row, so one selection step
gathers three contiguous [B, 7] rows instead of chasing child indices:

* ``edge_n`` visits, ``edge_w`` summed value, ``edge_q`` = W / N, all from the view of the
  player choosing at the parent (the parent's side to move);
* ``edge_q`` of an unvisited legal edge holds the first-play value (the parent's network value
  minus ``fpu_reduction``) and of an illegal edge ``-inf``, so selection needs no masking.

Sign convention, written once: a node's value is from its side to move's view; backup negates
it at every ply. A terminal node is valued by the rules (-1: the previous move made four; 0: a
full board), never by the network, and is never expanded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .game import COLS

#: The root's node index in every game's tree.
ROOT = 0
#: ``children`` of an edge that no simulation has followed yet.
UNEXPANDED = -1


@dataclass
class Tree:
    """Per-game search trees: [B, N] node arrays and [B, N, 7] edge arrays."""

    node_n: np.ndarray      # int32 [B, N] visits of each node (its own evaluation counts one)
    edge_n: np.ndarray      # int32 [B, N, 7]
    edge_w: np.ndarray      # float32 [B, N, 7]
    edge_q: np.ndarray      # float32 [B, N, 7]
    prior: np.ndarray       # float32 [B, N, 7], 0 on illegal columns
    children: np.ndarray    # int32 [B, N, 7], UNEXPANDED until the edge is first followed
    own: np.ndarray         # uint64 [B, N]
    mask: np.ndarray        # uint64 [B, N]
    terminal: np.ndarray    # bool [B, N], a view of terminal_padded
    terminal_padded: np.ndarray  # bool [B, N + 1]: the same, plus a last column never set, so
                                 # that a child index of UNEXPANDED (-1) reads False unmasked
    value: np.ndarray       # float32 [B, N] network value, or the exact value when terminal

    @classmethod
    def allocate(cls, batch: int, nodes: int) -> Tree:
        z = np.zeros
        padded = z((batch, nodes + 1), bool)
        return cls(
            node_n=z((batch, nodes), np.int32), edge_n=z((batch, nodes, COLS), np.int32),
            edge_w=z((batch, nodes, COLS), np.float32), edge_q=z((batch, nodes, COLS), np.float32),
            prior=z((batch, nodes, COLS), np.float32),
            children=np.full((batch, nodes, COLS), UNEXPANDED, np.int32),
            own=z((batch, nodes), np.uint64), mask=z((batch, nodes), np.uint64),
            terminal=padded[:, :nodes], terminal_padded=padded,
            value=z((batch, nodes), np.float32),
        )

    def init_nodes(self, rows: np.ndarray, nodes: np.ndarray, priors: np.ndarray,
                   values: np.ndarray, legal: np.ndarray, fpu_reduction: float) -> None:
        """Fill freshly evaluated non-terminal nodes ``(rows[k], nodes[k])``: priors [k, 7]
        (cleaned here, see ``clean_priors``), values [k], legal bool [k, 7]."""
        self.prior[rows, nodes] = clean_priors(priors, legal)
        self.value[rows, nodes] = values
        fpu = np.clip(values - fpu_reduction, -1.0, 1.0).astype(np.float32)
        self.edge_q[rows, nodes] = np.where(legal, fpu[:, None], -np.inf)
        self.node_n[rows, nodes] = 1

    def root_q(self) -> np.ndarray:
        """Each root edge's mean value Q, float32 [B, 7], NaN where unvisited."""
        n = self.edge_n[:, ROOT]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.edge_w[:, ROOT] / n, np.nan).astype(np.float32)

    def root_value(self) -> np.ndarray:
        """The root search value: the mean of the root's own evaluation and every backed-up
        value, from the side to move's view, float32 [B]."""
        total = self.value[:, ROOT] + self.edge_w[:, ROOT].sum(axis=1)
        return (total / self.node_n[:, ROOT]).astype(np.float32)


def clean_priors(priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """Zero illegal columns and renormalise; uniform over legal moves where nothing is left.
    priors [B, 7], legal bool [B, 7] -> float32 [B, 7]."""
    p = np.where(legal, np.asarray(priors, dtype=np.float32), 0.0)
    s = p.sum(axis=1, keepdims=True)
    uniform = legal / np.maximum(legal.sum(axis=1, keepdims=True), 1)
    return np.where(s > 0, p / np.where(s > 0, s, 1), uniform).astype(np.float32)
