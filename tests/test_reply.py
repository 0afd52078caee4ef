"""The reply head: KataGo's auxiliary policy target (the opponent's next search policy).

Targets are checked against games replayed move by move, the loss by hand, and the head
against every place a net travels (checkpoints, warm starts, inference, config)."""

import dataclasses

import numpy as np
import pytest
import torch

from alphazero.core.config import Config, ConfigError, MCTSConfig, NetConfig, SelfPlayConfig, \
    TrainConfig, load
from alphazero.nn import checkpoint
from alphazero.nn.inference import make_evaluator
from alphazero.nn.net import build_net, fresh_net
from alphazero.replay.dataset import load_dataset, minibatches, reply_policies
from alphazero.replay.shards import Samples, write_samples
from alphazero.rules.encoder import encode, mirror_policy
from alphazero.rules.game import Boards, State
from alphazero.stages.selfplay import play_games
from alphazero.stages.train import Trainer, losses, train_and_save

from .fakes import hashed_evaluator

HEAD = NetConfig(preset="tiny", reply_head=True)


def recorded_games(n, full_search_prob, seed=0):
    sp = SelfPlayConfig(games=n, parallel_games=n, seed=seed, full_search_prob=full_search_prob,
                        fast_simulations=4)
    return list(play_games(hashed_evaluator, MCTSConfig(num_simulations=8), sp, range(n)))


def write_chunks(folder, recs, per_chunk=3):
    for c in range(0, len(recs), per_chunk):
        part = recs[c:c + per_chunk]
        write_samples(folder / f"chunk_{c:05d}.pkl", Samples.concat([r.samples for r in part]),
                      {"game_lengths": [len(r.samples) for r in part], "chunk": c,
                       "iteration": 1, "game_ids": [r.game_id for r in part]})


def expected_replies(rec):
    """A game's reply targets from its moves: the policy recorded one ply later, if any."""
    s, planes = State(), []
    for col in rec.moves:
        planes.append(encode(Boards(np.array([s.own], np.uint64), np.array([s.mask],
                                                                          np.uint64)))[0])
        s = s.play(col)
    ply_of = [next(p for p, x in enumerate(planes) if np.array_equal(x, st))
              for st in rec.samples.states]
    policy_at = dict(zip(ply_of, rec.samples.policies))
    return np.array([policy_at.get(p + 1, np.zeros(7, np.float32)) for p in ply_of])


@pytest.mark.parametrize("full_search_prob", [1.0, 0.5])
def test_reply_targets_are_the_next_ply_policy_of_the_same_game(tmp_path, full_search_prob):
    recs = recorded_games(9, full_search_prob)
    write_chunks(tmp_path, recs)
    ds = load_dataset([str(tmp_path)])
    want = np.concatenate([expected_replies(r) for r in recs])
    assert np.array_equal(ds.samples.replies, want)
    has = want.sum(axis=1) > 0
    if full_search_prob == 1.0:  # every position but a game's last has its reply
        assert has.sum() == len(want) - len(recs)
    else:  # fast searches leave gaps, and those positions have none
        assert 0 < has.sum() < len(want) - len(recs)


def test_a_window_cut_keeps_each_positions_own_reply(tmp_path):
    write_chunks(tmp_path, recorded_games(6, 1.0))
    full = load_dataset([str(tmp_path)])
    cut = load_dataset([str(tmp_path)], max_samples=len(full.samples) - 5)
    assert np.array_equal(cut.samples.replies, full.samples.replies[5:])


def test_mirrored_batches_mirror_the_reply_with_the_position(tmp_path):
    write_chunks(tmp_path, recorded_games(4, 1.0))
    s = load_dataset([str(tmp_path)]).samples
    rng = np.random.default_rng(0)
    flipped = 0
    for st, pol, _, _, rep in minibatches(s, s.outcomes, 8, rng, mirror=True, steps=20):
        for k in range(len(st)):
            # A position and its policy can recur across games, each with its own reply.
            plain = np.flatnonzero((s.states == st[k]).all(axis=(1, 2, 3))
                                   & (s.policies == pol[k]).all(axis=1))
            mirrored = np.flatnonzero((s.policies == mirror_policy(pol[k])).all(axis=1))
            assert (any(np.array_equal(rep[k], s.replies[j]) for j in plain)
                    or any(np.array_equal(rep[k], mirror_policy(s.replies[j]))
                           for j in mirrored))
            flipped += not plain.size
    assert flipped


def batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 3, 6, 7, generator=g) < 0.3).float()
    p = torch.softmax(torch.randn(n, 7, generator=g), -1)
    r = torch.softmax(torch.randn(n, 7, generator=g), -1)
    r[::2] = 0  # half the positions have no reply
    z = torch.tensor([1.0, -1, 0, 1, -1, 0])[:n]
    return x, p, z, z * 0.5, r


def test_reply_loss_is_the_cross_entropy_over_positions_that_have_one():
    torch.manual_seed(0)
    net = build_net(HEAD).eval()
    x, p, z, v, r = batch()
    out = losses(net, x, p, z, v, r, reply_weight=0.3)
    with torch.no_grad():
        _, _, logits = net.forward_train(x)
        has = r.sum(-1) > 0
        want = -(r[has] * torch.log_softmax(logits[has], -1)).sum(-1).mean()
    assert torch.allclose(out["reply"], want)
    base = losses(net, x, p, z, v, r, reply_weight=0.0)
    assert torch.allclose(out["total"], base["total"] + 0.3 * want)
    for k in base:  # every other loss is the headless net's
        if k not in ("total", "reply"):
            assert torch.allclose(base[k], out[k])


def test_a_head_changes_nothing_the_search_sees():
    with_head = fresh_net(HEAD, seed=3).eval()
    without = fresh_net(NetConfig(preset="tiny"), seed=3).eval()
    x = batch()[0]
    with torch.no_grad():
        for a, b in zip(with_head(x), without(x)):
            assert torch.equal(a, b)
    assert with_head.flops_per_position() == without.flops_per_position()
    boards = Boards(np.array([0, 1], np.uint64), np.array([0, 3], np.uint64))
    for backend in ("eager", "folded"):
        got = make_evaluator(with_head, "cpu", backend=backend)(boards)
        want = make_evaluator(without, "cpu", backend=backend)(boards)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_fits_the_reply_and_weight_zero_leaves_the_head_alone():
    torch.manual_seed(0)
    x, p, z, v, r = batch()
    for weight in (0.0, 1.0):
        net = build_net(HEAD)
        trainer = Trainer(net, TrainConfig(lr=0.01, reply_weight=weight), torch.device("cpu"))
        head = [w.detach().clone() for w in net.reply_head.parameters()]
        first = trainer.step(x, p, z, v, r)["reply"]
        for _ in range(30):
            last = trainer.step(x, p, z, v, r)["reply"]
        moved = any(not torch.equal(a, b) for a, b in zip(head, net.reply_head.parameters()))
        assert moved == (weight > 0)
        if weight > 0:  # the cross-entropy's floor is the targets' entropy
            has = r.sum(-1) > 0
            floor = float(-torch.xlogy(r[has], r[has]).sum(-1).mean())
            assert last - floor < 0.5 * (first - floor)


def test_train_and_save_reports_the_reply_loss_and_the_checkpoint_keeps_the_head(tmp_path):
    data = tmp_path / "iter_0001"
    data.mkdir()
    write_chunks(data, recorded_games(6, 1.0))
    start = checkpoint.Checkpoint(build_net(HEAD), HEAD.resolve(False), 0, None, {})
    out = tmp_path / "cand.pt"
    fit = train_and_save(start, [str(data)], TrainConfig(reply_weight=0.15, epochs=1,
                                                         batch_size=32,
                                                         validation_fraction=0.3),
                         torch.device("cpu"), str(out), iteration=1)
    assert np.isfinite(fit.train["reply"]) and np.isfinite(fit.val["reply"])
    ck = checkpoint.load(out)
    assert ck.net.reply_head is not None
    with pytest.raises(checkpoint.CheckpointError, match="reply_head True -> False"):
        checkpoint.load(out, expect=NetConfig(preset="tiny").resolve(False))


def test_a_warm_start_adds_the_head_and_keeps_the_outputs(tmp_path, tiny_ckpt):
    from alphazero.run.pipeline import _warm_start
    cfg = load(None, ["net.preset=tiny", "net.reply_head=true", "train.reply_weight=0.15"])
    cfg = dataclasses.replace(cfg, net=cfg.net.resolve(False))
    start = _warm_start(str(tiny_ckpt), cfg, notice=lambda line: None)
    assert start.net.reply_head is not None
    old = checkpoint.load(tiny_ckpt).net.eval()
    x = batch()[0]
    with torch.no_grad():
        for a, b in zip(start.net.eval()(x), old(x)):
            assert torch.allclose(a, b, atol=1e-6)


def test_config_refuses_a_reply_weight_without_a_head():
    with pytest.raises(ConfigError, match="net.reply_head=true"):
        Config(train=TrainConfig(reply_weight=0.1)).validate()
    with pytest.raises(ConfigError, match="schedule at iteration 5: train.reply_weight"):
        load(None, ["schedule.train.reply_weight={5: 0.2}"])
    with pytest.raises(ConfigError, match="reply_weight"):
        TrainConfig(reply_weight=-1).validate()
    cfg = load(None, ["net.reply_head=true", "schedule.train.reply_weight={1: 0.3, 9: 0.0}"])
    assert cfg.at(9).train.reply_weight == 0.0 and cfg.at(1).train.reply_weight == 0.3


def test_a_game_boundary_cuts_the_reply_even_one_stone_later():
    rec = recorded_games(1, 1.0)[0]
    s = rec.samples
    half = len(s) // 2
    game = np.where(np.arange(len(s)) < half, 1, 2).astype(np.int64)
    got = reply_policies(s, game)
    assert not got[half - 1].any()  # the next position is one stone later, in another game
    assert np.array_equal(got[half - 2], s.policies[half - 1])


def test_the_iteration_line_shows_the_reply_loss_when_there_is_one():
    from alphazero.report.lines import summary_line

    row = {"iteration": 3, "train": {"total": 2.5, "value": 0.25, "policy": 2.0},
           "val": {"total": 2.6}, "arena": {"wins": 1, "draws": 0, "losses": 1,
                                            "promoted": False},
           "selfplay": {"positions": 10, "positions_per_s": 5.0}}
    assert "(v 0.250 p 2.000) val" in summary_line(row, 5)
    row["train"]["reply"] = 1.9
    assert "(v 0.250 p 2.000 reply 1.900) val" in summary_line(row, 5)


def test_a_reply_weight_for_a_net_without_the_head_is_refused_and_named():
    with pytest.raises(ConfigError, match="has no reply head"):
        Trainer(build_net(NetConfig(preset="tiny")), TrainConfig(reply_weight=0.1),
                torch.device("cpu"))
    hint = NetConfig(preset="tiny").resolve(False).set_lines(HEAD.resolve(False))
    assert hint == "--set net.preset=tiny --set net.reply_head=false"
