"""The search tree as arrays, batched across games (DeepMind's mctx is the model).

Every game's tree lives in preallocated arrays; node ``ROOT`` is the root and each new node
takes the next free index of its game, ``next_id`` (a child's index is always above its
parent's). ``reroot`` keeps a subtree for the next move (subtree reuse): the node becomes the
root and its descendants are renumbered in the same order; ``take`` and ``concat`` select and
join whole games' trees.

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

from alphazero.rules.game import COLS

#: The root's node index in every game's tree.
ROOT = 0
#: ``children`` of an edge that no simulation has followed yet.
UNEXPANDED = -1
#: The per-node arrays of a ``Tree`` that moving a node moves (``terminal`` is a view).
NODE_ARRAYS = ("node_n", "edge_n", "edge_w", "edge_q", "prior", "children", "own", "mask",
               "value")


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
    next_id: np.ndarray     # int64 [B] the index the game's next new node takes

    @classmethod
    def allocate(cls, batch: int, nodes: int) -> Tree:
        """Empty trees: every root unevaluated (``node_n`` 0), room for ``nodes`` nodes."""
        z = np.zeros
        padded = z((batch, nodes + 1), bool)
        return cls(
            node_n=z((batch, nodes), np.int32), edge_n=z((batch, nodes, COLS), np.int32),
            edge_w=z((batch, nodes, COLS), np.float32), edge_q=z((batch, nodes, COLS), np.float32),
            prior=z((batch, nodes, COLS), np.float32),
            children=np.full((batch, nodes, COLS), UNEXPANDED, np.int32),
            own=z((batch, nodes), np.uint64), mask=z((batch, nodes), np.uint64),
            terminal=padded[:, :nodes], terminal_padded=padded,
            value=z((batch, nodes), np.float32), next_id=np.ones(batch, np.int64),
        )

    @property
    def capacity(self) -> int:
        return self.node_n.shape[1]

    def take(self, rows: np.ndarray) -> Tree:
        """The trees of the games ``rows``, in that order (a copy)."""
        out = Tree.allocate(len(rows), self.capacity)
        for name in (*NODE_ARRAYS, "terminal"):
            getattr(out, name)[:] = getattr(self, name)[rows]
        out.next_id = self.next_id[rows].copy()
        return out

    def reroot(self, rows: np.ndarray, nodes: np.ndarray, capacity: int) -> Tree:
        """New trees, one per ``(rows[k], nodes[k])``: that node's subtree, the node as root,
        renumbered in creation order, with room for ``capacity`` nodes (at least the largest
        subtree). ``UNEXPANDED`` (no such node)
        or a terminal node gives an empty tree. Statistics are copied unchanged (visits,
        values, priors, children)."""
        rows, nodes = np.asarray(rows, np.int64), np.asarray(nodes, np.int64)
        k = rows.size
        ok = nodes >= 0
        ok[ok] &= ~self.terminal[rows[ok], nodes[ok]]
        used = int(self.next_id[rows].max()) if rows.size else 1
        keep = np.zeros((k, used), bool)
        ch = self.children[rows, :used]                       # [k, used, 7]
        at, node = np.flatnonzero(ok), nodes[ok]
        while at.size:                                        # one tree level at a time
            keep[at, node] = True
            kids = ch[at, node]
            has = kids >= 0
            at, node = np.repeat(at, COLS)[has.ravel()], kids[has]
        sizes = keep.sum(axis=1)
        out = Tree.allocate(k, max(capacity, int(sizes.max(initial=1))))
        new_id = np.cumsum(keep, axis=1) - 1
        kr, kn = np.nonzero(keep)
        dst = new_id[kr, kn]
        for name in NODE_ARRAYS:
            getattr(out, name)[kr, dst] = getattr(self, name)[rows[kr], kn]
        old_children = self.children[rows[kr], kn]
        out.children[kr, dst] = np.where(old_children >= 0,
                                         new_id[kr[:, None], np.maximum(old_children, 0)],
                                         UNEXPANDED)
        out.terminal[kr, dst] = self.terminal[rows[kr], kn]
        out.next_id = np.maximum(sizes, 1)
        return out

    @staticmethod
    def concat(trees: list[Tree], capacity: int = 0) -> Tree:
        """The rows of ``trees`` one after another, with room for the largest capacity (or
        ``capacity`` nodes, if more)."""
        out = Tree.allocate(sum(t.node_n.shape[0] for t in trees),
                            max(capacity, *(t.capacity for t in trees)))
        start = 0
        for t in trees:
            b, n = t.node_n.shape[0], t.capacity
            for name in (*NODE_ARRAYS, "terminal"):
                getattr(out, name)[start:start + b, :n] = getattr(t, name)
            out.next_id[start:start + b] = t.next_id
            start += b
        return out

    def find(self, own: np.ndarray, mask: np.ndarray, max_depth: int = 2) -> tuple[
            np.ndarray, np.ndarray]:
        """For each position ``(own[k], mask[k])``, a ``(row, node)`` of these trees holding it
        within ``max_depth`` plies of its root, or ``(0, UNEXPANDED)``. int [K] each."""
        root_ply = np.bitwise_count(self.mask[:, ROOT]).astype(np.int64)
        ply = np.bitwise_count(self.mask).astype(np.int64)
        near = (self.node_n > 0) & (ply - root_ply[:, None] <= max_depth)
        r, n = np.nonzero(near)
        where = dict(zip(zip(self.own[r, n].tolist(), self.mask[r, n].tolist()),
                         zip(r.tolist(), n.tolist())))
        found = [where.get(key, (0, UNEXPANDED)) for key in zip(own.tolist(), mask.tolist())]
        rows, nodes = (np.array(a, np.int64).reshape(-1) for a in zip(*found)) if found else (
            np.zeros(0, np.int64), np.zeros(0, np.int64))
        return rows, nodes

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
