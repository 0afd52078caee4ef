"""Weight averaging (SWA): the parameter mean of real nets, BatchNorm statistics measured
afresh on real positions, the inputs untouched."""

import numpy as np
import pytest
import torch

from alphazero.core.config import NetConfig
from alphazero.nn.average import average_nets
from alphazero.nn.net import fresh_net
from alphazero.rules.encoder import encode
from alphazero.rules.game import Boards
from alphazero.search.exploration import random_opening

TINY = NetConfig(preset="tiny").resolve(False)


def positions(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return encode(Boards.from_states([random_opening(rng, 20)[1] for _ in range(n)]))


def test_the_parameters_are_the_mean_and_the_inputs_are_kept():
    a, b = fresh_net(TINY, 1), fresh_net(TINY, 2)
    before = {k: v.clone() for k, v in a.state_dict().items()}
    avg = average_nets([a, b], positions(64), batch=32)
    for (name, pa), pb, pm in zip(a.named_parameters(), b.parameters(), avg.parameters()):
        assert torch.allclose(pm, (pa + pb) / 2, atol=1e-7), name
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in before.items())
    assert not avg.training


def test_batchnorm_statistics_are_those_of_the_averaged_net_on_the_positions():
    a, b = fresh_net(TINY, 1), fresh_net(TINY, 2)
    planes = positions(96)
    avg = average_nets([a, b], planes, batch=32)
    x = torch.from_numpy(planes.astype(np.float32))
    with torch.no_grad():
        pre = avg.stem[0](x)  # what the stem's BatchNorm sees: [n, C, 6, 7]
    assert torch.allclose(avg.stem[1].running_mean, pre.mean((0, 2, 3)), atol=1e-5)
    # in one batch the variance is the positions' own (unbiased)
    one = average_nets([a, b], planes, batch=96)
    assert torch.allclose(one.stem[1].running_var, pre.var((0, 2, 3)), rtol=1e-4)
    assert avg.stem[1].momentum == a.stem[1].momentum  # restored for any later training
    # and not the mean of the inputs' statistics (which fresh nets have at their defaults)
    assert not torch.allclose(avg.stem[1].running_mean, a.stem[1].running_mean)


def test_nets_of_another_architecture_are_refused():
    with pytest.raises(ValueError, match="differ in architecture"):
        average_nets([fresh_net(TINY, 1), fresh_net(NetConfig(preset="small").resolve(False), 1)],
                     positions(8))
    with pytest.raises(ValueError, match="one position"):
        average_nets([fresh_net(TINY, 1)], np.zeros((0, 3, 6, 7), np.uint8))
