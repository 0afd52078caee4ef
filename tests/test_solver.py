"""The perfect solver (optional extra) against the solver-labelled positions, and perfect play
against itself: the first player wins every game."""

import random

import pytest

from alphazero import solver
from alphazero.arena import SolverPlayer, play_match
from alphazero.positions import PONS, load_positions, path_of

pytestmark = pytest.mark.skipif(not solver.available(), reason="solver extra not installed")


def test_solver_scores_match_the_labelled_positions():
    positions = load_positions(path_of(PONS))
    for p in random.Random(1).sample(positions, 40):
        assert solver.scores(p.state) == list(p.scores), p.moves


def test_perfect_play_wins_every_game_it_starts():
    r = play_match(SolverPlayer(1), SolverPlayer(2), games=4, opening_plies=0, seed=0)
    colours = r.by_colour()
    assert colours["first"]["wins"] == 2 and colours["second"]["losses"] == 2
