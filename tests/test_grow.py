"""Growing a net: the grown net is the old one (same outputs on real positions, in eval and in
training mode), its new weights learn, and a run warm-starts from a smaller checkpoint."""

import dataclasses

import pytest
import torch

from alphazero.core.config import NetConfig
from alphazero.core.config import load as load_config
from alphazero.nn.checkpoint import load, save
from alphazero.nn.grow import GrowError, grow
from alphazero.nn.net import build_net
from alphazero.rules.encoder import encode
from alphazero.rules.game import Boards
from alphazero.rules.positions import PONS, load_positions, path_of

SMALL = NetConfig(preset="tiny").resolve(False)


def _trained_looking(cfg: NetConfig, seed: int) -> torch.nn.Module:
    """A net with non-default BatchNorm statistics and scales, as training leaves them."""
    torch.manual_seed(seed)
    net = build_net(cfg)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net


def _planes(n: int = 200) -> torch.Tensor:
    """Planes float [n, 3, 6, 7] of real positions (Pons' benchmark)."""
    positions = load_positions(path_of(PONS))[:n]
    return torch.from_numpy(encode(Boards.from_states([p.state for p in positions]))).float()


@pytest.mark.parametrize("blocks,channels", [(SMALL.blocks, 2 * SMALL.channels),
                                             (SMALL.blocks + 2, SMALL.channels),
                                             (SMALL.blocks + 1, SMALL.channels + 8)])
def test_a_grown_net_computes_what_the_old_one_did(blocks, channels):
    old = _trained_looking(SMALL, 0)
    big = grow(old, dataclasses.replace(SMALL, blocks=blocks, channels=channels), seed=1)
    assert (big.cfg.blocks, big.cfg.channels) == (blocks, channels)
    x = _planes()
    for mode in ("eval", "train"):  # training mode: batch statistics of the new channels too
        old.train(mode == "train")
        big.train(mode == "train")
        with torch.no_grad():
            (p0, v0), (p1, v1) = old(x), big(x)
        assert torch.allclose(p0, p1, atol=1e-5) and torch.allclose(v0, v1, atol=1e-5), mode


def test_the_new_weights_learn():
    old = _trained_looking(SMALL, 0)
    big = grow(old, dataclasses.replace(SMALL, blocks=SMALL.blocks + 1,
                                        channels=2 * SMALL.channels), seed=1)
    c = SMALL.channels
    hidden = big.blocks[0].conv1.weight[:c, c:]  # old outputs from new inputs: zero at first
    appended = big.blocks[-1].bn2.weight         # the appended block's branch: off at first
    assert not hidden.any() and not appended.any()
    opt = torch.optim.SGD(big.parameters(), lr=0.1)
    x = _planes(64)
    logits, v = big(x)
    (torch.logsumexp(logits, -1).mean() - logits[:, 3].mean() + (v - 0.5).pow(2).mean()).backward()
    opt.step()
    assert hidden.abs().sum() > 0 and appended.abs().sum() > 0


def test_every_dimension_grows_into_a_bigger_preset_with_the_same_outputs():
    wider_heads = dataclasses.replace(SMALL, policy_channels=6, value_channels=5,
                                      value_hidden=40)
    x = _planes()
    # tiny (2, 32, 4, 2, 32) -> small (5, 64, 8, 2, 64); then only the heads wider
    for cfg in (NetConfig(preset="small").resolve(False), wider_heads):
        old = _trained_looking(SMALL, 0)  # fresh: a pass in training mode moves its statistics
        net = grow(old, cfg, seed=1)
        for mode in ("eval", "train"):
            old.train(mode == "train")
            net.train(mode == "train")
            with torch.no_grad():
                (p0, v0), (p1, v1) = old(x), net(x)
            assert torch.allclose(p0, p1, atol=1e-5) and torch.allclose(v0, v1, atol=1e-5)


@pytest.mark.parametrize("change,word", [
    ({"channels": SMALL.channels - 8}, "channels 32 -> 24 would shrink; keep the checkpoint's "
                                       "with --set net.channels=32"),
    ({"blocks": SMALL.blocks - 1}, "blocks 2 -> 1 would shrink"),
    ({"policy_channels": SMALL.policy_channels - 1, "value_hidden": 16},
     "policy_channels 4 -> 3, value_hidden 32 -> 16 would shrink; keep the checkpoint's with "
     "--set net.policy_channels=4 --set net.value_hidden=32")])
def test_what_cannot_grow_says_why(change, word):
    with pytest.raises(GrowError) as e:
        grow(_trained_looking(SMALL, 0), dataclasses.replace(SMALL, **change))
    assert word in str(e.value)


def test_a_run_warm_starts_from_a_smaller_checkpoint(tmp_path, capsys):
    from alphazero.run.pipeline import create_run

    small = _trained_looking(SMALL, 0)
    ck = tmp_path / "small.pt"
    save(ck, small, iteration=4, optimizer=torch.optim.AdamW(small.parameters()).state_dict(),
         meta={"global_step": 900})
    cfg = load_config("configs/smoke.yaml", ["net.preset=tiny",
                                              f"net.channels={2 * SMALL.channels}"])
    create_run(str(tmp_path / "run"), cfg, init_from=str(ck))
    assert "grown into" in capsys.readouterr().out
    best = load(tmp_path / "run" / "best.pt")
    assert best.net_config.channels == 2 * SMALL.channels
    assert not (tmp_path / "run" / "candidates").exists()  # no optimizer of the old shape
    x = _planes(50)
    small.eval()
    with torch.no_grad():
        assert torch.allclose(small(x)[1], best.net.eval()(x)[1], atol=1e-5)
