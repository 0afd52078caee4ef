"""The shipped checkpoint: loads on CPU through the default lookup, matches its config, and
plays far better than the reference opponents it was never trained against."""

from pathlib import Path

import pytest

from alphazero.core.config import load as load_config
from alphazero.nn.checkpoint import default_path as default_checkpoint
from alphazero.nn.checkpoint import load
from alphazero.nn.inference import make_evaluator
from alphazero.search.mcts import match_config
from alphazero.stages.arena import GreedyPlayer, MCTSPlayer, play_match

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"


def test_shipped_checkpoint_is_found_and_matches_its_config():
    assert Path(default_checkpoint()).resolve() == (SHIPPED / "best.pt").resolve()
    cfg = load_config(SHIPPED / "config.yaml")
    ck = load(default_checkpoint(), "cpu", expect=cfg.net)
    assert ck.iteration > 0  # a trained net, not the initial one
    assert ck.optimizer is not None  # what --init-from needs to continue its training


@pytest.mark.slow
def test_shipped_checkpoint_beats_greedy():
    ck = load(SHIPPED / "best.pt", "cpu")
    player = MCTSPlayer(make_evaluator(ck.net, "cpu"), match_config(load_config(
        SHIPPED / "config.yaml").mcts, 32))
    r = play_match(player, GreedyPlayer(seed=1), games=20, opening_plies=2, seed=5)
    assert r.score >= 0.9, r.summary()
