"""The GPU inference path (fused.py) checked on CPU against the eager net: folding and the
cast, the uint8 input, the fp32 value tail and the bucketing. The CUDA graphs themselves run
in tests/test_cuda.py where a GPU exists."""

import numpy as np
import pytest
import torch

from alphazero.core.config import NetConfig
from alphazero.nn.fused import MAX_BUCKET, BucketedForward, InferenceNet, bucket, fused_forward
from alphazero.nn.net import build_net
from alphazero.rules.encoder import encode
from alphazero.rules.game import Boards

from .test_encoder_net import random_states

CPU = torch.device("cpu")


def trained_like_net(seed=0):
    """A tiny net whose BatchNorms hold statistics far from the defaults, so that folding
    them wrongly shows."""
    torch.manual_seed(seed)
    net = build_net(NetConfig(preset="tiny"), CPU).eval()
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=g)
            m.running_var.uniform_(0.5, 2.0, generator=g)
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)
    return net


def planes(n, seed=0):
    return encode(Boards.from_states(random_states(n, seed=seed)))


def eager(net, x):
    with torch.no_grad():
        logits, values = net(torch.from_numpy(x).float())
    return logits.numpy(), values.numpy()


def test_bucket_sizes():
    assert [bucket(n) for n in (0, 1, 8, 9, 16, 17, 1000, 4096, 9999)] == \
        [8, 8, 8, 16, 16, 32, 1024, 4096, 4096]


def test_fp32_inference_net_is_the_eager_net():
    net, x = trained_like_net(), planes(300)
    with torch.no_grad():
        logits, values = InferenceNet(net, CPU, torch.float32)(torch.from_numpy(x))
    ref_l, ref_v = eager(net, x)
    assert np.allclose(logits.numpy(), ref_l, atol=1e-4)
    assert np.allclose(values.numpy(), ref_v, atol=1e-4)


def test_bf16_weights_are_cast_once_and_the_value_tail_stays_fp32():
    net, x = trained_like_net(1), planes(300, 1)
    fast = InferenceNet(net, CPU, torch.bfloat16)
    assert {p.dtype for p in fast.trunk.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in fast.policy.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in fast.value_mlp.parameters()} == {torch.float32}
    with torch.no_grad():
        logits, values = fast(torch.from_numpy(x))
    assert logits.dtype == values.dtype == torch.float32
    ref_l, ref_v = eager(net, x)
    assert np.abs(values.numpy() - ref_v).max() < 0.05
    p, ref_p = torch.softmax(logits, 1).numpy(), torch.softmax(torch.from_numpy(ref_l), 1).numpy()
    assert np.abs(p - ref_p).max() < 0.05
    assert not np.array_equal(values.numpy(), ref_v)  # it did run in bf16


@pytest.mark.parametrize("n", [1, 7, 9, 100, MAX_BUCKET + 3])
def test_bucketed_forward_pads_and_slices_without_changing_a_row(n):
    net = trained_like_net(2)
    x = planes(n, 2)
    forward = fused_forward(net, CPU)
    logits, values = forward(x)
    ref_l, ref_v = eager(net, x)
    assert logits.shape == (n, 7) and values.shape == (n,)
    assert logits.dtype == values.dtype == np.float32
    assert np.allclose(logits, ref_l, atol=1e-4) and np.allclose(values, ref_v, atol=1e-4)
    # float planes (what eager takes) give the same answer as the encoder's uint8
    l2, v2 = forward(x.astype(np.float32))
    assert np.array_equal(l2, logits) and np.array_equal(v2, values)


def test_a_snapshot_ignores_later_training_and_graphs_need_cuda():
    net = trained_like_net(3)
    x = planes(20, 3)
    forward = fused_forward(net, CPU)
    before = forward(x)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    after = forward(x)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    with pytest.raises(ValueError, match="CUDA"):
        BucketedForward(InferenceNet(net, CPU, torch.float32), CPU, graphs=True)
