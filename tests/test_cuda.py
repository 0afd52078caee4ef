"""The CUDA path: precision and layout choices checked everywhere, the GPU itself only where
one exists (these tests skip cleanly on CPU-only machines)."""

import numpy as np
import pytest
import torch

from alphazero.core.config import NetConfig, TrainConfig
from alphazero.nn.inference import make_evaluator
from alphazero.nn.net import autocast_dtype, build_net, select_device
from alphazero.rules.game import Boards, State
from alphazero.stages.train import Trainer

CUDA = torch.cuda.is_available()


def test_cpu_choices():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu) is None  # fp32 on CPU: autocast is slower for these convs
    net = build_net(NetConfig(preset="tiny"), cpu)
    assert next(net.parameters()).device.type == "cpu"
    assert select_device("auto").type == ("cuda" if CUDA else "cpu")
    assert NetConfig().resolve(cuda=CUDA).preset == ("paper" if CUDA else "small")


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cuda_evaluator_matches_cpu():
    torch.manual_seed(0)
    cpu_net = build_net(NetConfig(preset="tiny"), "cpu")
    gpu_net = build_net(NetConfig(preset="tiny"), "cuda")
    gpu_net.load_state_dict(cpu_net.state_dict())
    assert autocast_dtype(torch.device("cuda")) in (torch.bfloat16, torch.float16)
    boards = Boards.from_states([State.from_moves(m) for m in ("", "4", "4453", "1122")])
    p_cpu, v_cpu = make_evaluator(cpu_net, "cpu")(boards)
    p_gpu, v_gpu = make_evaluator(gpu_net, "cuda")(boards)
    assert np.allclose(p_cpu, p_gpu, atol=0.03) and np.allclose(v_cpu, v_gpu, atol=0.03)


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
@pytest.mark.parametrize("device", ["cuda:0", f"cuda:{torch.cuda.device_count() - 1}"])
def test_cuda_backends_match_eager_fp32_at_every_bucket(device):
    """fused and graphs against the CPU's fp32 on a net whose BatchNorms are far from the
    defaults (an all-zeros answer or a stale graph input would show), each bucket fed two
    different batches, on the first and on the last GPU (a graph captured on the wrong GPU
    replays nothing)."""
    from alphazero.nn.inference import backend_forward
    from alphazero.rules.encoder import encode

    from .test_encoder_net import random_states
    from .test_fused import trained_like_net

    cpu_net = trained_like_net(0)
    with torch.no_grad():  # outputs that vary with the position: a stale input shows
        for layer in (cpu_net.policy_linear, *cpu_net.value_linears):
            layer.weight.mul_(8)  # (on CPU: stale 0.22 in values, bf16 0.004)
    gpu_net = build_net(NetConfig(preset="tiny"), device)
    gpu_net.load_state_dict(cpu_net.state_dict())
    ref = backend_forward(cpu_net, "eager")
    with torch.cuda.device(device):
        fused = backend_forward(gpu_net.eval(), "fused", torch.device(device))
        graphs = backend_forward(gpu_net.eval(), "graphs", torch.device(device))
    for n in (1, 8, 9, 100, 513, 5000):  # several buckets, each captured once, and a slice
        for seed in (n, n + 1):  # the second batch replays what the first captured
            x = encode(Boards.from_states(random_states(n, seed=seed)))
            ref_l, ref_v = ref(x)
            (fl, fv), (gl, gv) = fused(x), graphs(x)
            ref_p = torch.softmax(torch.from_numpy(ref_l), 1).numpy()
            for logits, values in ((fl, fv), (gl, gv)):
                p = torch.softmax(torch.from_numpy(logits), 1).numpy()
                assert np.abs(values - ref_v).max() < 0.03 and np.abs(p - ref_p).max() < 0.03
            if n >= 100:
                assert np.ptp(gv) > 0.05  # rows differ: the graph reads its input


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cuda_training_learns_and_its_checkpoint_loads_on_cpu(tmp_path):
    from alphazero.nn.checkpoint import load, save
    from alphazero.replay.shards import Samples

    torch.manual_seed(0)
    net = build_net(NetConfig(preset="tiny"), "cuda")
    rng = np.random.default_rng(0)
    s = Samples(rng.integers(0, 2, (256, 3, 6, 7)).astype(np.int8),
                rng.dirichlet(np.ones(7), 256).astype(np.float32),
                rng.choice([-1.0, 1.0], 256).astype(np.float32))
    trainer = Trainer(net, TrainConfig(batch_size=64, epochs=1), torch.device("cuda"))
    first = trainer.fit(s, s)
    for _ in range(8):
        last = trainer.fit(s, s)
    assert torch.backends.cudnn.benchmark  # a fixed batch shape: let cuDNN pick its kernels
    assert np.isfinite(last.train["total"]) and last.train["total"] < first.train["total"]
    path = str(tmp_path / "net.pt")
    save(path, net)
    cpu_net = load(path, device="cpu").net.eval()
    boards = Boards.from_states([State.from_moves(m) for m in ("", "4", "4453", "1122")])
    p_gpu, v_gpu = make_evaluator(net.eval(), "cuda", backend="eager")(boards)
    p_cpu, v_cpu = make_evaluator(cpu_net, "cpu")(boards)
    assert np.allclose(p_cpu, p_gpu, atol=0.03) and np.allclose(v_cpu, v_gpu, atol=0.03)


def test_a_fresh_net_takes_the_preset_of_the_device_it_runs_on(monkeypatch):
    """``self-play --device cuda`` without a checkpoint builds what ``train --device cuda``
    builds (``auto`` = paper on CUDA): the preset is resolved for the worker's device, not
    for the CPU. Device-agnostic: the move to the GPU is stubbed out."""
    import alphazero.nn.inference as inference_module
    import alphazero.nn.net as net_module
    from alphazero.stages import workers

    built = []
    monkeypatch.setattr(net_module, "to_device", lambda net, device: built.append(net) or net)
    monkeypatch.setattr(net_module, "select_device", lambda name: torch.device(name))
    monkeypatch.setattr(inference_module, "evaluator_for", lambda net, device, *a, **k: net)
    workers.load_evaluator(None, NetConfig(), "cuda", init_seed=0)
    assert built[-1].cfg.preset == "paper"
    workers.load_evaluator(None, NetConfig(), "cpu", init_seed=0)
    assert built[-1].cfg.preset == "small"
