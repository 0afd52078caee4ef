"""Reference opponents, matches, promotion and Elo, judged by rules and solved positions."""

import numpy as np
import pytest

from alphazero.core.config import ArenaConfig, MCTSConfig
from alphazero.core.ratings import elo_from_score, fit_elo, match_elo, promotion_verdict, wilson
from alphazero.rules.game import Boards, State
from alphazero.rules.positions import PONS, load_positions, path_of, score_positions
from alphazero.stages.arena import (
    AlphaBetaPlayer,
    GreedyPlayer,
    MCTSPlayer,
    RandomPlayer,
    arena_match,
    openings,
    play_match,
    promotion,
    reference_player,
)

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


def test_promotion_rules_and_match_elo():
    class R:
        def __init__(self, w, d, l):
            self.wins, self.draws, self.losses = w, d, l
            self.score = (w + d / 2) / (w + d + l)

    threshold = ArenaConfig(games=20, threshold=0.55, alpha=0.0)
    assert promotion(R(11, 0, 9), threshold) and not promotion(R(10, 1, 9), threshold)
    assert promotion(R(0, 0, 20), ArenaConfig(gating=False))
    strict = ArenaConfig(games=40, alpha=0.05, parallel_games=40)
    assert promotion(R(30, 0, 10), strict) and not promotion(R(24, 0, 16), strict)
    assert promotion(R(24, 0, 16), strict, final=False) is None  # would play on if it could
    assert elo_from_score(0.5) == 0 and abs(elo_from_score(0.76) - 200) < 5
    lo, hi = wilson(5, 100)
    assert lo < 0.05 < hi
    one_sided = match_elo(20, 0, 0)
    assert one_sided.elo is None and str(one_sided).startswith(">= +")
    assert one_sided.lo < 400  # a bound from the interval, not a clamped point estimate
    even = match_elo(10, 0, 10)
    assert even.elo == 0 and even.lo < 0 < even.hi


def test_gating_equal_players_promotes_within_the_error_rate():
    """Equal players, many matches (each game a fair coin with 20% draws), every look: the
    rule promotes at most alpha of the time. Then real arena matches between two identical
    searchers on a fake evaluator stop early or keep the best as often as they must."""
    rng = np.random.default_rng(0)
    alpha, games, batch = 0.05, 200, 20
    looks = games // batch
    promoted = 0
    trials = 4000
    for _ in range(trials):
        w = d = lo_ = 0
        for k in range(looks):
            out = rng.choice(3, size=batch, p=[0.4, 0.2, 0.4])
            w, d, lo_ = w + (out == 0).sum(), d + (out == 1).sum(), lo_ + (out == 2).sum()
            v = promotion_verdict(w, d, lo_, alpha, looks, final=k == looks - 1)
            if v is not None:
                promoted += v
                break
    rate = promoted / trials
    assert rate <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / trials), rate

    cfg = ArenaConfig(games=16, num_simulations=4, parallel_games=4, alpha=0.05)
    real = [arena_match(uniform_evaluator, uniform_evaluator, cfg, MCTSConfig(), seed=s)
            for s in range(6)]
    assert not any(p for _, p in real)
    assert all(r.n <= 16 and r.n % 2 == 0 for r, _ in real)


def test_fitted_elo_of_a_run_of_equal_nets_stays_within_its_interval():
    """Twenty iterations of nets all as strong as the first: matches against random and
    greedy and between consecutive nets, outcomes drawn at that strength. The last net's
    fitted Elo stays within its 95% interval of the first's, however many it promoted."""
    rng = np.random.default_rng(1)
    matches = []
    for it in range(1, 21):
        for opp, p_win in (("random", 0.9), ("greedy", 0.6)):
            w = int(rng.binomial(20, p_win))
            matches.append((f"iter_{it - 1}", opp, w, 0, 20 - w))
        w = int(rng.binomial(40, 0.5))
        matches.append((f"iter_{it}", f"iter_{it - 1}", w, 0, 40 - w))
    ratings = fit_elo(matches)
    first, last = ratings["iter_0"], ratings["iter_20"]
    assert ratings["random"].elo == 0
    assert last.lo <= first.elo <= last.hi, (first, last)
    assert abs(first.elo - elo_from_score(0.9)) < first.hi - first.lo


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
