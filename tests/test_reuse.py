"""Subtree reuse: a rerooted tree is exactly the chosen child's subtree, and search from it
still finds and blocks wins, tops up to its budget and keeps batch rows independent."""

import numpy as np
import pytest

from alphazero.core.config import MCTSConfig, SelfPlayConfig
from alphazero.rules.game import Boards, State
from alphazero.search.mcts import Searcher, search
from alphazero.search.tree import ROOT, UNEXPANDED
from alphazero.stages.selfplay import play_games

from .fakes import CountingEvaluator, hashed_evaluator, uniform_evaluator

CFG = MCTSConfig(num_simulations=200)


def subtree(t, row, node):
    """Everything the search knows below (row, node), as a nested dict."""
    kids = {a: subtree(t, row, int(c)) for a, c in enumerate(t.children[row, node])
            if c != UNEXPANDED}
    return {"n": int(t.node_n[row, node]), "edge_n": t.edge_n[row, node].tolist(),
            "edge_w": t.edge_w[row, node].tolist(), "edge_q": t.edge_q[row, node].tolist(),
            "prior": t.prior[row, node].tolist(), "value": float(t.value[row, node]),
            "terminal": bool(t.terminal[row, node]),
            "pos": (int(t.own[row, node]), int(t.mask[row, node])), "kids": kids}


def boards(moves_list):
    return Boards.from_states([State.from_moves(m) for m in moves_list])


def test_reroot_carries_exactly_the_childs_statistics():
    res = search(boards(["", "44"]), hashed_evaluator, CFG)
    t = res.tree
    for row in range(2):
        for col in range(7):
            child = int(t.children[row, ROOT, col])
            if child == UNEXPANDED:
                continue
            new = t.reroot(np.array([row]), np.array([child]), CFG.num_simulations + 1)
            assert subtree(new, 0, ROOT) == subtree(t, row, child)
            assert new.next_id[0] == (new.node_n[0] > 0).sum()
            assert new.root_value()[0] == pytest.approx(
                (t.value[row, child] + t.edge_w[row, child].sum()) / t.node_n[row, child])


def test_a_missing_node_gives_a_fresh_tree_that_searches_like_none():
    t = search(boards(["4"]), hashed_evaluator, CFG).tree
    fresh = t.reroot(np.array([0]), np.array([UNEXPANDED]), CFG.num_simulations + 1)
    assert fresh.node_n.sum() == 0
    a = search(boards(["44"]), hashed_evaluator, CFG, tree=fresh)
    b = search(boards(["44"]), hashed_evaluator, CFG)
    assert np.array_equal(a.visits, b.visits)


def test_reused_search_tops_up_to_its_budget_and_asks_the_net_only_for_new_nodes():
    first = search(boards(["4"]), hashed_evaluator, CFG)
    col = int(first.move[0])
    child = int(first.tree.children[0, ROOT, col])
    kept = int(first.tree.edge_n[0, ROOT, col])
    tree = first.tree.reroot(np.array([0]), np.array([child]), CFG.num_simulations + 1)
    ev = CountingEvaluator(hashed_evaluator)
    res = search(boards(["4" + str(col + 1)]), ev, CFG, tree=tree)
    assert res.visits.sum() == CFG.num_simulations
    assert sum(ev.calls) <= CFG.num_simulations - (kept - 1)
    t = res.tree
    live = (t.node_n > 0) & ~t.terminal
    assert np.array_equal(t.node_n[live], 1 + t.edge_n.sum(axis=2)[live])


def searched_after_reuse(moves_list, evaluator=hashed_evaluator, cfg=CFG):
    """Search every position after a ``Searcher`` searched the position two plies earlier."""
    s = Searcher(evaluator, cfg)
    s(boards([m[:-2] for m in moves_list]))
    return s(boards(moves_list))


def test_reuse_finds_win_in_one_and_blocks_it():
    s = Searcher(uniform_evaluator, CFG)
    s(boards(["121"]))
    assert s._tree.find(*boards(["12121"]))[1][0] != UNEXPANDED  # the block is searched reused
    win = searched_after_reuse(["121212"], uniform_evaluator)
    assert win.visits[0].argmax() == 0 and win.q[0, 0] == pytest.approx(1.0)
    block = searched_after_reuse(["12121"], uniform_evaluator)
    assert block.visits[0].argmax() == 0
    others = np.delete(block.q[0], 0)
    assert np.all(others[~np.isnan(others)] < -0.5)


def test_reused_batch_rows_are_independent():
    positions = ["44", "4453", "112233", "3344", "77665", "121212", "1111112222227"]
    together = searched_after_reuse(positions)
    assert together.visits.sum(axis=1).tolist() == [CFG.num_simulations] * len(positions)
    for i, m in enumerate(positions):
        alone = searched_after_reuse([m])
        assert np.array_equal(alone.visits[0], together.visits[i]), m
        assert alone.root_value[0] == pytest.approx(together.root_value[i])


def test_reused_trees_must_match_the_positions():
    t = search(boards(["4"]), hashed_evaluator, CFG).tree
    with pytest.raises(ValueError, match="not rooted"):
        search(boards(["5"]), hashed_evaluator, CFG, tree=t)


def test_self_play_with_reuse_asks_the_net_less_and_keeps_full_targets():
    sp = SelfPlayConfig(games=6, parallel_games=6, seed=3)
    asked = {}
    for reuse in (False, True):
        ev = CountingEvaluator(hashed_evaluator)
        cfg = MCTSConfig(num_simulations=48, reuse_tree=reuse)
        games = list(play_games(ev, cfg, sp, range(6)))
        asked[reuse] = sum(ev.calls)
        assert len(games) == 6
        for g in games:
            assert np.allclose(g.samples.policies.sum(axis=1), 1.0)
            assert State.from_moves("".join(str(c + 1) for c in g.moves)).is_terminal()
    assert asked[True] < 0.8 * asked[False]


def test_rerooting_at_the_root_takes_whole_rows_and_concat_puts_them_back():
    from alphazero.search.tree import Tree

    t = search(boards(["", "4", "44"]), hashed_evaluator, CFG).tree
    taken = t.reroot(np.array([2, 0]), np.full(2, ROOT), 0)
    assert subtree(taken, 0, ROOT) == subtree(t, 2, ROOT)
    assert subtree(taken, 1, ROOT) == subtree(t, 0, ROOT)
    both = Tree.concat([taken, t.reroot(np.array([1]), np.full(1, ROOT), 0)])
    back = both.reroot(np.argsort(np.array([2, 0, 1])), np.full(3, ROOT), 0)
    for row in range(3):
        assert subtree(back, row, ROOT) == subtree(t, row, ROOT)


def test_a_noised_root_is_searched_afresh_unless_told_to_reuse_its_visits():
    from alphazero.stages.selfplay import PlayStats

    sp = SelfPlayConfig(games=6, parallel_games=6, seed=3, full_search_prob=0.5,
                        fast_simulations=8)
    moves = {}
    for keep in (True, False):
        stats = PlayStats()
        cfg = MCTSConfig(num_simulations=32, reuse_noised_root=keep)
        games = list(play_games(hashed_evaluator, cfg, sp, range(6), stats))
        recorded = sum(len(g.samples) for g in games)
        moves[keep] = {g.game_id: g.moves for g in games}
        assert stats.noised_visits >= 32 * recorded  # every full search was noised
        if keep:
            assert 0 < stats.inherited_visits < stats.noised_visits
        else:  # no visit made before the noise; exactly the budget at every noised root
            assert stats.inherited_visits == 0 and stats.noised_visits == 32 * recorded
    assert moves[True] != moves[False]


def test_the_visits_a_noised_root_inherits_are_counted_before_its_search():
    from alphazero.stages.selfplay import PlayStats

    # Every move a full, noised search of 32: the root of move k inherits the subtree of the
    # column played at move k-1, whose visits were that column's share of 32, less the one
    # that expanded it.
    stats = PlayStats()
    sp = SelfPlayConfig(games=6, parallel_games=6, seed=3)
    games = list(play_games(hashed_evaluator, MCTSConfig(num_simulations=32), sp, range(6),
                            stats))
    expected = sum(max(round(g.samples.policies[k - 1][g.moves[k - 1]] * 32) - 1, 0)
                   for g in games for k in range(1, len(g.moves)))
    assert stats.inherited_visits == expected > 0
    assert stats.noised_visits == 32 * sum(len(g.moves) for g in games)
