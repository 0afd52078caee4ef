"""Batched PUCT Monte Carlo tree search over array trees.

B games are searched at once. Each game's tree lives in preallocated arrays with room for
``num_simulations + 1`` nodes; node 0 is the root and the node created by simulation ``i`` is
node ``i + 1``. One simulation step descends every game's tree by one path, then makes ONE call
``evaluate(boards) -> (priors [k, 7], values [k])`` for all the new non-terminal leaves.

Statistics live on edges (parent, action), stored in the parent's row, so one selection step
gathers three contiguous [B, 7] rows instead of chasing child indices:

* ``edge_n`` visits, ``edge_w`` summed value, ``edge_q`` = W / N, all from the view of the
  player choosing at the parent (the parent's side to move);
* ``edge_q`` of an unvisited legal edge holds the first-play value (the parent's network value
  minus ``fpu_reduction``) and of an illegal edge ``-inf``, so selection needs no masking.

Sign convention, written once: a node's value is from its side to move's view; backup negates
it at every ply. A terminal node (the previous move made four, or a full board) is valued by the
rules, -1 or 0 for its side to move, never by the network, and is never expanded.

Root selection is PUCT (AlphaZero) or, with ``cfg.root_selection = "gumbel"``, Gumbel
sequential halving (Danihelka et al., "Policy improvement by planning with Gumbel", ICLR 2022):
the root samples ``m`` actions without replacement by Gumbel-top-k on the prior logits, splits
the budget over phases that halve the candidates, and ranks them by ``g + logits + sigma(q)``;
the policy target is ``softmax(logits + sigma(completed q))``, which improves on the prior even
with a handful of simulations. Below the root, selection stays PUCT.

This module never imports torch or the network: tests plug in fake evaluators.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .config import MCTSConfig
from .game import COLS, Boards, batch_legal, batch_lost, batch_play

Evaluate = Callable[[Boards], tuple[np.ndarray, np.ndarray]]


@dataclass
class Tree:
    """Per-game search trees, [B, N] node arrays and [B, N, 7] edge arrays."""

    node_n: np.ndarray      # int32 [B, N] visits of each node (its own evaluation counts one)
    edge_n: np.ndarray      # int32 [B, N, 7]
    edge_w: np.ndarray      # float32 [B, N, 7]
    edge_q: np.ndarray      # float32 [B, N, 7]
    prior: np.ndarray       # float32 [B, N, 7], 0 on illegal columns
    children: np.ndarray    # int32 [B, N, 7], 0 = not expanded (node 0 is never a child)
    own: np.ndarray         # uint64 [B, N]
    mask: np.ndarray        # uint64 [B, N]
    terminal: np.ndarray    # bool [B, N]
    value: np.ndarray       # float32 [B, N] network value, or the exact value when terminal

    @classmethod
    def allocate(cls, batch: int, nodes: int) -> Tree:
        z = np.zeros
        return cls(
            node_n=z((batch, nodes), np.int32), edge_n=z((batch, nodes, COLS), np.int32),
            edge_w=z((batch, nodes, COLS), np.float32), edge_q=z((batch, nodes, COLS), np.float32),
            prior=z((batch, nodes, COLS), np.float32), children=z((batch, nodes, COLS), np.int32),
            own=z((batch, nodes), np.uint64), mask=z((batch, nodes), np.uint64),
            terminal=z((batch, nodes), bool), value=z((batch, nodes), np.float32),
        )


@dataclass
class SearchResult:
    """Per-game output of ``search``.

    ``visits`` int32 [B, 7] root edge visits (sum = num_simulations); ``policy`` float32
    [B, 7] the training target: the visit distribution under PUCT, the improved policy
    ``softmax(logits + sigma(completed q))`` under Gumbel; ``best`` int [B] the move to play
    (most visited under PUCT, the sequential-halving winner under Gumbel, noise included);
    ``root_value`` float32 [B] the mean backed-up value from the side to move's view; ``q``
    float32 [B, 7] each root edge's mean value (NaN where unvisited); ``prior`` float32 [B, 7]
    the root priors used (Dirichlet noise included).
    """

    visits: np.ndarray
    policy: np.ndarray
    best: np.ndarray
    root_value: np.ndarray
    q: np.ndarray
    prior: np.ndarray
    tree: Tree


def _clean_priors(priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """Zero illegal columns and renormalise; uniform over legal moves where nothing is left."""
    p = np.where(legal, np.asarray(priors, dtype=np.float32), 0.0)
    s = p.sum(axis=1, keepdims=True)
    uniform = legal / np.maximum(legal.sum(axis=1, keepdims=True), 1)
    return np.where(s > 0, p / np.where(s > 0, s, 1), uniform).astype(np.float32)


def _init_nodes(tree: Tree, rows: np.ndarray, nodes: np.ndarray, priors: np.ndarray,
                values: np.ndarray, legal: np.ndarray, fpu_reduction: float) -> None:
    """Fill freshly evaluated non-terminal nodes ``(rows[k], nodes[k])``."""
    tree.prior[rows, nodes] = _clean_priors(priors, legal)
    tree.value[rows, nodes] = values
    fpu = np.clip(values - fpu_reduction, -1.0, 1.0).astype(np.float32)
    tree.edge_q[rows, nodes] = np.where(legal, fpu[:, None], -np.inf)
    tree.node_n[rows, nodes] = 1


@functools.lru_cache(maxsize=256)
def halving_schedule(considered: int, sims: int) -> np.ndarray:
    """Sequential halving as a table: the visit count that the root action picked by
    simulation ``k`` must have before it, int [sims].

    Each phase gives every remaining candidate the same number of visits (about
    ``sims / (ceil(log2 considered) * candidates)``, at least one), then halves the candidates
    (never below two); the budget left after the last phase keeps going to the final two.
    """
    table: list[int] = list(range(sims)) if considered <= 1 else []
    phases = math.ceil(math.log2(max(considered, 2)))
    level, m = 0, considered
    while len(table) < sims:
        for _ in range(max(1, sims // (phases * m))):
            table.extend([level] * m)
            level += 1
        m = max(2, m // 2)
    out = np.array(table[:sims], dtype=np.int64)
    out.flags.writeable = False  # cached and shared between searches
    return out


def _root_logits(prior: np.ndarray, legal: np.ndarray) -> np.ndarray:
    return np.where(legal, np.log(np.maximum(prior, 1e-12)), -np.inf).astype(np.float32)


def _sigma_completed_q(tree: Tree, prior: np.ndarray, legal: np.ndarray,
                       cfg: MCTSConfig) -> np.ndarray:
    """``sigma(completed q)`` at the roots, float32 [B, 7] (-inf on illegal columns).

    Unvisited actions take the mixed value: the network's root value blended with the
    prior-weighted mean q of the visited actions. Values are mapped from [-1, 1] to [0, 1]
    (the game's own bounds; a min-max rescale over the root's children would stretch a 0.01
    difference to the full range and make every target one-hot, which collapsed self-play in
    our A/B), then scaled by ``(c_visit + max visits) * c_scale``.
    """
    n = tree.edge_n[:, 0].astype(np.float32)
    visited = n > 0
    q = np.where(visited, tree.edge_w[:, 0] / np.maximum(n, 1), 0.0)
    p_vis = (prior * visited).sum(axis=1)
    weighted = (prior * q * visited).sum(axis=1) / np.maximum(p_vis, 1e-12)
    sum_n = n.sum(axis=1)
    v_mix = np.where(p_vis > 0, (tree.value[:, 0] + sum_n * weighted) / (1 + sum_n),
                     tree.value[:, 0])
    completed = np.where(visited, q, v_mix[:, None])
    norm = (completed + 1.0) / 2.0
    scale = (cfg.gumbel_c_visit + n.max(axis=1, keepdims=True)) * cfg.gumbel_c_scale
    return np.where(legal, scale * norm, -np.inf).astype(np.float32)


def _pick(score: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Row-wise argmax of ``score`` over ``allowed``; rows with nothing allowed fall back to the
    plain argmax (cannot happen under the schedule, kept as a guard)."""
    masked = np.where(allowed, score, -np.inf)
    ok = np.isfinite(masked).any(axis=1)
    return np.where(ok, masked.argmax(axis=1), score.argmax(axis=1))


def search(boards: Boards, evaluate: Evaluate, cfg: MCTSConfig,
           root_noise: np.ndarray | None = None,
           num_simulations: int | None = None,
           gumbel: np.ndarray | None = None) -> SearchResult:
    """Run the search from every root in ``boards`` (B non-terminal positions).

    ``root_noise``: float [B, 7] mixed into the root priors with weight
    ``cfg.dirichlet_fraction`` (see ``dirichlet_noise``); None = no noise (arena, play).
    Ignored under Gumbel root selection, whose noise is ``gumbel``: float [B, 7] standard
    Gumbel samples (None = zeros: deterministic, for playing to win).
    ``num_simulations`` overrides ``cfg.num_simulations``.
    """
    sims = cfg.num_simulations if num_simulations is None else num_simulations
    use_gumbel = cfg.root_selection == "gumbel"
    batch = len(boards)
    tree = Tree.allocate(batch, sims + 1)
    rows_all = np.arange(batch)
    zeros = np.zeros(batch, dtype=np.int64)

    legal = batch_legal(boards.mask)
    if not legal.any(axis=1).all() or batch_lost(boards.own, boards.mask).any():
        raise ValueError("search needs positions where the game is not over")
    tree.own[:, 0], tree.mask[:, 0] = boards.own, boards.mask
    priors, values = evaluate(boards)
    priors = _clean_priors(priors, legal)
    if use_gumbel:
        logits = _root_logits(priors, legal)
        g_logits = logits + (0.0 if gumbel is None else np.asarray(gumbel, np.float32))
        considered = np.minimum(legal.sum(axis=1), cfg.gumbel_considered)
        tables = np.stack([halving_schedule(m, sims) for m in range(COLS + 1)])
        targets = tables[considered]  # [B, sims]
    elif root_noise is not None and cfg.dirichlet_fraction > 0:
        eps = cfg.dirichlet_fraction
        priors = (1 - eps) * priors + eps * np.where(legal, root_noise, 0.0)
    _init_nodes(tree, rows_all, zeros, priors, np.asarray(values, np.float32), legal,
                cfg.fpu_reduction)

    c_puct = np.float32(cfg.c_puct)
    for sim in range(sims):
        # --- selection: walk down until an unexpanded edge or a terminal node -------------
        idx, node = rows_all, zeros
        path_rows, path_nodes, path_acts, path_depth = [], [], [], []
        leaf_rows, leaf_parent, leaf_act, leaf_node = [], [], [], []
        leaf_depth = np.zeros(batch, dtype=np.int64)
        depth = 0
        while idx.size:
            n = tree.edge_n[idx, node]
            sqrt_parent = np.sqrt(tree.node_n[idx, node].astype(np.float32))
            score = tree.edge_q[idx, node] + c_puct * tree.prior[idx, node] * (
                sqrt_parent[:, None] / (1 + n))
            act = score.argmax(axis=1)
            if use_gumbel and depth == 0:
                sq = _sigma_completed_q(tree, priors, legal, cfg)
                act = _pick(g_logits + sq, tree.edge_n[:, 0] == targets[:, sim, None])
            path_rows.append(idx)
            path_nodes.append(node)
            path_acts.append(act)
            path_depth.append(np.full(idx.size, depth))
            child = tree.children[idx, node, act]
            stop = (child == 0) | tree.terminal[idx, child]
            if stop.any():
                leaf_rows.append(idx[stop])
                leaf_parent.append(node[stop])
                leaf_act.append(act[stop])
                leaf_node.append(child[stop])
                leaf_depth[idx[stop]] = depth + 1
                keep = ~stop
                idx, node = idx[keep], child[keep]
            else:
                node = child
            depth += 1

        rows = np.concatenate(leaf_rows)
        parent = np.concatenate(leaf_parent)
        act = np.concatenate(leaf_act)
        leaf = np.concatenate(leaf_node)
        leaf_value = np.empty(batch, dtype=np.float32)

        # Leaves that are already terminal: exact value, no expansion, no network.
        old = leaf > 0
        if old.any():
            r, nd = rows[old], leaf[old]
            leaf_value[r] = tree.value[r, nd]
            tree.node_n[r, nd] += 1

        # --- expansion: create node sim+1 in every other game -----------------------------
        new = ~old
        if new.any():
            r, p, a = rows[new], parent[new], act[new]
            nid = sim + 1
            own, mask, won, full = batch_play(tree.own[r, p], tree.mask[r, p], a, check=False)
            tree.own[r, nid], tree.mask[r, nid] = own, mask
            tree.children[r, p, a] = nid
            term = won | full
            if term.any():
                rt = r[term]
                tree.terminal[rt, nid] = True
                # The player who just moved made four: a loss for the new side to move.
                tv = np.where(won[term], -1.0, 0.0).astype(np.float32)
                tree.value[rt, nid] = tv
                tree.node_n[rt, nid] = 1
                leaf_value[rt] = tv
            live = ~term
            if live.any():
                rl = r[live]
                sub = Boards(own[live], mask[live])
                pri, val = evaluate(sub)
                val = np.asarray(val, np.float32)
                nodes = np.full(rl.size, nid)
                _init_nodes(tree, rl, nodes, pri, val, batch_legal(sub.mask), cfg.fpu_reduction)
                leaf_value[rl] = val

        # --- backup: edge at depth d of a path of length L gets (-1)^(L-d) * leaf value ---
        pr = np.concatenate(path_rows)
        pn = np.concatenate(path_nodes)
        pa = np.concatenate(path_acts)
        pd = np.concatenate(path_depth)
        sign = np.where((leaf_depth[pr] - pd) % 2 == 0, 1.0, -1.0).astype(np.float32)
        tree.edge_n[pr, pn, pa] += 1
        tree.edge_w[pr, pn, pa] += sign * leaf_value[pr]
        tree.edge_q[pr, pn, pa] = tree.edge_w[pr, pn, pa] / tree.edge_n[pr, pn, pa]
        tree.node_n[pr, pn] += 1

    visits = tree.edge_n[:, 0].copy()
    w0 = tree.edge_w[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(visits > 0, w0 / visits, np.nan).astype(np.float32)
    if use_gumbel:
        sq = _sigma_completed_q(tree, priors, legal, cfg)
        improved = logits + sq
        improved = np.exp(improved - improved.max(axis=1, keepdims=True))
        policy = (improved / improved.sum(axis=1, keepdims=True)).astype(np.float32)
        best = _pick(g_logits + sq, legal & (visits == visits.max(axis=1, keepdims=True)))
    else:
        total = visits.sum(axis=1, keepdims=True)
        policy = (visits / np.maximum(total, 1)).astype(np.float32)
        best = most_visited(visits, q)
    root_value = ((tree.value[:, 0] + w0.sum(axis=1)) / tree.node_n[:, 0]).astype(np.float32)
    return SearchResult(visits=visits, policy=policy, best=best, root_value=root_value, q=q,
                        prior=tree.prior[:, 0].copy(), tree=tree)


def match_config(cfg: MCTSConfig, num_simulations: int) -> MCTSConfig:
    """``cfg`` for playing to win (arena, evaluation, play): no root noise, the given budget."""
    return dataclasses.replace(cfg, num_simulations=num_simulations, dirichlet_fraction=0.0)


def most_visited(visits: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The most visited column per row; ties go to the better mean value, then the lower
    column. visits [B, 7], q [B, 7] (NaN where unvisited) -> int [B]."""
    q = np.nan_to_num(q, nan=-2.0)
    key = visits.astype(np.float64) + (q + 2.0) / 8.0  # q in [-1, 1] never outweighs a visit
    return key.argmax(axis=1)


def dirichlet_noise(legal: np.ndarray, alpha: float,
                    rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """Dirichlet(alpha) noise over each row's legal columns, drawn from that row's own stream.

    ``legal`` bool [B, 7], one generator per row -> float32 [B, 7], rows sum to 1.
    """
    out = np.zeros(legal.shape, dtype=np.float32)
    for i, rng in enumerate(rngs):
        cols = np.flatnonzero(legal[i])
        out[i, cols] = rng.dirichlet(np.full(cols.size, alpha))
    return out


def apply_temperature(visits: np.ndarray, temperature: np.ndarray | float) -> np.ndarray:
    """Move probabilities from visit counts: p ~ N^(1/T). T = 0 puts all mass on the most
    visited moves (ties share it). visits [B, 7], temperature scalar or [B] -> float64 [B, 7]."""
    v = np.asarray(visits, dtype=np.float64)
    t = np.broadcast_to(np.asarray(temperature, dtype=np.float64), (v.shape[0],))
    out = np.empty_like(v)
    greedy = t <= 1e-3
    if greedy.any():
        best = v[greedy] == v[greedy].max(axis=1, keepdims=True)
        out[greedy] = best / best.sum(axis=1, keepdims=True)
    soft = ~greedy
    if soft.any():
        vs = v[soft]
        # Scale by the row maximum before the power so 1/T up to 1000 cannot overflow.
        scaled = (vs / vs.max(axis=1, keepdims=True)) ** (1.0 / t[soft][:, None])
        out[soft] = scaled / scaled.sum(axis=1, keepdims=True)
    return out


def sample_moves(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of one column per row: probs [B, 7], uniforms in [0, 1) [B] -> [B]."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = np.inf  # rounding can leave the total a hair below 1
    choice = (cdf <= uniforms[:, None]).sum(axis=1)
    # Never land on a zero-probability column (possible only through rounding at its edge).
    bad = probs[np.arange(len(choice)), np.minimum(choice, COLS - 1)] <= 0
    if bad.any():
        choice[bad] = probs[bad].argmax(axis=1)
    return np.minimum(choice, COLS - 1)
