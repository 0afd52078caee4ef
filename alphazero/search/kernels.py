"""The search's simulation step compiled with numba (the optional extra ``alphazero-c4[fast]``).

``mcts.select``, ``expand`` and ``backup`` are the reference: numpy steps over all games at
once, each a few dozen array operations per tree level. Once the network is fast, that per-step
cost is about a tenth of a self-play worker's CPU (the network's share rose from 0.74 to
0.86 when it was compiled: docs/benchmarks.md). ``simulate`` does the same simulation in two
compiled passes around the one network call: ``_descend`` walks every game's path, creates its
new node and gathers the positions to evaluate; ``_complete`` stores their priors and values and
backs every path up. The trees come out bit for bit the same as numpy's (the tests compare every
array): scores are computed in the same precision and order as numpy's promotions do, and ties
go to the lower column as ``argmax`` does. What differs is only the order in which the leaves
are handed to ``evaluate`` (by game here, by depth there).

A root rule that ``picks`` (Gumbel's sequential halving, forced playouts) chooses each root
move in Python and hands it in (``root_act``); below the root every node is PUCT's.
Without numba, ``AVAILABLE`` is False and the search uses numpy.
"""

from __future__ import annotations

import numpy as np

# AVAILABLE: whether the compiled step can run (the driver reads kernels.AVAILABLE).
from alphazero.core.compiled import AVAILABLE, jit  # noqa: F401
from alphazero.rules.game import BOARD_MASK, BOTTOM, CELLS, COLS, TOP, Boards
from alphazero.search.evaluators import Evaluate
from alphazero.search.tree import Tree

#: The longest path: one edge per stone, and the root.
MAX_DEPTH = CELLS + 1

_BOTTOM = np.array(BOTTOM, np.uint64)
_TOP = np.array(TOP, np.uint64)
_FULL = np.uint64(BOARD_MASK)
_PUCT_ROOT = np.empty(0, np.int64)  # no root rule's moves: PUCT at the root too


@jit
def _aligned(p):
    for s in (1, 7, 6, 8):
        m = p & (p >> np.uint64(s))
        if (m & (m >> np.uint64(2 * s))) != 0:
            return True
    return False


@jit
def _descend(rows, root_act, c_puct, node_n, edge_n, edge_q, prior, children, terminal, own,
             mask, value, next_id, path_node, path_act, path_len, leaf_value, ev_k, ev_node,
             ev_own, ev_mask):
    """Walk each game ``rows[k]`` down by PUCT (from ``root_act[k]`` at the root when given:
    not empty, not -1) to a new edge or a terminal node (path in
    ``path_node/act[k, :path_len[k]]``); value a terminal leaf, create a new node and value it
    when terminal, else list it for the network (``ev_*[:n]``). Returns n."""
    n_ev = 0
    for k in range(rows.size):
        r = rows[k]
        node = 0
        depth = 0
        while True:
            if depth == 0 and root_act.size and root_act[k] >= 0:
                best = root_act[k]  # the root rule's move: no PUCT scores needed here
            else:
                # numpy's promotions in mcts.select: float32 sqrt, then float64 from the int
                # division
                sq = np.float64(np.sqrt(np.float32(node_n[r, node])))
                best, best_s = 0, -np.inf
                for a in range(COLS):
                    s = np.float64(edge_q[r, node, a]) + np.float64(
                        c_puct * prior[r, node, a]) * (sq / np.float64(1 + edge_n[r, node, a]))
                    if s > best_s:
                        best, best_s = a, s
            path_node[k, depth], path_act[k, depth] = node, best
            depth += 1
            child = children[r, node, best]
            if child < 0 or terminal[r, child]:
                break
            node = child
        path_len[k] = depth
        if child >= 0:  # a terminal node met again keeps its exact value
            leaf_value[k] = value[r, child]
            node_n[r, child] += 1
            continue
        nid = next_id[r]
        next_id[r] += 1
        o, m = own[r, node], mask[r, node]
        new_mask = m | (m + _BOTTOM[best])
        new_own = o ^ m
        own[r, nid], mask[r, nid] = new_own, new_mask
        children[r, node, best] = nid
        won = _aligned(o | (new_mask ^ m))
        if won or new_mask == _FULL:
            # the player who just moved made four: a loss for the new side to move
            v = np.float32(-1.0) if won else np.float32(0.0)
            terminal[r, nid] = True
            value[r, nid] = v
            node_n[r, nid] = 1
            leaf_value[k] = v
        else:
            ev_k[n_ev], ev_node[n_ev] = k, nid
            ev_own[n_ev], ev_mask[n_ev] = new_own, new_mask
            n_ev += 1
    return n_ev


@jit
def _complete(rows, n_ev, ev_k, ev_node, priors, values, fpu_reduction, node_n, edge_n,
              edge_w, edge_q, prior, mask, value, path_node, path_act, path_len, leaf_value):
    """Store the evaluated nodes (``tree.init_nodes``: cleaned priors, value, first-play
    values) and add every game's leaf value along its path, negating at every ply."""
    for j in range(n_ev):
        k, nid = ev_k[j], ev_node[j]
        r = rows[k]
        m = mask[r, nid]
        total, legal_count = np.float32(0.0), 0
        for a in range(COLS):
            if (m & _TOP[a]) == 0:
                total += np.float32(priors[j, a])
                legal_count += 1
        v = np.float32(values[j])
        fpu = min(max(v - np.float32(fpu_reduction), np.float32(-1.0)), np.float32(1.0))
        for a in range(COLS):
            if (m & _TOP[a]) == 0:
                prior[r, nid, a] = (np.float32(priors[j, a]) / total if total > 0
                                    else np.float32(1.0 / legal_count))
                edge_q[r, nid, a] = fpu
            else:
                prior[r, nid, a] = 0.0
                edge_q[r, nid, a] = -np.inf
        value[r, nid] = v
        node_n[r, nid] = 1
        leaf_value[k] = v
    for k in range(rows.size):
        r, length, v = rows[k], path_len[k], leaf_value[k]
        for d in range(length):
            node, a = path_node[k, d], path_act[k, d]
            sign = np.float32(1.0) if (length - d) % 2 == 0 else np.float32(-1.0)
            edge_n[r, node, a] += 1
            edge_w[r, node, a] += sign * v
            edge_q[r, node, a] = np.float64(edge_w[r, node, a]) / np.float64(edge_n[r, node, a])
            node_n[r, node] += 1


def simulate(tree: Tree, rows: np.ndarray, evaluate: Evaluate, c_puct: float,
             fpu_reduction: float, root_act: np.ndarray | None = None) -> None:
    """One PUCT simulation in each game ``rows`` (int [k]) of ``tree``, in place: the same as
    ``mcts.select`` + ``expand`` + ``backup``, the root move chosen by PUCT or, when given,
    by the root rule (``root_act`` int [k])."""
    k = rows.size
    rows = rows.astype(np.int64, copy=False)
    root_act = _PUCT_ROOT if root_act is None else np.asarray(root_act, np.int64)
    path_node = np.empty((k, MAX_DEPTH), np.int64)
    path_act = np.empty((k, MAX_DEPTH), np.int64)
    path_len = np.empty(k, np.int64)
    leaf_value = np.empty(k, np.float32)
    ev_k, ev_node = np.empty(k, np.int64), np.empty(k, np.int64)
    ev_own, ev_mask = np.empty(k, np.uint64), np.empty(k, np.uint64)
    n = _descend(rows, root_act, np.float32(c_puct), tree.node_n, tree.edge_n, tree.edge_q,
                 tree.prior, tree.children, tree.terminal_padded, tree.own, tree.mask, tree.value,
                 tree.next_id, path_node, path_act, path_len, leaf_value, ev_k, ev_node,
                 ev_own, ev_mask)
    priors = np.zeros((0, COLS), np.float32)
    values = np.zeros(0, np.float32)
    if n:
        priors, values = evaluate(Boards(ev_own[:n], ev_mask[:n]))
        priors = np.ascontiguousarray(priors, np.float32)
        values = np.ascontiguousarray(values, np.float32)
    _complete(rows, n, ev_k, ev_node, priors, values, np.float32(fpu_reduction), tree.node_n,
              tree.edge_n, tree.edge_w, tree.edge_q, tree.prior, tree.mask, tree.value,
              path_node, path_act, path_len, leaf_value)
