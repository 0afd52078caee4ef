"""Configs: YAML is only the serialisation; unknown keys and bad values name the key."""

import pytest

from alphazero.config import Config, ConfigError, describe, dump, load

CONFIGS = ["configs/default.yaml", "configs/paper.yaml", "configs/smoke.yaml"]


@pytest.mark.parametrize("path", CONFIGS)
def test_shipped_configs_load_and_round_trip(path, tmp_path):
    cfg = load(path)
    out = tmp_path / "c.yaml"
    dump(cfg, out)
    assert load(out) == cfg


def test_paper_config_is_the_seed_setup():
    cfg = load("configs/paper.yaml")
    assert cfg.net.preset == "paper" and cfg.mcts.num_simulations == 777
    assert cfg.selfplay.device == "cuda"


def test_every_field_is_documented():
    lines = describe()
    assert all(line.split(": ", 1)[1].strip() for line in lines if line.startswith("  "))


@pytest.mark.parametrize("text,match", [
    ("mcts: {num_simulations: -5}", "mcts.num_simulations"),
    ("selfplay: {games: 0}", "selfplay.games"),
    ("selfplay: {random_opening_moves: 30}", "selfplay.random_opening_moves: 30 is out of range"),
    ("mcts: {num_simulatons: 5}", "unknown config key 'mcts.num_simulatons'"),
    ("bogus: 1", "unknown config key 'bogus'"),
    ("mcts: {c_puct: fast}", "mcts.c_puct: expected float"),
    ("selfplay: {workers: 1.5}", "selfplay.workers: expected int"),
    ("net: {preset: huge}", "net.preset: unknown preset 'huge'"),
    ("mcts: [1, 2]", "mcts: expected a mapping"),
    ("mcts: {num_simulations: 5\n  bad", "not valid YAML at line"),
    ("train: {optimizer: adam}", "train.optimizer"),
    ("arena: {games: 3}", "arena.games"),
    ("pipeline: {eval_opponents: [minimax]}", "unknown opponent 'minimax'"),
])
def test_bad_configs_name_the_key(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load(p)


def test_overrides():
    cfg = load("configs/smoke.yaml", ["mcts.num_simulations=77", "train.mirror=false"])
    assert cfg.mcts.num_simulations == 77 and cfg.train.mirror is False
    with pytest.raises(ConfigError, match="unknown config key 'mcts.sims'"):
        load(None, ["mcts.sims=3"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load(None, ["mcts.num_simulations"])
    with pytest.raises(ConfigError, match="not found"):
        load("configs/nope.yaml")
    assert load(None) == Config()


def test_exponent_floats_and_close_key_suggestions():
    # YAML 1.1 reads 1e-4 as a string; a float field takes it as the number it is.
    cfg = load(None, ["train.weight_decay=1e-4", "train.lr=2E-3"])
    assert cfg.train.weight_decay == 1e-4 and cfg.train.lr == 2e-3
    with pytest.raises(ConfigError, match="expected float"):
        load(None, ["train.lr=fast"])
    with pytest.raises(ConfigError, match="did you mean 'mcts.num_simulations'"):
        load(None, ["mcts.num_simulation=3"])
