"""Dataset window, split and augmentation; the seed importer; the trainer learns."""

import pickle

import numpy as np
import torch

from alphazero.core.config import MCTSConfig, NetConfig, SelfPlayConfig, TrainConfig
from alphazero.nn.net import build_net
from alphazero.replay.dataset import load_dataset, minibatches, split_by_game
from alphazero.replay.shards import Samples, import_seed, read_samples, write_samples
from alphazero.report.reporter import Reporter
from alphazero.rules.encoder import mirror_planes, mirror_policy
from alphazero.stages.selfplay import play_games
from alphazero.stages.train import Trainer, lr_at

from .fakes import hashed_evaluator


def games(n=6, seed=0):
    sp = SelfPlayConfig(games=n, parallel_games=n, seed=seed)
    return list(play_games(hashed_evaluator, MCTSConfig(num_simulations=16), sp, range(n)))


def shard(folder, name, recs):
    s = Samples.concat([r.samples for r in recs])
    write_samples(folder / name, s, {"game_lengths": [len(r.moves) for r in recs]})
    return s


def to_seed_format(rec):
    """Our game record written the way the seed blog's code writes it."""
    entries = []
    n = len(rec.moves)
    for k in range(n):
        own, opp, second = rec.samples.states[k].astype(np.int64)
        x_moves = bool(second.max())
        o, x = (opp, own) if x_moves else (own, opp)
        s = np.stack([o, x, np.full((6, 7), int(x_moves))], axis=-1)
        entries.append([s, rec.samples.policies[k].astype(np.float64), 0 if k == 0 else rec.result])
    return entries


def test_seed_format_imports_to_our_samples(tmp_path):
    for rec in games(8, seed=3):
        path = tmp_path / "dataset_iter0_cpu0_0_2020"
        path.write_bytes(pickle.dumps(to_seed_format(rec)))
        got = read_samples(path)
        assert np.array_equal(got.states, rec.samples.states)
        assert np.allclose(got.policies, rec.samples.policies)
        # The seed's first-entry 0 is repaired from the game's result.
        assert np.array_equal(got.outcomes, rec.samples.outcomes)


def test_window_keeps_the_most_recent_positions_and_split_holds_out_whole_games(tmp_path):
    d1, d2 = tmp_path / "iter_0001", tmp_path / "iter_0002"
    d1.mkdir()
    d2.mkdir()
    a = shard(d1, "chunk_00000.pkl", games(6, seed=1))
    b = shard(d2, "chunk_00000.pkl", games(6, seed=2))
    (d2 / ".chunk_00001.pkl.tmp").write_bytes(b"half a file")  # never read as data
    full = load_dataset([str(d1), str(d2)])
    assert len(full.samples) == len(a) + len(b)
    assert len(np.unique(full.game)) == 12
    window = load_dataset([str(d1), str(d2)], max_samples=len(b) + 5)
    assert len(window.samples) == len(b) + 5
    assert np.array_equal(window.samples.states[-len(b):], b.states)
    tr, va = split_by_game(full.game, 0.3, seed=0)
    assert len(va) and len(tr) and not set(full.game[tr]) & set(full.game[va])
    assert len(tr) + len(va) == len(full.samples)


def test_mirror_augmentation_flips_states_and_policies_together():
    recs = games(4)
    s = Samples.concat([r.samples for r in recs])
    seen_flip = seen_plain = False
    rng = np.random.default_rng(0)
    for st, pol, z, _, _ in minibatches(s, s.outcomes, 16, rng, mirror=True, steps=20):
        for k in range(len(z)):
            plain = np.flatnonzero((s.states == st[k]).all(axis=(1, 2, 3))
                                   & (s.policies == pol[k]).all(axis=1))
            flipped = np.flatnonzero(
                (mirror_planes(s.states) == st[k]).all(axis=(1, 2, 3))
                & (mirror_policy(s.policies) == pol[k]).all(axis=1))
            assert plain.size or flipped.size
            seen_plain |= bool(plain.size)
            seen_flip |= bool(flipped.size) and not plain.size
    assert seen_flip and seen_plain


def test_trainer_lowers_the_loss_and_keeps_optimizer_state():
    recs = games(12, seed=5)
    s = Samples.concat([r.samples for r in recs])
    torch.manual_seed(0)
    net = build_net(NetConfig(preset="tiny"))
    cfg = TrainConfig(batch_size=64, epochs=30, lr=3e-3, device="cpu")
    trainer = Trainer(net, cfg, torch.device("cpu"))
    before = trainer.validate(s)["total"]
    fit = trainer.fit(s, s)
    assert fit.val["total"] < before - 0.5
    state = trainer.opt.state_dict()
    assert state["state"], "AdamW moments exist after training"
    again = Trainer(net, cfg, torch.device("cpu"), optimizer_state=state)
    assert again.opt.state_dict()["state"].keys() == state["state"].keys()


def test_cosine_schedule_is_keyed_to_steps_and_ends_constant():
    cfg = TrainConfig(lr=1.0, lr_schedule="cosine", lr_final_fraction=0.1, lr_decay_steps=100)
    assert lr_at(cfg, 0) == 1.0 and abs(lr_at(cfg, 50) - 0.55) < 1e-9
    lrs = [lr_at(cfg, k) for k in range(300)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:])), "never rises, however long the run"
    assert all(abs(x - 0.1) < 1e-9 for x in lrs[100:])
    assert lr_at(TrainConfig(lr=0.5), 7) == 0.5


def test_import_seed_rejects_malformed_entries():
    import pytest

    from alphazero.replay.shards import DataError

    with pytest.raises(DataError, match="wrong shape"):
        import_seed([[np.zeros((6, 7)), np.ones(7) / 7, 0]])
    with pytest.raises(DataError, match="not \\[s, p, v\\]"):
        import_seed([[1, 2]])


def test_root_values_travel_through_shards_windows_and_mixing(tmp_path):
    from alphazero.replay.dataset import value_targets
    from alphazero.replay.shards import DataError, shard_bytes

    d = tmp_path / "iter_0001"
    d.mkdir()
    recs = games(6, seed=4)
    s = shard(d, "chunk_00000.pkl", recs)
    # A shard written before root values were recorded (or a seed file): q unknown.
    old = Samples(s.states[:5], s.policies[:5], s.outcomes[:5])
    write_samples(d / "chunk_00001.pkl", old, {"game_lengths": [5]})
    ds = load_dataset([str(d)])
    q = ds.samples.root_values
    assert np.array_equal(q[:len(s)], s.root_values) and np.isnan(q[len(s):]).all()
    tr, va = split_by_game(ds.game, 0.3, seed=1)
    assert np.array_equal(ds.samples.take(tr).root_values, q[tr], equal_nan=True)

    mixed = value_targets(ds.samples, 0.5)
    z = ds.samples.outcomes
    want = np.where(np.isnan(q), z, 0.5 * z + 0.5 * q)
    assert np.allclose(mixed, want) and np.array_equal(mixed[len(s):], z[len(s):])
    assert value_targets(ds.samples, 0.0) is ds.samples.outcomes
    quarter = value_targets(ds.samples, 0.25)  # a weight that tells z's share from q's
    known = ~np.isnan(q)
    assert np.allclose(quarter[known], 0.75 * z[known] + 0.25 * q[known])
    assert np.array_equal(value_targets(ds.samples, 1.0)[known], q[known])

    # Out-of-range or misshapen root values are refused with a message naming the file.
    bad = Samples(s.states, s.policies, s.outcomes, root_values=s.root_values * 0 + 3)
    (d / "chunk_00002.pkl").write_bytes(shard_bytes(bad))
    try:
        read_samples(d / "chunk_00002.pkl")
    except DataError as e:
        assert "chunk_00002.pkl" in str(e) and "root_values" in str(e)
    else:
        raise AssertionError("bad root values were accepted")


def test_value_q_weight_moves_the_value_head_towards_q():
    """Train on identical states with z = +1 and q = -1: the value head lands near the mix."""
    recs = games(4, seed=5)
    s = Samples.concat([r.samples for r in recs])
    pos = s.take(np.zeros(512, np.int64))  # one position, many times
    pos = Samples(pos.states, pos.policies, np.ones(512, np.float32),
                  root_values=-np.ones(512, np.float32))
    outs = []
    for w in (0.0, 0.5):
        torch.manual_seed(0)
        net = build_net(NetConfig(preset="tiny"), "cpu")
        cfg = TrainConfig(batch_size=64, epochs=6.0, lr=3e-3, mirror=False, device="cpu",
                          value_q_weight=w, weight_decay=0.0)
        Trainer(net, cfg, torch.device("cpu")).fit(pos, Samples.empty())
        with torch.no_grad():
            outs.append(net(torch.from_numpy(pos.states[:1]).float())[1].item())
    assert outs[0] > 0.5 and abs(outs[1]) < 0.2, outs


def test_validation_games_never_reach_training_across_a_sliding_window(tmp_path, monkeypatch):
    """A real pipeline, window of 2 iterations over 6: every position's game id is recorded
    where the trainer splits; no validation id is ever in any iteration's training set."""
    from alphazero.core import config
    from alphazero.run import pipeline
    from alphazero.stages import train

    seen = []
    real_split = train.split_by_game

    def spy(game, fraction, seed=0):
        tr, va = real_split(game, fraction, seed)
        seen.append((set(game[tr].tolist()), set(game[va].tolist())))
        return tr, va

    monkeypatch.setattr(train, "split_by_game", spy)
    windows = []
    real_load = train.load_dataset
    monkeypatch.setattr(train, "load_dataset",
                        lambda dirs, *a: windows.append(list(dirs)) or real_load(dirs, *a))
    cfg = config.load("configs/smoke.yaml", [
        "pipeline.iterations=6", "train.replay_iterations=2", "train.validation_fraction=0.3",
        "selfplay.workers=1", "pipeline.eval_games=0", "pipeline.positions_eval=false"])
    pipeline.create_run(str(tmp_path / "run"), cfg)
    pipeline.run(str(tmp_path / "run"))
    assert len(seen) == 6
    # The window is exactly the last replay_iterations folders, oldest first.
    data = tmp_path / "run" / "data"
    assert windows == [[str(data / f"iter_{i:04d}") for i in range(max(1, it - 1), it + 1)]
                       for it in range(1, 7)]
    trained = set().union(*(t for t, _ in seen))
    held = set().union(*(v for _, v in seen))
    assert held and not trained & held
    # The window slid: later iterations saw games the first never did, and dropped old ones.
    assert seen[-1][0] - seen[0][0] and seen[0][0] - seen[-1][0]


def test_resume_takes_weight_decay_and_optimizer_from_the_config():
    recs = games(4, seed=2)
    s = Samples.concat([r.samples for r in recs])
    torch.manual_seed(0)
    net = build_net(NetConfig(preset="tiny"))
    first = Trainer(net, TrainConfig(batch_size=32, epochs=1, weight_decay=1e-4), torch.device("cpu"))
    first.fit(s, Samples.empty())
    state = first.opt.state_dict()
    assert state["param_groups"][0]["weight_decay"] == 1e-4

    again = Trainer(net, TrainConfig(batch_size=32, epochs=1, weight_decay=0.05, betas=[0.8, 0.99]),
                    torch.device("cpu"), optimizer_state=state)
    assert again.opt.state_dict()["state"], "the moments carried over"
    groups = again.opt.param_groups
    assert groups[0]["weight_decay"] == 0.05 and groups[1]["weight_decay"] == 0.0
    assert groups[0]["betas"] == (0.8, 0.99)

    notices = []
    sgd = Trainer(net, TrainConfig(batch_size=32, epochs=1, optimizer="sgd", lr=0.02,
                                   momentum=0.8), torch.device("cpu"), optimizer_state=state,
                  reporter=Reporter(log=notices.append))
    fit = sgd.fit(s, Samples.empty())
    assert isinstance(sgd.opt, torch.optim.SGD) and np.isfinite(fit.train["total"])
    assert sgd.opt.param_groups[0]["momentum"] == 0.8
    assert len(notices) == 1 and "fresh sgd optimizer" in notices[0]


def test_unseen_positions_are_those_nowhere_in_training_even_mirrored(tmp_path):
    from alphazero.nn import checkpoint
    from alphazero.replay.dataset import unseen
    from alphazero.stages.train import train_and_save

    a = Samples.concat([r.samples for r in games(6, seed=1)])
    b = Samples.concat([r.samples for r in games(6, seed=2)])
    train = a.states[::2]
    held = np.concatenate([a.states[1::2], mirror_planes(train[:10]).copy(), b.states])
    new = unseen(held, train)
    # The truth, one position at a time: equal to a training position or to its mirror.
    seen = {p.tobytes() for p in train} | {mirror_planes(p).copy().tobytes() for p in train}
    assert np.array_equal(new, [p.tobytes() not in seen for p in held])
    assert not new[len(a.states[1::2]):len(a.states[1::2]) + 10].any()  # mirrors are seen
    assert new.any() and not new.all()  # the empty board opens every game
    # Training reports both losses, and the share of held-out positions new to it.
    d = tmp_path / "iter_0001"
    d.mkdir()
    shard(d, "chunk_00000.pkl", games(12, seed=3))
    torch.manual_seed(0)
    start = checkpoint.Checkpoint(build_net(NetConfig(preset="tiny")), NetConfig(preset="tiny"),
                                  0, None, {})
    cfg = TrainConfig(batch_size=16, epochs=0.2, validation_fraction=0.3, device="cpu")
    fit = train_and_save(start, [str(d)], cfg, torch.device("cpu"), str(tmp_path / "c.pt"), 1)
    assert fit.val and fit.val_unseen and 0 < fit.unseen_share < 1
    assert checkpoint.load(tmp_path / "c.pt").meta["unseen_share"] == fit.unseen_share


def test_a_window_whose_every_game_hashes_to_validation_trains_on_all_of_them():
    game = np.arange(40, dtype=np.int64)
    tr, va = split_by_game(game, 1.0)
    assert len(tr) == 40 and len(va) == 0
    tr, va = split_by_game(game, 0.5)
    assert 0 < len(va) < 40 and len(tr) + len(va) == 40
