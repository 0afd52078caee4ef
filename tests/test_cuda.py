"""The CUDA path: precision and layout choices checked everywhere, the GPU itself only where
one exists (these tests skip cleanly on CPU-only machines)."""

import numpy as np
import pytest
import torch

from alphazero.config import NetConfig, TrainConfig
from alphazero.game import Boards, State
from alphazero.inference import make_evaluator
from alphazero.net import autocast_dtype, build_net, select_device
from alphazero.train import Trainer

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
def test_cuda_training_step_with_autocast():
    from alphazero.shards import Samples

    torch.manual_seed(0)
    net = build_net(NetConfig(preset="tiny"), "cuda")
    rng = np.random.default_rng(0)
    s = Samples(rng.integers(0, 2, (64, 3, 6, 7)).astype(np.int8),
                rng.dirichlet(np.ones(7), 64).astype(np.float32),
                rng.choice([-1.0, 1.0], 64).astype(np.float32))
    fit = Trainer(net, TrainConfig(batch_size=32, epochs=2), torch.device("cuda")).fit(
        s, s)
    assert np.isfinite(fit.train["total"]) and fit.steps == 4


def test_a_fresh_net_takes_the_preset_of_the_device_it_runs_on(monkeypatch):
    """``self-play --device cuda`` without a checkpoint builds what ``train --device cuda``
    builds (``auto`` = paper on CUDA): the preset is resolved for the worker's device, not
    for the CPU. Device-agnostic: the move to the GPU is stubbed out."""
    import alphazero.inference as inference_module
    import alphazero.net as net_module
    from alphazero import selfplay

    built = []
    monkeypatch.setattr(net_module, "to_device", lambda net, device: built.append(net) or net)
    monkeypatch.setattr(net_module, "select_device", lambda name: torch.device(name))
    monkeypatch.setattr(inference_module, "evaluator_for", lambda net, device, *a, **k: net)
    selfplay.load_evaluator(None, NetConfig(), "cuda", init_seed=0)
    assert built[-1].cfg.preset == "paper"
    selfplay.load_evaluator(None, NetConfig(), "cpu", init_seed=0)
    assert built[-1].cfg.preset == "small"
