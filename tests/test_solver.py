"""The perfect solver (optional extra) against the solver-labelled positions, and perfect play
against itself: the first player wins every game."""

import random

import numpy as np
import pytest

from alphazero.rules import solver
from alphazero.rules.game import State
from alphazero.rules.positions import PONS, load_positions, path_of
from alphazero.stages.arena import SolverPlayer, play_match

pytestmark = pytest.mark.skipif(not solver.available(), reason="solver extra not installed")


def test_solver_scores_match_the_labelled_positions():
    positions = load_positions(path_of(PONS))
    for p in random.Random(1).sample(positions, 40):
        assert solver.scores(p.state) == list(p.scores), p.moves


def test_perfect_play_wins_every_game_it_starts():
    r = play_match(SolverPlayer(1), SolverPlayer(2), games=4, opening_plies=0, seed=0)
    colours = r.by_colour()
    assert colours["first"]["wins"] == 2 and colours["second"]["losses"] == 2


def test_breadth_starts_are_labelled_and_perfect_play_keeps_them_all():
    from alphazero.stages.arena import RandomPlayer
    from alphazero.stages.breadth import measure, starts

    jobs = starts(5, seed=3)
    assert jobs == starts(5, seed=3) and jobs != starts(5, seed=4)  # one seed, one set
    assert [v for _, v in jobs] == [1] * 5 + [0] * 5
    assert len({m for m, _ in jobs}) == 10
    for moves, value in jobs:
        state = State.from_moves(moves)
        assert 4 <= state.ply <= 12 and not state.is_terminal()
        assert np.sign(max(s for s in solver.scores(state) if s is not None)) == value
    perfect = measure(SolverPlayer(1), 5, seed=3).as_dict()
    for kind in ("won", "drawn"):
        assert perfect[kind]["games"] == 5 and perfect[kind]["kept_rate"] == 1.0
        assert perfect[kind]["good_move_rate"] == 1.0
    blind = measure(RandomPlayer(1), 5, seed=3).as_dict()
    assert blind["won"]["kept"] + blind["drawn"]["kept"] < 10
    assert blind["won"]["good_move_rate"] < 1.0


def test_verdicts_count_the_movers_own_moves():
    # X to move after 445566 wins at once in 3 or 7; after 44556, O loses to either threat.
    won = solver.scores(State.from_moves("445566"))
    assert solver.verdict(won[2], 6) == {"result": "win", "moves": 1}
    lost = solver.scores(State.from_moves("44556"))
    assert all(solver.verdict(s, 5) == {"result": "loss", "moves": 1} for s in lost)
    # The empty board: the first player wins with its 21st stone, in the middle column only.
    first = solver.scores(State())
    assert solver.verdict(first[3], 0) == {"result": "win", "moves": 21}
    assert solver.verdict(0, 0) == {"result": "draw", "moves": None}


def test_a_slower_win_still_keeps_the_value():
    from alphazero.stages.breadth import Kept, _judge_move

    state = State.from_moves("4455")  # X wins fastest in 3 or 6; 4 and 5 win later
    scores = solver.scores(state)
    assert scores[2] > scores[3] > 0
    tally = Kept()
    for col in (2, 3, 0):  # fastest win, slower win, a loss
        _judge_move(state, col, tally)
    assert (tally.moves, tally.good) == (3, 2)
