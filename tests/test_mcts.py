"""Batched PUCT search, with fake evaluators and solver-labelled ground truth."""

import dataclasses

import numpy as np
import pytest

from alphazero.core.config import ConfigError, MCTSConfig
from alphazero.rules.game import Boards, State, batch_lost
from alphazero.rules.positions import PONS, load_positions, path_of
from alphazero.search.exploration import apply_temperature, dirichlet_noise, sample_moves
from alphazero.search.mcts import search
from alphazero.search.tree import UNEXPANDED

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
    assert np.all(t.children[t.terminal] == UNEXPANDED)
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


# --- Gumbel root search ---------------------------------------------------------------------

GUMBEL = MCTSConfig(num_simulations=64, root_selection="gumbel")


def test_halving_schedule_is_sequential_halving():
    from alphazero.search.roots import halving_schedule

    for m in range(1, 8):
        for sims in (1, 7, 16, 64, 200):
            table = halving_schedule(m, sims)
            assert len(table) == sims
            # Replay it: the k-th pick goes to an action whose count equals table[k]; the
            # counts that result are those of halving m candidates phase by phase.
            counts = np.zeros(m, int)
            for t in table:
                i = np.flatnonzero(counts == t)
                assert i.size, (m, sims, table)
                counts[i[0]] += 1
            assert counts.sum() == sims
            if sims >= m:
                assert np.all(counts >= 1)  # every considered action is tried at least once
            # Survivors of later phases get more: the count profile never increases.
            assert np.all(np.diff(counts) <= 0)


def test_gumbel_finds_and_blocks_wins_and_targets_them():
    res = run(["121212", "12121"], cfg=GUMBEL)
    assert list(res.move) == [0, 0]
    assert np.all(res.visits.sum(axis=1) == 64)
    # The improved policy moves mass from the uniform prior onto the one good move.
    assert np.all(res.policy.argmax(axis=1) == 0) and np.all(res.policy[:, 0] > 0.5)
    assert np.allclose(res.policy.sum(axis=1), 1, atol=1e-5)


def test_gumbel_considers_only_m_actions_and_noise_picks_them():
    cfg = MCTSConfig(num_simulations=32, root_selection="gumbel", gumbel_considered=2)
    boards = Boards.from_states([State.from_moves("")] * 200)
    g = np.random.default_rng(0).gumbel(size=(200, 7)).astype(np.float32)
    res = search(boards, uniform_evaluator, cfg, gumbel=g)
    assert np.all((res.visits > 0).sum(axis=1) == 2)
    # Uniform prior: the two considered actions are the Gumbel top two, and the winner is one.
    top2 = np.sort(np.argsort(-g, axis=1)[:, :2], axis=1)
    assert np.array_equal(np.sort(np.argsort(-res.visits, axis=1)[:, :2], axis=1), top2)
    assert np.all((res.move == top2[:, 0]) | (res.move == top2[:, 1]))
    # Without noise the search is deterministic.
    few = Boards(boards.own[:3], boards.mask[:3])
    a = search(few, hashed_evaluator, GUMBEL)
    b = search(few, hashed_evaluator, GUMBEL)
    assert np.array_equal(a.visits, b.visits) and np.array_equal(a.move, b.move)


def test_gumbel_policy_is_prior_when_q_is_flat():
    # Values all 0 and no terminal in reach: completed q is flat, so the target is the prior.
    def flat_values(boards):
        return hashed_evaluator(boards)[0], np.zeros(len(boards), np.float32)

    res = run(["", "44"], flat_values, cfg=MCTSConfig(num_simulations=3, root_selection="gumbel"))
    pri, _ = hashed_evaluator(Boards.from_states([State.from_moves(m) for m in ["", "44"]]))
    assert np.allclose(res.policy, pri, atol=1e-5)


def test_gumbel_search_beats_random_play_on_solved_endgames():
    positions = [p for p in load_positions(path_of(PONS)) if p.set == "Test_L3_R1"][:500]
    boards = Boards.from_states([p.state for p in positions])
    res = search(boards, uniform_evaluator, MCTSConfig(num_simulations=400,
                                                       root_selection="gumbel"))
    rate = _mistake_rate(positions, res.move)
    random_rate = np.mean([p.mistake_mask().sum() / sum(s is not None for s in p.scores)
                           for p in positions])
    print(f"end-game mistakes: gumbel {rate:.3f}, random {random_rate:.3f}")
    assert rate < 0.5 * random_rate


def test_gumbel_policy_target_is_softmax_of_logits_plus_sigma_q():
    """Seven simulations from the empty board visit each column once (uniform prior, all
    seven considered); the target is then softmax(log prior + (c_visit + 1) * c_scale *
    (q + 1) / 2) with q = minus the child's network value, computed here independently."""
    cfg = MCTSConfig(num_simulations=7, root_selection="gumbel", gumbel_c_visit=50.0,
                     gumbel_c_scale=0.1)
    res = run([""], hashed_evaluator, cfg=cfg)
    assert np.array_equal(res.visits[0], np.ones(7))
    pri, _ = hashed_evaluator(Boards.from_states([State()]))
    children = Boards.from_states([State().play(c) for c in range(7)])
    q = -hashed_evaluator(children)[1]
    assert np.allclose(res.q[0], q, atol=1e-6)
    logits = np.log(pri[0]) + (50.0 + 1) * 0.1 * (q + 1) / 2
    want = np.exp(logits - logits.max())
    assert np.allclose(res.policy[0], want / want.sum(), atol=1e-5)
    # The move played (no noise) is the best of the final two by the same score.
    assert res.move[0] == np.argmax(np.where(res.visits[0] == res.visits[0].max(), logits,
                                             -np.inf))


def one_good_column_evaluator(boards: Boards):
    """Priors peaked on column 4 (index 3); the side to move is lost (-0.8) when the
    opponent holds the bottom of column 4, and ahead (0.8) otherwise, at any depth."""
    priors = np.full((len(boards), 7), 0.01, np.float32)
    priors[:, 3] = 0.94
    bottom = np.uint64(1 << 21)
    theirs = ((boards.mask & ~boards.own) & bottom) != 0
    return priors, np.where(theirs, -0.8, 0.8).astype(np.float32)


FORCED = MCTSConfig(num_simulations=200, forced_playouts=2.0)


def noised_root_search(cfg, seed=0):
    boards = Boards.from_states([State.from_moves("")])
    noise = dirichlet_noise(np.ones((1, 7), bool), 1.0, [np.random.default_rng(seed)])
    return search(boards, one_good_column_evaluator, cfg, root_noise=noise)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forced_playouts_give_every_noised_root_move_its_share(seed):
    """Every root move gets about sqrt(k * P * N) visits (P with the noise), which plain PUCT
    does not give the moves it values badly."""
    forced, plain = (noised_root_search(c, seed)
                     for c in (FORCED, dataclasses.replace(FORCED, forced_playouts=0.0)))
    share = np.floor(np.sqrt(2.0 * forced.prior[0] * 200)) - 1
    assert (forced.visits[0] >= share).all(), (forced.visits[0], share)
    assert (plain.visits[0] < share).any(), (plain.visits[0], share)
    assert forced.visits[0].sum() == 200


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_policy_target_pruning_takes_the_forced_visits_out(seed):
    """The target keeps the best move's visits and takes the forced ones out of the others:
    what is left of a bad move is no more than plain PUCT gave it, and none is added."""
    res = noised_root_search(FORCED, seed)
    plain = noised_root_search(dataclasses.replace(FORCED, forced_playouts=0.0), seed)
    visits, policy = res.visits[0], res.policy[0]
    assert policy.sum() == pytest.approx(1.0)
    assert policy.argmax() == visits.argmax() == 3
    kept = policy * visits[3] / policy[3]  # the pruned counts behind the target
    assert (kept <= visits + 1e-3).all()
    bad = np.arange(7) != 3
    assert visits[bad].sum() >= 12  # looked at ...
    assert (kept[bad] <= plain.visits[0][bad] + 1e-3).all()  # ... then taken out again
    assert kept[bad].sum() <= visits[bad].sum() / 4


def test_policy_target_pruning_by_hand():
    """KataGo's rule on a root built by hand (c_puct 2, k 2, N 134): c* = column 1 keeps its
    100 visits (PUCT 0.5 + 2 * 0.5 * sqrt(135) / 101 = 0.615); column 2 loses its 7 forced
    visits but stops at 14, where its PUCT would reach c*'s; column 3 loses all 5 forced; column
    4 is left with 1 and dropped; column 5's bound (2 visits) keeps it whole. The root value
    averages the kept visits only."""
    from alphazero.search.roots import ForcedPuctRoot
    from alphazero.search.tree import ROOT, Tree

    n = np.array([100, 20, 9, 3, 2, 0, 0])
    q = np.array([0.5, 0.3, -0.5, -0.9, 0.2, 0, 0])
    t = Tree.allocate(1, 4)
    t.node_n[0, ROOT] = 1 + n.sum()
    t.edge_n[0, ROOT], t.edge_w[0, ROOT] = n, n * q
    t.prior[0, ROOT] = [0.5, 0.2, 0.1, 0.1, 0.1, 0, 0]
    t.value[0, ROOT] = 0.1
    rule = ForcedPuctRoot(0.25, np.zeros((1, 7), np.float32), 2.0, 2.0)
    policy, best = rule.finish(t, t.root_q())
    assert best[0] == 0
    assert np.allclose(policy[0] * 120, [100, 14, 4, 0, 2, 0, 0], atol=1e-4)
    assert rule.root_value(t)[0] == pytest.approx((0.1 + 50 + 4.2 - 2 + 0.4) / 121)


def test_forced_playouts_need_noise_and_puct_roots():
    for bad, word in ((dict(forced_playouts=-1.0), ">= 0"),
                      (dict(forced_playouts=2.0, dirichlet_fraction=0.0), "dirichlet_fraction"),
                      (dict(forced_playouts=2.0, root_selection="gumbel"), "puct")):
        with pytest.raises(ConfigError, match=word):
            MCTSConfig(**bad).validate()


def test_forced_playouts_leave_unnoised_searches_alone():
    """Arena and play (no root noise) search exactly as without the switch."""
    boards = Boards.from_states([State.from_moves(m) for m in ("", "4453", "121212")])
    a, b = (search(boards, hashed_evaluator, c)
            for c in (FORCED, dataclasses.replace(FORCED, forced_playouts=0.0)))
    assert np.array_equal(a.visits, b.visits) and np.array_equal(a.policy, b.policy)
