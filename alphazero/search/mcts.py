"""Batched Monte Carlo tree search: a short driver over named steps (mctx's shape).

B games are searched at once over the array trees of ``tree.py``. Each simulation is three
steps: ``select`` walks every game's tree down one path (PUCT, with the root rule choosing at
the root), ``expand`` creates the next node in every game whose path ended on a new edge and
makes ONE call ``evaluate(boards) -> (priors [k, 7], values [k])`` for all the new non-terminal
leaves, and ``backup`` adds the leaf values along the paths, negating at every ply. What the
root does (noise, Gumbel sequential halving, the policy target, the move to play) is a root
rule from ``roots.py``.

This module never imports torch or the network: tests plug in fake evaluators.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from alphazero.core.config import MCTSConfig
from alphazero.rules.game import Boards, batch_legal, batch_lost, batch_play
from alphazero.search import kernels
from alphazero.search.evaluators import Evaluate
from alphazero.search.roots import RootRule, root_rule
from alphazero.search.tree import ROOT, UNEXPANDED, Tree


@dataclass
class SearchResult:
    """Per-game output of ``search``.

    ``visits`` int32 [B, 7] root edge visits (sum = num_simulations); ``policy`` float32
    [B, 7] the training target: the visit distribution under PUCT, the improved policy
    ``softmax(logits + sigma(completed q))`` under Gumbel; ``move`` int [B] the move to play
    (most visited under PUCT, the sequential-halving winner under Gumbel, noise included);
    ``root_value`` float32 [B] the root search value (the mean backed-up value, side to move's
    view); ``q`` float32 [B, 7] each root edge's mean value Q (NaN where unvisited);
    ``prior`` float32 [B, 7] the root priors used (Dirichlet noise included).
    """

    visits: np.ndarray
    policy: np.ndarray
    move: np.ndarray
    root_value: np.ndarray
    q: np.ndarray
    prior: np.ndarray
    tree: Tree


@dataclass
class Descent:
    """Where one simulation went in every game.

    The edges it crossed, flattened over games and depths: ``rows``, ``nodes`` (the parent),
    ``acts``, ``depth`` (the parent's depth), int [E]. Its leaves, one per game (ordered by
    depth, not by game): ``leaf_rows``, ``leaf_parent``, ``leaf_act``, ``leaf_node`` (an
    existing terminal node, or ``UNEXPANDED`` where the edge is new), int [B]; and
    ``leaf_depth`` int [B] indexed by game.
    """

    rows: np.ndarray
    nodes: np.ndarray
    acts: np.ndarray
    depth: np.ndarray
    leaf_rows: np.ndarray
    leaf_parent: np.ndarray
    leaf_act: np.ndarray
    leaf_node: np.ndarray
    leaf_depth: np.ndarray


def search(boards: Boards, evaluate: Evaluate, cfg: MCTSConfig,
           root_noise: np.ndarray | None = None,
           num_simulations: int | None = None,
           gumbel: np.ndarray | None = None,
           tree: Tree | None = None) -> SearchResult:
    """Run the search from every root in ``boards`` (B non-terminal positions).

    ``root_noise``: float [B, 7] mixed into the root priors with weight
    ``cfg.dirichlet_fraction`` (see ``exploration.dirichlet_noise``); None = no noise (arena,
    play). Ignored under Gumbel root selection, whose noise is ``gumbel``: float [B, 7]
    standard Gumbel samples (None = zeros: deterministic, for playing to win).
    ``num_simulations`` overrides ``cfg.num_simulations``. ``tree``: trees already rooted at
    ``boards`` (``Tree.reroot``, subtree reuse; PUCT roots only): their statistics are kept,
    a row whose root is unevaluated starts afresh, and every game runs only the simulations
    its root lacks to reach ``num_simulations`` visits.
    """
    sims = cfg.num_simulations if num_simulations is None else num_simulations
    rule = root_rule(cfg, sims, root_noise, gumbel)
    legal = batch_legal(boards.mask)
    if not legal.any(axis=1).all() or batch_lost(boards.own, boards.mask).any():
        raise ValueError("search needs positions where the game is not over")
    batch = len(boards)
    if tree is None:
        tree = Tree.allocate(batch, sims + 1)
    else:
        _check_reusable(tree, boards, cfg)
    todo = np.maximum(sims - tree.edge_n[:, ROOT].sum(axis=1), 0)
    if int((tree.next_id + todo).max()) > tree.capacity:
        tree = Tree.concat([tree], int((tree.next_id + todo).max()))
    fresh = np.flatnonzero(tree.node_n[:, ROOT] == 0)
    if fresh.size:
        tree.own[fresh, ROOT], tree.mask[fresh, ROOT] = boards.own[fresh], boards.mask[fresh]
        priors, values = evaluate(boards.take(fresh))
        tree.init_nodes(fresh, np.full(fresh.size, ROOT), priors,
                        np.asarray(values, np.float32), legal[fresh], cfg.fpu_reduction)
    tree.prior[:, ROOT] = rule.prepare(tree.prior[:, ROOT], legal)
    c_puct = np.float32(cfg.c_puct)
    every = np.arange(batch)
    compiled = uses_compiled(cfg)
    for sim in range(int(todo.max(initial=0))):
        rows = every if todo.min() > sim else np.flatnonzero(todo > sim)
        if compiled:
            root = (rule.pick(tree, rows, sim, _puct_act(tree, rows, np.full(rows.size, ROOT),
                                                          c_puct)) if rule.picks else None)
            kernels.simulate(tree, rows, evaluate, c_puct, cfg.fpu_reduction, root)
            continue
        descent = select(tree, rule, sim, c_puct, rows)
        leaf_value = expand(tree, descent, evaluate, cfg.fpu_reduction)
        backup(tree, descent, leaf_value)
    q = tree.root_q()
    policy, move = rule.finish(tree, q)
    return SearchResult(visits=tree.edge_n[:, ROOT].copy(), policy=policy, move=move,
                        root_value=rule.root_value(tree), q=q,
                        prior=tree.prior[:, ROOT].copy(), tree=tree)


def uses_compiled(cfg: MCTSConfig) -> bool:
    """Whether ``search`` runs its simulations with the compiled step (``kernels``): asked
    for and numba installed. Any root rule: one that ``picks`` chooses each root move."""
    return cfg.compiled and kernels.AVAILABLE


def tree_step(cfg: MCTSConfig) -> str:
    """How ``search`` runs a simulation under ``cfg``: ``compiled`` or ``numpy``."""
    return "compiled" if uses_compiled(cfg) else "numpy"


def _check_reusable(tree: Tree, boards: Boards, cfg: MCTSConfig) -> None:
    """Raise unless ``tree`` can be searched on from ``boards`` (PUCT, the same roots)."""
    if cfg.root_selection != "puct":
        raise ValueError("subtree reuse needs PUCT roots (Gumbel's schedule starts at 0 visits)")
    kept = tree.node_n[:, ROOT] > 0
    if len(tree.next_id) != len(boards) or not (
            (tree.own[kept, ROOT] == boards.own[kept]).all()
            and (tree.mask[kept, ROOT] == boards.mask[kept]).all()):
        raise ValueError("the reused trees are not rooted at the positions searched")


def select(tree: Tree, rule: RootRule, sim: int, c_puct: np.float32,
           rows: np.ndarray) -> Descent:
    """Walk the games ``rows`` from the root by ``argmax Q + c * P * sqrt(N) / (1 + n)`` (the
    root rule has the last word at the root) until an unexpanded edge or a terminal node."""
    batch = tree.node_n.shape[0]
    idx, node = rows, np.full(rows.size, ROOT)
    path: list[tuple[np.ndarray, ...]] = []
    leaves: list[tuple[np.ndarray, ...]] = []
    leaf_depth = np.zeros(batch, dtype=np.int64)
    depth = 0
    while idx.size:
        act = _puct_act(tree, idx, node, c_puct)
        if depth == 0:
            act = rule.pick(tree, rows, sim, act)
        path.append((idx, node, act, np.full(idx.size, depth)))
        child = tree.children[idx, node, act]
        stop = (child == UNEXPANDED) | tree.terminal_padded[idx, child]
        if stop.any():
            leaves.append((idx[stop], node[stop], act[stop], child[stop]))
            leaf_depth[idx[stop]] = depth + 1
            keep = ~stop
            idx, node = idx[keep], child[keep]
        else:
            node = child
        depth += 1
    rows, nodes, acts, depths = (np.concatenate(a) for a in zip(*path))
    leaf_rows, leaf_parent, leaf_act, leaf_node = (np.concatenate(a) for a in zip(*leaves))
    return Descent(rows, nodes, acts, depths, leaf_rows, leaf_parent, leaf_act, leaf_node,
                   leaf_depth)


def _puct_act(tree: Tree, idx: np.ndarray, node: np.ndarray, c_puct: np.float32) -> np.ndarray:
    """PUCT's move at nodes ``node`` of games ``idx`` (int [k] each) -> int [k]."""
    n = tree.edge_n[idx, node]
    sqrt_parent = np.sqrt(tree.node_n[idx, node].astype(np.float32))
    score = tree.edge_q[idx, node] + c_puct * tree.prior[idx, node] * (
        sqrt_parent[:, None] / (1 + n))
    return score.argmax(axis=1)


def expand(tree: Tree, d: Descent, evaluate: Evaluate, fpu_reduction: float) -> np.ndarray:
    """Value every searched game's leaf, from its side to move's view, float32 [B] indexed by
    game (rows not searched hold junk).

    An existing terminal leaf keeps its exact value. A new edge creates the game's next node
    (``tree.next_id``): terminal positions take the rules' value, the others are evaluated in
    one network call.
    """
    leaf_value = np.empty(tree.node_n.shape[0], dtype=np.float32)
    old = d.leaf_node != UNEXPANDED
    if old.any():
        r, nd = d.leaf_rows[old], d.leaf_node[old]
        leaf_value[r] = tree.value[r, nd]
        tree.node_n[r, nd] += 1
    new = ~old
    if not new.any():
        return leaf_value
    r, p, a = d.leaf_rows[new], d.leaf_parent[new], d.leaf_act[new]
    node_id = tree.next_id[r]
    tree.next_id[r] += 1
    own, mask, won, full = batch_play(tree.own[r, p], tree.mask[r, p], a, check=False)
    tree.own[r, node_id], tree.mask[r, node_id] = own, mask
    tree.children[r, p, a] = node_id
    term = won | full
    if term.any():
        rt = r[term]
        nt = node_id[term]
        tree.terminal[rt, nt] = True
        # The player who just moved made four: a loss for the new side to move.
        tv = np.where(won[term], -1.0, 0.0).astype(np.float32)
        tree.value[rt, nt] = tv
        tree.node_n[rt, nt] = 1
        leaf_value[rt] = tv
    live = ~term
    if live.any():
        rl = r[live]
        sub = Boards(own[live], mask[live])
        priors, values = evaluate(sub)
        values = np.asarray(values, np.float32)
        tree.init_nodes(rl, node_id[live], priors, values, batch_legal(sub.mask),
                        fpu_reduction)
        leaf_value[rl] = values
    return leaf_value


def backup(tree: Tree, d: Descent, leaf_value: np.ndarray) -> None:
    """Add each game's leaf value along its path: the edge leaving depth k, on a path whose
    leaf is at depth L, gets ``(-1) ** (L - k)`` times it (an edge is valued by the player
    choosing there; the leaf's value is from its own side to move's view)."""
    sign = np.where((d.leaf_depth[d.rows] - d.depth) % 2 == 0, 1.0, -1.0).astype(np.float32)
    r, nd, a = d.rows, d.nodes, d.acts
    tree.edge_n[r, nd, a] += 1
    tree.edge_w[r, nd, a] += sign * leaf_value[r]
    tree.edge_q[r, nd, a] = tree.edge_w[r, nd, a] / tree.edge_n[r, nd, a]
    tree.node_n[r, nd] += 1


class Searcher:
    """``search`` that keeps its last trees: a position met again within two plies of a root it
    searched (its move and the reply) starts from that subtree (``cfg.reuse_tree``, PUCT
    only). For players that see one position after another: arena, evaluation, play. No
    root noise."""

    def __init__(self, evaluate: Evaluate, cfg: MCTSConfig):
        self.evaluate, self.cfg = evaluate, cfg
        self.reuse = cfg.reuse_tree and cfg.root_selection == "puct"
        self._tree: Tree | None = None

    def __call__(self, boards: Boards) -> SearchResult:
        tree = None
        if self.reuse and self._tree is not None:
            rows, nodes = self._tree.find(boards.own, boards.mask)
            tree = self._tree.reroot(rows, nodes, self.cfg.num_simulations + 1)
        res = search(boards, self.evaluate, self.cfg, tree=tree)
        if self.reuse:
            self._tree = res.tree
        return res


def match_config(cfg: MCTSConfig, num_simulations: int) -> MCTSConfig:
    """``cfg`` for playing to win (arena, evaluation, play): no root noise, the given budget."""
    return dataclasses.replace(cfg, num_simulations=num_simulations, dirichlet_fraction=0.0)
