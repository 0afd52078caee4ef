"""Reference opponents, matches, promotion and Elo, judged by rules and solved positions."""

import numpy as np
import pytest

from alphazero.arena import (
    AlphaBetaPlayer, GreedyPlayer, MCTSPlayer, RandomPlayer, elo_from_score, openings,
    play_match, promote, reference_player,
)
from alphazero.config import ArenaConfig, MCTSConfig
from alphazero.game import Boards, State
from alphazero.positions import PONS, load_positions, path_of, score_positions, wilson

from .fakes import uniform_evaluator


def boards(*moves):
    return Boards.from_states([State.from_moves(m) for m in moves])


def test_greedy_wins_then_blocks():
    g = GreedyPlayer(0)
    # O to move must block X's three in column 1.
    assert list(g.select(boards("12121"))) == [0]
    # X to move: its own win in column 1 comes before blocking O's three in column 2.
    assert list(g.select(boards("121212"))) == [0]


def test_alphabeta_finds_a_forced_win_in_two():
    # X holds columns 3 and 4 of the bottom row, O is stacked in column 7. Playing 2 or 5
    # makes an open three with two winning cells that O cannot both block.
    col = int(AlphaBetaPlayer(3, seed=0).select(boards("4737"))[0])
    assert col in (1, 4)


def test_match_alternates_colours_and_counts():
    r = play_match(GreedyPlayer(1), RandomPlayer(2), 40, opening_plies=2, seed=0)
    assert r.n == 40 and r.wins + r.draws + r.losses == 40
    assert r.score > 0.8
    firsts = [len(m) for m, _ in r.games]
    assert len(set(m[:2] for m, _ in r.games)) > 5  # varied openings
    assert all(f >= 7 for f in firsts)
    assert len(openings(20, 2, 0)) == len(set(openings(20, 2, 0)))


def test_promotion_rule_and_elo():
    cfg = ArenaConfig(games=20, threshold=0.55)

    class R:
        def __init__(self, s):
            self.score = s

    assert promote(R(0.55), cfg) and not promote(R(0.54), cfg)
    assert promote(R(0.0), ArenaConfig(gating=False))
    assert elo_from_score(0.5, 10) == 0
    assert abs(elo_from_score(0.76, 100) - 200) < 5
    assert elo_from_score(1.0, 10) < 600
    lo, hi = wilson(5, 100)
    assert lo < 0.05 < hi


def test_search_and_alphabeta_beat_random_on_solved_positions():
    positions = [p for p in load_positions(path_of(PONS)) if p.set == "Test_L2_R1"][:150]
    random_rate = np.mean([p.mistake_mask().sum() / sum(s is not None for s in p.scores)
                           for p in positions])
    ab = score_positions(AlphaBetaPlayer(4), positions)["Test_L2_R1"]
    mc = score_positions(MCTSPlayer(uniform_evaluator, MCTSConfig(num_simulations=300)),
                         positions)["Test_L2_R1"]
    assert ab.n == 150 and ab.rate < 0.5 * random_rate and mc.rate < 0.5 * random_rate


def test_reference_player_specs():
    assert reference_player("alphabeta:2").name == "alphabeta:2"
    with pytest.raises(ValueError):
        reference_player("alphabeta:x")
