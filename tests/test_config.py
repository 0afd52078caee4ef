"""Configs: YAML is only the serialisation; unknown keys and bad values name the key."""

import pytest

from alphazero.core.config import Config, ConfigError, describe, dump, load

CONFIGS = ["configs/default.yaml", "configs/paper.yaml", "configs/smoke.yaml",
           "configs/strong.yaml"]


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


@pytest.mark.parametrize("path", CONFIGS)
def test_shipped_configs_fill_their_batches_and_find_the_gpu(path):
    cfg = load(path)
    assert cfg.warnings() == []
    text = open(path).read()
    for line in text.splitlines():  # a fixed device says why, in a comment
        if line.strip().startswith("device:") and "auto" not in line:
            assert "#" in line, line


def test_a_config_that_cannot_fill_its_batches_says_so_in_one_line():
    cfg = load("configs/paper.yaml", ["selfplay.games=2000", "selfplay.workers=4"])
    assert cfg.warnings() == [
        "selfplay: each of 4 workers plays at most 512 of the 2000 games, so its batches never "
        "reach parallel_games 1024; raise selfplay.games to at least 4096 or lower "
        "selfplay.parallel_games to 512"]
    fixed = load("configs/paper.yaml", ["selfplay.games=4096", "selfplay.workers=4"])
    assert fixed.warnings() == []
    assert load("configs/paper.yaml", ["selfplay.games=100"]).warnings() == []  # meant
    one = load("configs/smoke.yaml", ["selfplay.games=16", "selfplay.chunk_games=4",
                                      "selfplay.workers=4", "selfplay.parallel_games=8"])
    assert one.warnings()[0].startswith("selfplay: each of 4 workers plays at most 4 of the 16")
    slow = load("configs/default.yaml", ["pipeline.eval_opponents=[greedy, alphabeta:12]"])
    assert len(slow.warnings()) == 1 and "alphabeta:12" in slow.warnings()[0]


def test_a_preset_on_the_command_line_replaces_the_sizes_a_run_config_writes_out():
    base = load("checkpoints/config.yaml")  # a run's config: every size written out
    assert (base.net.blocks, base.net.channels) == (5, 64)
    assert load("checkpoints/config.yaml", ["net.preset=medium"]).net.resolve(False).sizes() \
        == (10, 96, 16, 3, 64)
    for order in (["net.preset=paper", "net.value_hidden=64"],
                  ["net.value_hidden=64", "net.preset=paper"]):
        assert load("checkpoints/config.yaml", order).net.resolve(False).sizes() == \
            (19, 128, 32, 3, 64)


def test_workers_take_the_gpus_in_turn():
    from alphazero.stages.workers import worker_device

    assert [worker_device("cuda", w, gpus=2) for w in range(4)] == \
        ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert worker_device("auto", 3, gpus=4) == "cuda:3"
    assert worker_device("cuda", 3, gpus=1) == "cuda"
    assert worker_device("cuda:1", 0, gpus=4) == "cuda:1"  # a device asked for by name
    assert worker_device("cpu", 1, gpus=4) == "cpu"
    assert worker_device("auto", 1, gpus=0) == "auto"


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


def test_a_schedule_changes_settings_from_its_iterations_on(tmp_path):
    cfg = load("configs/smoke.yaml", ["schedule.train.value_q_weight={1: 0.0, 3: 0.5}",
                                      "schedule.mcts.num_simulations={2: 16, 4: 32}"])
    # Before the first entry the section's own value; each entry in force from its iteration.
    assert [cfg.at(i).mcts.num_simulations for i in (1, 2, 3, 4, 9)] == [8, 16, 16, 32, 32]
    assert [cfg.at(i).train.value_q_weight for i in (1, 2, 3)] == [0.0, 0.0, 0.5]
    assert cfg.scheduled(3) == {"train.value_q_weight": 0.5, "mcts.num_simulations": 16}
    assert cfg.at(3).schedule == cfg.schedule  # the config an iteration runs with keeps it
    # Written and read back as it was; a run extended later keeps every iteration's values.
    dump(cfg, tmp_path / "c.yaml")
    again = load(tmp_path / "c.yaml", ["pipeline.iterations=50"])
    assert again.schedule == cfg.schedule
    assert [again.at(i).mcts for i in range(1, 6)] == [cfg.at(i).mcts for i in range(1, 6)]
    # Written nested in YAML, the same schedule.
    (tmp_path / "n.yaml").write_text("schedule:\n  mcts:\n    num_simulations: {2: 16, 4: 32}\n")
    assert load(tmp_path / "n.yaml").at(4).mcts.num_simulations == 32


@pytest.mark.parametrize("override, match", [
    ("schedule.net.channels={1: 16}", "fixed for a whole run"),
    ("schedule.selfplay.seed={2: 1}", "fixed for a whole run"),
    ("schedule.pipeline.iterations={2: 9}", "fixed for a whole run"),
    ("schedule.train.nope={1: 3}", "unknown setting 'train.nope'"),
    ("schedule.train.lr={0: 0.1}", "iteration 0"),
    ("schedule.train.lr={2: abc}", "expected float"),
    ("schedule.train.lr=0.1", "iteration: value pairs"),
    ("schedule.arena.games={5: 3}", "at iteration 5: arena.games"),
    ("schedule.value_q_weight={1: 0.5}", "needs its section"),
])
def test_bad_schedules_name_the_entry(override, match):
    with pytest.raises(ConfigError, match=match):
        load("configs/smoke.yaml", [override])


def test_a_net_names_what_overrides_its_preset():
    from alphazero.core.config import NetConfig

    assert NetConfig(preset="small").resolve(False).describe() == "small (5x64)"
    grown = NetConfig(preset="small", channels=128).resolve(False)
    assert grown.describe() == "5x128 (small with channels 128)"
    # a size set to the preset's own value changes nothing
    assert NetConfig(preset="tiny", blocks=2).resolve(False).describe() == "tiny (2x32)"
