"""The compiled simulation step (numba) grows exactly the trees of the numpy reference steps."""

import dataclasses

import numpy as np
import pytest

from alphazero.core.config import MCTSConfig, SelfPlayConfig
from alphazero.rules.game import Boards, State, batch_legal
from alphazero.rules.positions import PONS, load_positions, path_of
from alphazero.search import kernels
from alphazero.search.exploration import dirichlet_noise
from alphazero.search.mcts import Searcher, search, uses_compiled
from alphazero.search.tree import NODE_ARRAYS
from alphazero.stages.selfplay import play_games

from .fakes import hashed_evaluator, uniform_evaluator

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

COMPILED = MCTSConfig(num_simulations=150)
NUMPY = dataclasses.replace(COMPILED, compiled=False)


def assert_same_trees(a, b):
    for name in (*NODE_ARRAYS, "terminal", "next_id"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_the_switch_picks_the_step():
    assert uses_compiled(COMPILED) and not uses_compiled(NUMPY)
    # The root rule's hooks hold for the compiled step: Gumbel's roots run it too.
    assert uses_compiled(dataclasses.replace(COMPILED, root_selection="gumbel"))


@pytest.mark.parametrize("evaluate", [hashed_evaluator, uniform_evaluator])
def test_same_trees_as_numpy_on_openings_and_endgames(evaluate):
    # Openings, forced wins and blocks, near-full boards, and 60 solver-labelled positions of
    # every set; with root noise, and ties everywhere under the uniform evaluator.
    moves = ["", "4", "121212", "12121", "445566", "1111112222227", "334455"]
    states = [State.from_moves(m) for m in moves]
    states += [p.state for p in load_positions(path_of(PONS))[::100]]
    boards = Boards.from_states(states)
    noise = dirichlet_noise(batch_legal(boards.mask), 1.0,
                            [np.random.default_rng(i) for i in range(len(states))])
    a = search(boards, evaluate, COMPILED, root_noise=noise)
    b = search(boards, evaluate, NUMPY, root_noise=noise)
    assert_same_trees(a.tree, b.tree)
    assert np.array_equal(a.policy, b.policy) and np.array_equal(a.move, b.move)


@pytest.mark.parametrize("noised", [False, True])
def test_same_trees_as_numpy_under_gumbel_roots(noised):
    """The root rule that picks (sequential halving) picks the same root moves for the
    compiled step as for numpy's, and the trees below agree bit for bit."""
    states = [State.from_moves(m) for m in ("", "4", "121212", "445566", "334455")]
    states += [p.state for p in load_positions(path_of(PONS))[::300]]
    boards = Boards.from_states(states)
    gumbel = (np.random.default_rng(1).gumbel(size=(len(states), 7)).astype(np.float32)
              if noised else None)
    a, b = (search(boards, hashed_evaluator, dataclasses.replace(c, root_selection="gumbel",
                                                                  num_simulations=64),
                   gumbel=gumbel) for c in (COMPILED, NUMPY))
    assert_same_trees(a.tree, b.tree)
    assert np.array_equal(a.policy, b.policy) and np.array_equal(a.move, b.move)
    assert a.visits.sum(axis=1).tolist() == [64] * len(states)


def test_same_games_in_self_play_with_subtree_reuse():
    sp = SelfPlayConfig(parallel_games=6, temperature_moves=4, seed=3)
    cfg = dataclasses.replace(COMPILED, num_simulations=40)
    games = [list(play_games(hashed_evaluator, c, sp, range(6)))
             for c in (cfg, dataclasses.replace(cfg, compiled=False))]
    for x, y in zip(*games):
        assert x.moves == y.moves
        assert np.array_equal(x.samples.policies, y.samples.policies)
        assert np.array_equal(x.samples.root_values, y.samples.root_values)


def test_same_trees_when_a_searcher_reuses_them():
    players = [Searcher(hashed_evaluator, c) for c in (COMPILED, NUMPY)]
    state = State()
    for col in (3, 3, 2, 4, 1):
        a, b = (p(Boards.from_states([state])) for p in players)
        assert_same_trees(a.tree, b.tree)
        state = state.play(col)


def test_same_trees_as_numpy_under_forced_playouts():
    """Forced playouts pick root moves in Python for both steps: the same trees and targets."""
    states = [State.from_moves(m) for m in ("", "4", "445566", "334455")]
    boards = Boards.from_states(states)
    noise = dirichlet_noise(batch_legal(boards.mask), 1.0,
                            [np.random.default_rng(i) for i in range(len(states))])
    a, b = (search(boards, hashed_evaluator, dataclasses.replace(c, forced_playouts=2.0),
                   root_noise=noise) for c in (COMPILED, NUMPY))
    assert_same_trees(a.tree, b.tree)
    assert np.array_equal(a.policy, b.policy) and np.array_equal(a.move, b.move)
