"""The evaluator stack: mirror symmetry, the position cache, counters; and the inference
backends against eager fp32."""

import numpy as np
import pytest
import torch

from alphazero.core import compiled
from alphazero.core.config import NetConfig
from alphazero.nn.inference import (
    BackendError,
    available_backends,
    backend_forward,
    make_evaluator,
    resolve_backend,
)
from alphazero.nn.net import build_net
from alphazero.rules.game import Boards, batch_mirror
from alphazero.search import cache
from alphazero.search.evaluators import Cached, EvalStats, mirrored, stack, symmetric

from .fakes import CountingEvaluator, hashed_evaluator
from .test_encoder_net import random_states


def positions(n, seed):
    return Boards.from_states(random_states(n, seed=seed))


def test_cache_answers_exactly_what_the_evaluator_would():
    inner = CountingEvaluator(hashed_evaluator)
    stats = EvalStats()
    cached = Cached(inner, 1000, canonical=False, stats=stats)
    b = positions(200, 1)
    twice = Boards(np.concatenate([b.own, b.own[:50]]), np.concatenate([b.mask, b.mask[:50]]))
    p, v = cached(twice)
    ref_p, ref_v = hashed_evaluator(twice)
    assert np.array_equal(p, ref_p) and np.array_equal(v, ref_v)
    unique = len(set(zip(b.own.tolist(), b.mask.tolist())))
    assert sum(inner.calls) == unique                    # repeats within a call: once
    p2, v2 = cached(b)
    assert np.array_equal(p2, ref_p[:200]) and sum(inner.calls) == unique  # all hits
    assert stats.positions == 450 and stats.hits == 450 - unique


def test_the_cache_key_tells_every_position_apart_and_mirrors_with_it():
    b = positions(20000, 7)
    pairs = set(zip(b.own.tolist(), b.mask.tolist()))
    key = b.own + b.mask
    assert len(set(key.tolist())) == len(pairs)  # one key per position, none shared
    m = mirrored(b)
    assert np.array_equal(m.own + m.mask, batch_mirror(key))


@pytest.fixture(params=["compiled", "python"])
def kernels_as(request, monkeypatch):
    """The cache's kernels as numba compiled them, or as the Python they are without numba."""
    if request.param == "python":
        if not compiled.AVAILABLE:
            pytest.skip("numba is not installed: the kernels are Python already")
        for name in ("_find", "_assign", "_answer"):
            fn = getattr(cache, name)
            monkeypatch.setattr(cache, name, getattr(fn, "py_func", fn))
    return request.param


def test_cache_is_bounded_and_forgets_exactly_its_older_half(kernels_as):
    # Ground truth: a model of the two tables with Python sets. Calls of 5 positions drawn
    # with repeats from 60, through a cache of 16 (two tables of 8).
    inner = CountingEvaluator(hashed_evaluator)
    cached = Cached(inner, 16, canonical=False, stats=EvalStats())
    pool = positions(60, 0)
    rng = np.random.default_rng(1)
    current, older, evaluated = set(), set(), 0
    for _ in range(200):
        b = pool.take(rng.integers(0, 60, 5))
        keys = (b.own + b.mask).tolist()
        if len(current) + len(keys) > 8:
            current, older = set(), current
        for k in keys:
            if k not in current:
                evaluated += k not in older
                current.add(k)
        p, v = cached(b)
        ref_p, ref_v = hashed_evaluator(b)
        assert np.array_equal(p, ref_p) and np.array_equal(v, ref_v)
        assert len(cached) == len(current) + len(older) <= 16
    assert sum(inner.calls) == evaluated


def test_cache_tables_stay_exact_when_full_of_colliding_probes(kernels_as):
    # 4096 positions fill one table of 8192 slots to half: long probe runs, every answer
    # still the evaluator's own; a call bigger than half a cache goes uncached, still exact.
    b = positions(4096, 8)
    for canonical in (False, True):
        inner = CountingEvaluator(hashed_evaluator)
        cached = Cached(inner, 8192, canonical=canonical, stats=EvalStats())
        for chunk in range(0, 4096, 512):
            cached(b.take(slice(chunk, chunk + 512)))
        calls = len(inner.calls)
        p, v = cached(b.take(slice(0, 4000)))
        assert len(inner.calls) == calls  # every one a hit
        ref_p, ref_v = hashed_evaluator(b.take(slice(0, 4000)))
        if canonical:  # stored once per mirror pair: answered as the first one asked
            m = mirrored(b.take(slice(0, 4000)))
            ref_m = hashed_evaluator(m)[0][:, ::-1]
            assert np.all(np.all(p == ref_p, axis=1) | np.all(p == ref_m, axis=1))
            assert np.all((v == ref_v) | (v == hashed_evaluator(m)[1]))
        else:
            assert np.array_equal(p, ref_p) and np.array_equal(v, ref_v)
    big = Cached(CountingEvaluator(hashed_evaluator), 100, canonical=False, stats=EvalStats())
    p, v = big(b.take(slice(0, 300)))
    assert np.array_equal(p, hashed_evaluator(b.take(slice(0, 300)))[0]) and len(big) == 0


def test_averaging_is_mirror_symmetric_and_the_cache_serves_mirrors():
    avg = symmetric(hashed_evaluator, "average")
    b = positions(100, 3)
    m = mirrored(b)
    p, v = avg(b)
    pm, vm = avg(m)
    assert np.allclose(p, pm[:, ::-1]) and np.allclose(v, vm)
    inner = CountingEvaluator(hashed_evaluator)
    ev = stack(inner, "average", cache_size=1000)
    ev(b)
    calls = len(inner.calls)
    pc, vc = ev(m)                                       # every mirror is a hit
    assert len(inner.calls) == calls
    assert np.allclose(pc, pm, atol=1e-6) and np.allclose(vc, vm, atol=1e-6)
    assert ev.stats.hits >= len(m) and ev.stats.net_positions <= 2 * len(b)


def test_random_symmetry_mirrors_about_half_the_positions():
    ev = symmetric(hashed_evaluator, "random", seed=0)
    b = positions(400, 4)
    p, _ = ev(b)
    direct, _ = hashed_evaluator(b)
    via_mirror = hashed_evaluator(mirrored(b))[0][:, ::-1]
    same = np.all(np.isclose(p, direct), axis=1)
    flipped = np.all(np.isclose(p, via_mirror), axis=1)
    assert np.all(same | flipped)
    assert 0.35 < flipped[~same].size / len(b) < 0.65
    # The coin is the position's own: any batch, any order, and a mirror answers in mirror.
    order = np.random.default_rng(1).permutation(len(b))
    shuffled, _ = ev(Boards(b.own[order], b.mask[order]))
    assert np.array_equal(shuffled, p[order])
    one_by_one = np.concatenate([ev(Boards(b.own[i:i + 1], b.mask[i:i + 1]))[0]
                                 for i in range(40)])
    assert np.array_equal(one_by_one, p[:40])
    asymmetric = batch_mirror(b.own + b.mask) != b.own + b.mask
    assert np.array_equal(ev(mirrored(b))[0][:, ::-1][asymmetric], p[asymmetric])
    other_seed, _ = symmetric(hashed_evaluator, "random", seed=1)(b)
    assert not np.array_equal(other_seed, p)


def perturbed_net(preset="tiny", seed=0):
    """A net with non-trivial BatchNorm statistics, so folding them is really tested."""
    torch.manual_seed(seed)
    net = build_net(NetConfig(preset=preset))
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return net.eval()


@pytest.mark.parametrize("name", ["folded", "openvino"])
def test_fp32_backends_equal_eager_within_1e4(name):
    if name not in available_backends(torch.device("cpu")):
        pytest.skip(f"{name} is not installed here")
    net = perturbed_net("small")
    planes = np.random.default_rng(0).integers(0, 2, (300, 3, 6, 7)).astype(np.float32)
    ref_logits, ref_values = backend_forward(net, "eager")(planes)
    logits, values = backend_forward(net, name)(planes)
    assert np.abs(logits - ref_logits).max() < 1e-4
    assert np.abs(values - ref_values).max() < 1e-4


def test_every_backend_evaluator_agrees_with_eager_on_positions():
    net = perturbed_net()
    b = positions(64, 5)
    ref_p, ref_v = make_evaluator(net, backend="eager")(b)
    for name in available_backends(torch.device("cpu")):
        if name == "openvino-int8":  # bounded on its own (below): int8 is not exact
            continue
        p, v = make_evaluator(net, backend=name)(b)
        tol = 3e-2 if name.endswith("bf16") else 1e-4
        assert np.abs(p - ref_p).max() < tol and np.abs(v - ref_v).max() < tol, name


def test_an_evaluator_is_a_snapshot_so_its_cache_is_never_stale():
    net = perturbed_net()
    b = positions(32, 6)
    ev = make_evaluator(net, backend="eager", cache_size=100)
    before = ev(b)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.5)
    after_cached = ev(b)                                  # all hits
    uncached = make_evaluator(net, backend="eager")       # the changed net
    assert np.array_equal(after_cached[0], before[0])
    assert not np.allclose(uncached(b)[0], before[0])
    fresh_on_old = make_evaluator(perturbed_net(), backend="eager")(b)
    assert np.allclose(fresh_on_old[0], before[0], atol=1e-6)


def test_auto_takes_bf16_only_where_the_cpu_has_it_natively(monkeypatch, tmp_path):
    import alphazero.nn.inference as inference

    monkeypatch.setattr(inference, "openvino_available", lambda: True)
    monkeypatch.setattr(inference, "native_bf16", lambda: False)
    assert "openvino-bf16" not in inference.auto_candidates(torch.device("cpu"))
    # A calibration kept from before (bf16 chosen) is not trusted on such a CPU.
    monkeypatch.setattr(inference, "_CALIBRATED", {})
    monkeypatch.setenv("ALPHAZERO_CACHE_DIR", str(tmp_path))
    timed = []
    monkeypatch.setattr(inference, "throughput", lambda fwd, *a: timed.append(fwd) or 1.0)
    monkeypatch.setattr(inference, "backend_forward", lambda net, name, dev=None: name)
    key = "k"
    (tmp_path / "calibration.json").write_text(
        '{"k": {"backend": "openvino-bf16", "rates": {}}}')
    name, rates = inference._calibrate(key, perturbed_net, torch.device("cpu"))
    assert name != "openvino-bf16" and "openvino-bf16" not in rates
    assert timed == ["eager", "folded", "openvino"]
    monkeypatch.setattr(inference, "native_bf16", lambda: True)
    assert "openvino-bf16" in inference.auto_candidates(torch.device("cpu"))


def test_bf16_stays_within_its_measured_bounds_on_the_shipped_net():
    # Measured over all 6000 Pons positions (the shipped net, the recipe's iteration 377,
    # openvino-bf16 against openvino): values within 0.074, priors within 0.025, 20 top moves
    # changed, 194 (fp32) and 193 (bf16) mistakes (scripts/int8_check.py; the recipe's
    # iteration 230: 0.074, 0.023, 13, 223 and 224; leg 9's iteration 58: 0.055, 0.024, 26,
    # 313 each).
    if "openvino" not in available_backends(torch.device("cpu")):
        pytest.skip("openvino is not installed here")
    from alphazero.nn.checkpoint import default_path, load
    from alphazero.rules.positions import PONS, load_positions, path_of

    pos = load_positions(path_of(PONS))
    b = Boards(np.array([p.state.own for p in pos], np.uint64),
               np.array([p.state.mask for p in pos], np.uint64))
    net = load(default_path()).net
    p32, v32 = make_evaluator(net, backend="openvino")(b)
    p16, v16 = make_evaluator(net, backend="openvino-bf16")(b)
    assert np.abs(v16 - v32).max() < 0.08 and np.abs(p16 - p32).max() < 0.04
    assert (p16.argmax(1) != p32.argmax(1)).sum() <= 60

    def mistakes(p):
        return sum(x.is_mistake(int(c)) for x, c in zip(pos, p.argmax(1)))
    assert abs(mistakes(p16) - mistakes(p32)) <= 10


def test_int8_stays_within_its_measured_bounds_and_auto_never_takes_it(capfd):
    # Measured over all 6000 Pons positions (the shipped net, the recipe's iteration 377,
    # openvino-int8 against openvino): values within 0.68 (mean 0.026), priors within 0.19,
    # 194 top moves changed, 194 mistakes each (the recipe's iteration 230: 0.49 (0.027),
    # 0.14, 151, 223 and 228).
    if "openvino-int8" not in available_backends(torch.device("cpu")):
        pytest.skip("the int8 extra (nncf) is not installed here")
    from alphazero.nn.checkpoint import default_path, load
    from alphazero.nn.inference import auto_candidates
    from alphazero.rules.positions import PONS, load_positions, path_of

    assert "openvino-int8" not in auto_candidates(torch.device("cpu"))
    pos = load_positions(path_of(PONS))
    b = Boards(np.array([p.state.own for p in pos], np.uint64),
               np.array([p.state.mask for p in pos], np.uint64))
    net = load(default_path()).net
    capfd.readouterr()
    p32, v32 = make_evaluator(net, backend="openvino")(b)
    p8, v8 = make_evaluator(net, backend="openvino-int8")(b)
    assert capfd.readouterr() == ("", "")  # NNCF's progress bars kept off the console
    assert np.abs(v8 - v32).max() < 0.8 and np.abs(v8 - v32).mean() < 0.04
    assert np.abs(p8 - p32).max() < 0.25 and (p8.argmax(1) != p32.argmax(1)).sum() <= 250

    def mistakes(p):
        return sum(x.is_mistake(int(c)) for x, c in zip(pos, p.argmax(1)))
    assert abs(mistakes(p8) - mistakes(p32)) <= 15


def test_selfplay_backend_is_self_plays_alone():
    from alphazero.core.config import InferenceConfig
    from alphazero.nn.inference import evaluator_for
    from alphazero.stages.workers import worker_inference

    net = perturbed_net()
    inf = InferenceConfig(backend="eager", selfplay_backend="folded")
    assert evaluator_for(net, "cpu", inf, selfplay=True).backend == "folded"
    assert evaluator_for(net, "cpu", inf).backend == "eager"
    assert worker_inference(inf, net.cfg, "cpu").backend == "folded"
    same = InferenceConfig(backend="folded")
    assert evaluator_for(net, "cpu", same, selfplay=True).backend == "folded"
    # auto for self-play alone: resolved once, for one thread, and that is what runs
    timed = worker_inference(InferenceConfig(backend="eager", selfplay_backend="auto"),
                             net.cfg, "cpu")
    assert timed.selfplay_backend == "" and timed.backend in available_backends(
        torch.device("cpu"))
    assert evaluator_for(net, "cpu", timed, selfplay=True).backend == timed.backend


def test_auto_picks_an_available_backend_and_a_missing_one_is_a_clear_error(monkeypatch):
    net = perturbed_net()
    name, rates = resolve_backend("auto", net)
    assert name in available_backends(torch.device("cpu"))
    assert not rates or name == max(rates, key=rates.get)
    import alphazero.nn.inference as inference

    monkeypatch.setattr(inference, "openvino_available", lambda: False)
    with pytest.raises(BackendError, match=r"pip install 'alphazero-c4\[fast\]'"):
        backend_forward(net, "openvino")
    with pytest.raises(BackendError, match=r"pip install 'alphazero-c4\[fast,int8\]'"):
        backend_forward(net, "openvino-int8")


def test_openvino_leaves_its_threads_unpinned_so_workers_spread_over_cores():
    # OpenVINO pins its inference thread to a core by default, and every process picks the
    # same one: two self-play workers then share one core (each busy about half the time).
    if "openvino" not in available_backends(torch.device("cpu")):
        pytest.skip("openvino is not installed here")
    from alphazero.nn.inference import openvino_compiled

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a self-play worker runs
    try:
        for precision in ("f32", "bf16"):
            compiled = openvino_compiled(perturbed_net(), precision)
            assert compiled.get_property("ENABLE_CPU_PINNING") is False
            assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
    finally:
        torch.set_num_threads(threads)
