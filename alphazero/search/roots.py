"""Root rules: how the search treats its root, plugged into ``mcts.search`` by three hooks.

* ``prepare(priors, legal) -> priors``: before the root is stored (noise goes in here);
* ``pick(tree, rows, sim, act) -> act``: the root action of simulation ``sim`` in the games
  ``rows``, given PUCT's choice;
* ``finish(tree, q) -> (policy, best)``: the policy target and the move to play, given
  the root's edge Q ``[B, 7]``;
* ``root_value(tree) -> value``: the root search value ``[B]`` reported (after ``finish``).

``PuctRoot`` is AlphaZero's: Dirichlet noise mixed into the priors, PUCT at the root as below
it, the visit distribution as target, the most visited move to play; with ``forced_playouts``
it adds KataGo's forced playouts and policy-target pruning at noised roots (Wu, "Accelerating
Self-Play Learning in Go", 2019, section 3.1). ``GumbelRoot`` is Gumbel
sequential halving (Danihelka et al., "Policy improvement by planning with Gumbel", ICLR 2022):
the root samples ``m`` actions without replacement by Gumbel-top-k on the prior logits, splits
the budget over phases that halve the candidates, and ranks them by ``g + logits + sigma(q)``;
the target is ``softmax(logits + sigma(completed q))``, which improves on the prior even with a
handful of simulations.
"""

from __future__ import annotations

import functools
import math
from typing import Protocol

import numpy as np

from alphazero.core.config import MCTSConfig
from alphazero.rules.game import COLS
from alphazero.search.tree import ROOT, Tree


class RootRule(Protocol):
    """The root's say in a search: ``prepare`` the root priors [B, 7] before the simulations
    (noise), ``pick`` the root move of simulation ``sim`` for the games ``rows`` given PUCT's
    choice ``act`` int [k], and ``finish``: the policy target [B, 7] and the move [B].
    ``picks``: False when ``pick`` always returns ``act``; the search then lets the compiled
    step choose at the root too, instead of asking ``pick`` every simulation."""

    picks: bool

    def prepare(self, priors: np.ndarray, legal: np.ndarray) -> np.ndarray: ...

    def pick(self, tree: Tree, rows: np.ndarray, sim: int, act: np.ndarray) -> np.ndarray: ...

    def finish(self, tree: Tree, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def root_value(self, tree: Tree) -> np.ndarray: ...


def root_rule(cfg: MCTSConfig, sims: int, root_noise: np.ndarray | None,
              gumbel: np.ndarray | None) -> RootRule:
    """The rule ``cfg.root_selection`` names, with this search's noise (see ``mcts.search``)."""
    if cfg.root_selection == "gumbel":
        return GumbelRoot(cfg, sims, gumbel)
    if root_noise is not None and cfg.forced_playouts > 0 and cfg.dirichlet_fraction > 0:
        return ForcedPuctRoot(cfg.dirichlet_fraction, root_noise, cfg.forced_playouts,
                              cfg.c_puct)
    return PuctRoot(cfg.dirichlet_fraction, root_noise)


def most_visited(visits: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The most visited column per row; ties go to the better mean value, then the lower
    column. visits [B, 7], q [B, 7] (NaN where unvisited) -> int [B]."""
    q = np.nan_to_num(q, nan=-2.0)
    key = visits.astype(np.float64) + (q + 2.0) / 8.0  # q in [-1, 1] never outweighs a visit
    return key.argmax(axis=1)


class PuctRoot:
    """AlphaZero's root: ``(1 - eps) * prior + eps * noise`` with ``noise`` float [B, 7]
    (None = no noise: arena, play)."""

    picks = False

    def __init__(self, fraction: float, noise: np.ndarray | None):
        self.fraction, self.noise = fraction, noise

    def prepare(self, priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
        if self.noise is None or self.fraction <= 0:
            return priors
        eps = self.fraction
        return ((1 - eps) * priors + eps * np.where(legal, self.noise, 0.0)).astype(np.float32)

    def pick(self, tree: Tree, rows: np.ndarray, sim: int, act: np.ndarray) -> np.ndarray:
        return act

    def finish(self, tree: Tree, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        visits = tree.edge_n[:, ROOT]
        policy = (visits / np.maximum(visits.sum(axis=1, keepdims=True), 1)).astype(np.float32)
        return policy, most_visited(visits, q)

    def root_value(self, tree: Tree) -> np.ndarray:
        return tree.root_value()


class ForcedPuctRoot(PuctRoot):
    """A noised PUCT root with forced playouts and policy-target pruning (KataGo).

    Every root move c with prior P(c) (noise included) is searched at least
    ``sqrt(k * P(c) * N)`` times, N the root's visits so far, so the noise's picks get a real
    look. The target then takes those visits back out: from every move but the most visited
    c*, up to that many visits are removed as long as its PUCT score stays below c*'s, and a
    move left with one visit or none gets zero. The move drawn in self-play uses the same
    pruned counts (``finish``'s policy), so a forced look does not become a move played, and
    so does the root value reported (the value target's q).
    """

    picks = True

    def __init__(self, fraction: float, noise: np.ndarray, k: float, c_puct: float):
        super().__init__(fraction, noise)
        self.k, self.c_puct = k, c_puct

    def pick(self, tree: Tree, rows: np.ndarray, sim: int, act: np.ndarray) -> np.ndarray:
        n = tree.edge_n[rows, ROOT]
        deficit = self._forced(tree.prior[rows, ROOT], n.sum(axis=1, keepdims=True)) - n
        return np.where((deficit > 0).any(axis=1), deficit.argmax(axis=1), act)

    def finish(self, tree: Tree, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = tree.edge_n[:, ROOT].astype(np.float64)
        prior = tree.prior[:, ROOT].astype(np.float64)
        best = most_visited(n, q)
        rows = np.arange(len(n))
        q0 = np.nan_to_num(q, nan=-1.0).astype(np.float64)
        explore = self.c_puct * prior * np.sqrt(tree.node_n[:, ROOT].astype(np.float64))[:, None]
        puct_best = (q0 + explore / (1 + n))[rows, best]
        # The fewest visits that keep c's PUCT score below c*'s: 1 + n' >= explore / gap.
        gap = puct_best[:, None] - q0
        floor = np.where(gap > 0, np.ceil(explore / np.maximum(gap, 1e-12) - 1), n)
        forced = np.floor(self._forced(prior, n.sum(axis=1, keepdims=True)))
        kept = np.clip(np.maximum(n - forced, floor), 0, n)
        kept[kept <= 1] = 0
        kept[rows, best] = n[rows, best]
        self.kept = kept
        policy = (kept / np.maximum(kept.sum(axis=1, keepdims=True), 1)).astype(np.float32)
        return policy, best

    def root_value(self, tree: Tree) -> np.ndarray:
        """The root value over the kept visits only: the forced looks at moves the target
        drops would pull the value target toward them."""
        n = tree.edge_n[:, ROOT]
        q = np.where(n > 0, tree.edge_w[:, ROOT] / np.maximum(n, 1), 0.0)
        total = tree.value[:, ROOT] + (self.kept * q).sum(axis=1)
        return (total / (1 + self.kept.sum(axis=1))).astype(np.float32)

    def _forced(self, prior: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Forced visits sqrt(k * P * N): prior [k, 7], total [k, 1] -> float [k, 7]."""
        return np.sqrt(self.k * prior * total)


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


def _argmax_allowed(score: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Row-wise argmax of ``score`` over ``allowed``; rows with nothing allowed fall back to the
    plain argmax (cannot happen under the schedule, kept as a guard)."""
    masked = np.where(allowed, score, -np.inf)
    ok = np.isfinite(masked).any(axis=1)
    return np.where(ok, masked.argmax(axis=1), score.argmax(axis=1))


class GumbelRoot:
    """Gumbel sequential halving; ``gumbel`` float [B, 7] standard Gumbel samples (None =
    zeros: deterministic, for playing to win). Dirichlet noise does not apply."""

    picks = True

    def __init__(self, cfg: MCTSConfig, sims: int, gumbel: np.ndarray | None):
        self.cfg, self.sims, self.gumbel = cfg, sims, gumbel

    def prepare(self, priors: np.ndarray, legal: np.ndarray) -> np.ndarray:
        self.priors, self.legal = priors, legal
        self.logits = np.where(legal, np.log(np.maximum(priors, 1e-12)), -np.inf).astype(
            np.float32)
        self.g_logits = self.logits + (0.0 if self.gumbel is None
                                       else np.asarray(self.gumbel, np.float32))
        considered = np.minimum(legal.sum(axis=1), self.cfg.gumbel_considered)
        tables = np.stack([halving_schedule(m, self.sims) for m in range(COLS + 1)])
        self.targets = tables[considered]  # [B, sims]
        return priors

    def pick(self, tree: Tree, rows: np.ndarray, sim: int, act: np.ndarray) -> np.ndarray:
        allowed = tree.edge_n[rows, ROOT] == self.targets[rows, sim, None]
        return _argmax_allowed((self.g_logits + self._sigma_completed_q(tree))[rows], allowed)

    def finish(self, tree: Tree, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sq = self._sigma_completed_q(tree)
        improved = self.logits + sq
        improved = np.exp(improved - improved.max(axis=1, keepdims=True))
        policy = (improved / improved.sum(axis=1, keepdims=True)).astype(np.float32)
        visits = tree.edge_n[:, ROOT]
        best = _argmax_allowed(self.g_logits + sq,
                               self.legal & (visits == visits.max(axis=1, keepdims=True)))
        return policy, best

    def root_value(self, tree: Tree) -> np.ndarray:
        return tree.root_value()

    def _sigma_completed_q(self, tree: Tree) -> np.ndarray:
        """``sigma(completed q)`` at the roots, float32 [B, 7] (-inf on illegal columns).

        Unvisited actions take the mixed value: the network's root value blended with the
        prior-weighted mean q of the visited actions. Values are mapped from [-1, 1] to [0, 1]
        (the game's own bounds; a min-max rescale over the root's children would stretch a
        0.01 difference to the full range and make every target one-hot, which collapsed
        self-play in our A/B), then scaled by ``(c_visit + max visits) * c_scale``.
        """
        prior, cfg = self.priors, self.cfg
        n = tree.edge_n[:, ROOT].astype(np.float32)
        visited = n > 0
        q = np.where(visited, tree.edge_w[:, ROOT] / np.maximum(n, 1), 0.0)
        p_vis = (prior * visited).sum(axis=1)
        weighted = (prior * q * visited).sum(axis=1) / np.maximum(p_vis, 1e-12)
        sum_n = n.sum(axis=1)
        root_net_value = tree.value[:, ROOT]
        v_mix = np.where(p_vis > 0, (root_net_value + sum_n * weighted) / (1 + sum_n),
                         root_net_value)
        completed = np.where(visited, q, v_mix[:, None])
        norm = (completed + 1.0) / 2.0
        scale = (cfg.gumbel_c_visit + n.max(axis=1, keepdims=True)) * cfg.gumbel_c_scale
        return np.where(self.legal, scale * norm, -np.inf).astype(np.float32)
