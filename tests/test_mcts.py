"""Batched PUCT search, with fake evaluators and solver-labelled ground truth."""

import numpy as np
import pytest

from alphazero.config import MCTSConfig
from alphazero.game import Boards, State, batch_lost
from alphazero.mcts import apply_temperature, dirichlet_noise, sample_moves, search
from alphazero.positions import PONS, load_positions, path_of

from .fakes import CountingEvaluator, hashed_evaluator, uniform_evaluator

CFG = MCTSConfig(num_simulations=200)


def run(moves_list, evaluator=uniform_evaluator, cfg=CFG, **kw):
    boards = Boards.from_states([State.from_moves(m) for m in moves_list])
    return search(boards, evaluator, cfg, **kw)


def test_finds_win_in_one():
    # First player has three stacked in column 1 (and the opponent in column 2).
    res = run(["121212"])
    assert res.visits[0].argmax() == 0
    assert res.q[0, 0] == pytest.approx(1.0)  # exact terminal value, not a guess


def test_blocks_win_in_one():
    # Second player to move must block column 1.
    res = run(["12121"])
    assert res.visits[0].argmax() == 0
    # Every other move loses at once to the exact win below it.
    others = np.delete(res.q[0], 0)
    assert np.all(others[~np.isnan(others)] < -0.5)


def test_visit_counts_sum_to_simulations():
    res = run(["", "4", "4453", "1122"], hashed_evaluator)
    assert np.all(res.visits.sum(axis=1) == CFG.num_simulations)
    assert np.allclose(res.policy.sum(axis=1), 1.0)
    # Node visits = 1 (its own evaluation) + visits of its outgoing edges, for every live node.
    t = res.tree
    live = (t.node_n > 0) & ~t.terminal
    assert np.array_equal(t.node_n[live], 1 + t.edge_n.sum(axis=2)[live])


def test_terminal_nodes_are_never_expanded_or_evaluated():
    ev = CountingEvaluator()
    res = run(["121212", "12121", "445566"], ev)
    t = res.tree
    assert t.terminal.any()
    assert np.all(t.children[t.terminal] == 0)
    assert np.all(t.edge_n[t.terminal] == 0)
    # Terminal nodes keep the exact value for their side to move: -1 after a winning move.
    won = batch_lost(t.own[t.terminal], t.mask[t.terminal])
    assert np.all(t.value[t.terminal][won] == -1.0)
    # The evaluator never saw a finished position.
    for own, mask in zip(ev.seen_own, ev.seen_mask):
        assert not batch_lost(own, mask).any()


def test_finished_games_are_refused():
    with pytest.raises(ValueError, match="not over"):
        run(["4455667"])


def test_one_network_call_per_simulation_step():
    ev = CountingEvaluator()
    run(["", "4", "44", "444"], ev, MCTSConfig(num_simulations=30))
    assert len(ev.calls) <= 31 and ev.calls[0] == 4


def test_batch_rows_are_independent():
    positions = ["", "4", "4453", "112233", "3344", "77665", "121212", "111111", "1111112222227"]
    together = run(positions, hashed_evaluator)
    for i, m in enumerate(positions):
        alone = run([m], hashed_evaluator)
        assert np.array_equal(alone.visits[0], together.visits[i]), m
        assert alone.root_value[0] == pytest.approx(together.root_value[i])


def test_root_noise_changes_priors_only_on_legal_moves():
    boards = Boards.from_states([State.from_moves("111111")])
    legal = np.array([[False] + [True] * 6])
    rngs = [np.random.default_rng(0)]
    noise = dirichlet_noise(legal, 0.3, rngs)
    assert noise[0, 0] == 0 and noise.sum() == pytest.approx(1.0)
    res = search(boards, uniform_evaluator, CFG, root_noise=noise)
    assert res.prior[0, 0] == 0 and res.visits[0, 0] == 0
    assert not np.allclose(res.prior[0, 1:], 1 / 6)


def test_temperature_and_sampling():
    visits = np.array([[0, 10, 30, 0, 60, 0, 0]])
    assert np.allclose(apply_temperature(visits, 1.0), visits / 100)
    greedy = apply_temperature(visits, 0.0)
    assert greedy[0, 4] == 1.0
    sharp = apply_temperature(visits, 0.1)
    assert sharp[0, 4] > 0.99 and sharp[0, 0] == 0
    probs = apply_temperature(np.repeat(visits, 4000, axis=0), 1.0)
    u = np.random.default_rng(3).random(4000)
    picks = sample_moves(probs, u)
    assert set(np.unique(picks)) <= {1, 2, 4}
    assert abs((picks == 4).mean() - 0.6) < 0.03


def _mistake_rate(positions, choices):
    return np.mean([p.is_mistake(int(c)) for p, c in zip(positions, choices)])


def test_search_beats_random_play_on_solved_endgames():
    """Uniform priors, zero values, exact terminals: 400 simulations make fewer mistakes than
    random play on Pons' end-game set (Test_L3_R1), judged by the perfect solver's scores."""
    positions = [p for p in load_positions(path_of(PONS)) if p.set == "Test_L3_R1"]
    assert len(positions) == 1000
    boards = Boards.from_states([p.state for p in positions])
    res = search(boards, uniform_evaluator, MCTSConfig(num_simulations=400))
    search_rate = _mistake_rate(positions, res.visits.argmax(axis=1))
    random_rate = np.mean([p.mistake_mask().sum() / sum(s is not None for s in p.scores)
                           for p in positions])
    print(f"end-game mistakes: search {search_rate:.3f}, random {random_rate:.3f}")
    assert search_rate < 0.5 * random_rate
