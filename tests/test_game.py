"""Rules engine against ground truth: perft counts, OEIS A212693, batch vs single, OpenSpiel."""

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphazero.rules.game import (
    BOARD_MASK,
    COLS,
    Boards,
    IllegalMoveError,
    State,
    batch_legal,
    batch_lost,
    batch_mirror,
    batch_play,
    mirror_bits,
)

PERFT = [1, 7, 49, 343, 2401, 16807, 117649, 823536]
DISTINCT = [1, 7, 49, 238, 1120, 4263, 16422, 54859, 184275]  # OEIS A212693
TERMINAL = {7: 728, 8: 1892}


def perft_single(state: State, depth: int) -> int:
    if depth == 0:
        return 1
    if state.is_terminal():
        return 0
    return sum(perft_single(state.play(c), depth - 1) for c in state.legal_moves())


def expand(own, mask, dedupe):
    """All children of the non-terminal positions in (own, mask), optionally deduplicated."""
    live = ~batch_lost(own, mask) & (mask != np.uint64(BOARD_MASK))
    own, mask = own[live], mask[live]
    legal = batch_legal(mask)
    rows, cols = np.nonzero(legal)
    o, m, _, _ = batch_play(own[rows], mask[rows], cols)
    if dedupe:
        _, first = np.unique(o + m, return_index=True)  # own + mask: unique per position (Pons)
        o, m = o[first], m[first]
    return o, m


def test_perft_single_engine_small_depths():
    assert [perft_single(State(), n) for n in range(6)] == PERFT[:6]


def test_perft_batched_engine():
    own = mask = np.zeros(1, dtype=np.uint64)
    counts = [1]
    for _ in range(7):
        own, mask = expand(own, mask, dedupe=False)
        counts.append(len(own))
    assert counts == PERFT


def test_distinct_positions_and_terminals():
    own = mask = np.zeros(1, dtype=np.uint64)
    counts, terminals = [1], {}
    for n in range(1, 9):
        own, mask = expand(own, mask, dedupe=True)
        counts.append(len(own))
        terminals[n] = int(batch_lost(own, mask).sum())
    assert counts == DISTINCT
    assert terminals[7] == TERMINAL[7] and terminals[8] == TERMINAL[8]
    assert all(terminals[n] == 0 for n in range(1, 7))


def _random_game(rng: random.Random):
    s, moves, history = State(), [], []
    while not s.is_terminal():
        history.append((s.legal_moves(), s.result()))
        c = rng.choice(s.legal_moves())
        moves.append(c)
        s = s.play(c)
    return moves, s, history


def test_batched_agrees_with_single_on_10000_random_games():
    rng = random.Random(1234)
    n = 10_000
    games = [_random_game(rng) for _ in range(n)]
    longest = max(len(m) for m, _, _ in games)
    own = np.zeros(n, dtype=np.uint64)
    mask = np.zeros(n, dtype=np.uint64)
    won_at = np.full(n, -1)
    for ply in range(longest):
        playing = np.array([ply < len(m) for m, _, _ in games])
        idx = np.nonzero(playing)[0]
        legal = batch_legal(mask[idx])
        expected = np.zeros_like(legal)
        for j, i in enumerate(idx):
            expected[j, games[i][2][ply][0]] = True
        assert np.array_equal(legal, expected)
        cols = np.array([games[i][0][ply] for i in idx])
        o, m, won, full = batch_play(own[idx], mask[idx], cols)
        own[idx], mask[idx] = o, m
        won_at[idx[won]] = ply + 1
    for i, (moves, final, _) in enumerate(games):
        assert final.own == int(own[i]) and final.mask == int(mask[i])
        if final.lost:
            assert won_at[i] == len(moves)
        else:
            assert won_at[i] == -1 and final.mask == BOARD_MASK
    assert np.array_equal(batch_lost(own, mask), np.array([g[1].lost for g in games]))


def test_illegal_moves_raise():
    s = State.from_moves("111111")
    with pytest.raises(IllegalMoveError, match="column 1 is full"):
        s.play(0)
    with pytest.raises(IllegalMoveError, match="out of range"):
        s.play(7)
    with pytest.raises(IllegalMoveError, match="out of range"):
        s.play(-1)
    won = State.from_moves("1212121")
    assert won.result() == -1 and won.legal_moves() == []
    with pytest.raises(IllegalMoveError, match="game is over"):
        won.play(3)
    with pytest.raises(IllegalMoveError, match="move 3"):
        State.from_moves("12a")
    with pytest.raises(IllegalMoveError):
        batch_play(np.zeros(1, np.uint64), np.array([s.mask], np.uint64), np.array([0]))


def test_results_and_render():
    # Horizontal, vertical and both diagonal wins end the game with a loss for the side to move.
    for moves in ("1122334", "1212121", "12233434474", "76655454414"):
        s = State.from_moves(moves)
        assert s.result() == -1, moves
        assert not State.from_moves(moves[:-1]).is_terminal()
    # A full-board draw, found by random play and confirmed by OpenSpiel.
    draw = State.from_moves("442761225377252342545563474175371666631311")
    assert draw.result() == 0 and draw.ply == 42
    board = State.from_moves("44").render().splitlines()
    assert board[-2] == ". . . X . . ." and board[-3] == ". . . O . . ."


def test_mirror_is_an_involution_and_matches_mirrored_moves():
    rng = random.Random(7)
    for _ in range(200):
        moves, _, _ = _random_game(rng)
        k = rng.randrange(len(moves))
        s = State.from_moves("".join(str(c + 1) for c in moves[:k]))
        m = State.from_moves("".join(str(COLS - c) for c in moves[:k]))
        assert s.mirror() == m and s.mirror().mirror() == s
        assert int(batch_mirror(np.array([s.own], np.uint64))[0]) == mirror_bits(s.own)


def test_boards_round_trip():
    states = [State.from_moves(m) for m in ("", "4", "4453", "1212121")]
    b = Boards.from_states(states)
    assert [b.state(i) for i in range(len(b))] == states


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=60))
def test_any_move_sequence_single_and_batched_agree(cols):
    """Property: for any column sequence, both engines accept the same legal prefix, reach the
    same bitboards and agree on wins; the mirrored sequence gives the mirrored position."""
    s, m = State(), State()
    own = np.zeros(1, np.uint64)
    mask = np.zeros(1, np.uint64)
    for c in cols:
        if not s.is_legal(c):
            with pytest.raises(IllegalMoveError):
                s.play(c)
            continue
        s, m = s.play(c), m.play(6 - c)
        own, mask, won, full = batch_play(own, mask, np.array([c]))
        assert (int(own[0]), int(mask[0]), bool(won[0])) == (s.own, s.mask, s.lost)
        assert bool(full[0]) == (s.ply == 42)
        assert m == s.mirror()
        if s.is_terminal():
            break


def test_agrees_with_openspiel():
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game("connect_four")
    rng = random.Random(99)
    for _ in range(1000):
        ours, theirs = State(), game.new_initial_state()
        while True:
            assert ours.is_terminal() == theirs.is_terminal()
            if ours.is_terminal():
                ret = theirs.returns()
                # result() is from the side to move's view; the mover just played.
                first_return = ret[0]
                if ours.result() == 0:
                    assert first_return == 0
                else:
                    winner_first = not ours.first_to_move
                    assert first_return == (1 if winner_first else -1)
                break
            assert ours.legal_moves() == list(theirs.legal_actions())
            c = rng.choice(ours.legal_moves())
            ours = ours.play(c)
            theirs.apply_action(c)
