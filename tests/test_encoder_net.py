"""Encoder planes, mirror symmetry, ConnectNet shapes and learning, checkpoint round trips."""

import random

import numpy as np
import pytest
import torch

from alphazero.core.config import NetConfig
from alphazero.nn.checkpoint import CheckpointError, load, save
from alphazero.nn.inference import make_evaluator
from alphazero.nn.net import build_net, select_device
from alphazero.rules.encoder import decode, encode, legal_mask, mirror_planes, mirror_policy
from alphazero.rules.game import Boards, State, batch_mirror


def random_states(n, seed=0):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        s = State()
        for _ in range(rng.randrange(0, 30)):
            if s.is_terminal():
                break
            s = s.play(rng.choice(s.legal_moves()))
        if not s.is_terminal():
            out.append(s)
    return out


def test_planes_match_the_rendered_board():
    s = State.from_moves("4453")  # X: d1, e1; O: d2, c1; X to move
    planes = encode(Boards.from_states([s]))[0]
    assert planes.shape == (3, 6, 7) and planes.dtype == np.uint8
    own = {(r, c) for r, c in zip(*np.nonzero(planes[0]))}
    opp = {(r, c) for r, c in zip(*np.nonzero(planes[1]))}
    assert own == {(5, 3), (5, 4)} and opp == {(4, 3), (5, 2)}  # row 0 = top
    assert planes[2].sum() == 0  # first player to move
    planes2 = encode(Boards.from_states([s.play(0)]))[0]
    assert planes2[2].min() == 1  # second player to move
    # From the side to move's view: the roles of the planes swap after a move.
    assert planes2[1, 5, 0] == 1 and planes2[0].sum() == 2


def test_encode_decode_round_trip_and_legal_masks():
    states = random_states(300)
    boards = Boards.from_states(states)
    back = decode(encode(boards))
    assert np.array_equal(back.own, boards.own) and np.array_equal(back.mask, boards.mask)
    expected = np.array([[s.is_legal(c) for c in range(7)] for s in states])
    assert np.array_equal(legal_mask(boards), expected)


def test_mirror_is_consistent_for_boards_masks_and_policies():
    states = random_states(200, seed=1)
    boards = Boards.from_states(states)
    mirrored = Boards(batch_mirror(boards.own), batch_mirror(boards.mask))
    planes = encode(boards)
    assert np.array_equal(mirror_planes(planes), encode(mirrored))
    assert np.array_equal(mirror_planes(mirror_planes(planes)), planes)
    assert np.array_equal(mirror_policy(legal_mask(boards)), legal_mask(mirrored))
    p = np.random.default_rng(0).random((5, 7))
    assert np.array_equal(mirror_policy(mirror_policy(p)), p)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_net(NetConfig(preset="tiny"))


def test_net_shapes_and_evaluator(tiny):
    states = random_states(64, seed=2)
    boards = Boards.from_states(states)
    x = torch.from_numpy(encode(boards)).float()
    tiny.eval()
    logits, value = tiny(x)
    assert logits.shape == (64, 7) and value.shape == (64,)
    priors, values = make_evaluator(tiny)(boards)
    assert priors.shape == (64, 7) and priors.dtype == np.float32
    assert np.all(priors[~legal_mask(boards)] == 0)
    assert np.allclose(priors.sum(axis=1), 1, atol=1e-5)
    assert np.all(np.abs(values) <= 1)
    # The mirrored batch gives a policy of the same shape over the mirrored columns' moves.
    mirrored = Boards(batch_mirror(boards.own), batch_mirror(boards.mask))
    mp, _ = make_evaluator(tiny)(mirrored)
    assert mp.shape == priors.shape
    assert np.array_equal(mp > 0, mirror_policy(priors > 0))


def test_large_cpu_batches_are_sliced_without_changing_results():
    from alphazero.nn.inference import CPU_SLICE

    torch.manual_seed(0)
    tiny = build_net(NetConfig(preset="tiny"))
    states = random_states(2 * CPU_SLICE + 37, seed=9)
    boards = Boards.from_states(states)
    priors, values = make_evaluator(tiny)(boards)
    assert priors.shape == (len(states), 7) and values.shape == (len(states),)
    tiny.eval()
    with torch.no_grad():
        logits, v = tiny(torch.from_numpy(encode(boards)).float())
    logits = logits.masked_fill(~torch.from_numpy(legal_mask(boards)), -torch.inf)
    assert np.allclose(priors, torch.softmax(logits, -1).numpy(), atol=1e-5)
    assert np.allclose(values, v.numpy(), atol=1e-5)


def test_paper_preset_is_the_seed_net():
    cfg = NetConfig(preset="paper").resolve(cuda=False)
    assert (cfg.blocks, cfg.channels) == (19, 128)
    assert NetConfig().resolve(cuda=True).preset == "paper"
    assert NetConfig().resolve(cuda=False).preset == "small"


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")


def test_tiny_net_overfits_a_handful_of_positions():
    torch.manual_seed(1)
    net = build_net(NetConfig(preset="tiny"))
    boards = Boards.from_states(random_states(16, seed=3))
    x = torch.from_numpy(encode(boards)).float()
    rng = np.random.default_rng(0)
    target_p = torch.from_numpy(rng.dirichlet(np.ones(7), 16).astype(np.float32))
    target_v = torch.from_numpy(rng.choice([-1.0, 0.0, 1.0], 16).astype(np.float32))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    losses = []
    for _ in range(300):
        logits, v = net(x)
        loss = ((v - target_v) ** 2).mean() - (target_p * torch.log_softmax(logits, -1)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    entropy = -(target_p * target_p.log()).sum(-1).mean().item()
    # Start: value MSE ~0.7 + cross-entropy ~log 7; the policy part cannot go below the
    # targets' own entropy, so compare the excess over that floor.
    assert losses[-1] - entropy < 0.1 * (losses[0] - entropy)


def test_checkpoint_round_trip(tmp_path, tiny):
    path = tmp_path / "net.pt"
    opt = torch.optim.AdamW(tiny.parameters())
    save(path, tiny, iteration=7, optimizer=opt, meta={"note": "x"})
    ck = load(path)
    assert ck.iteration == 7 and ck.meta["note"] == "x" and ck.optimizer is not None
    boards = Boards.from_states(random_states(32, seed=4))
    a = make_evaluator(tiny)(boards)
    b = make_evaluator(ck.net)(boards)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not list(tmp_path.glob("*.tmp"))


def test_checkpoint_errors(tmp_path, tiny):
    path = tmp_path / "net.pt"
    save(path, tiny)
    data = path.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load(trunc)
    with pytest.raises(CheckpointError, match="not found"):
        load(tmp_path / "missing.pt")
    small = NetConfig(preset="small").resolve(cuda=False)
    with pytest.raises(CheckpointError, match=r"tiny \(2x32\).*small \(5x64\)"):
        load(path, expect=small)
    junk = tmp_path / "junk.pt"
    torch.save({"hello": 1}, junk)
    with pytest.raises(CheckpointError, match="not an alphazero-c4 checkpoint"):
        load(junk)
