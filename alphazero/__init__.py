"""alphazero-c4: AlphaZero for Connect Four."""

import os

__version__ = "0.1.0"

# OpenMP worker threads (torch's intra-op pool) spin-wait for each other between parallel
# regions. Beside other busy processes a spinning thread burns the time slice its partner
# needs: the smoke pipeline ran 16x slower next to two busy loops on 2 cores, where its CPU
# share predicts 2x (scripts/bench_busy.py, docs/benchmarks.md). Spin briefly, then sleep:
# ~7% slower training when the machine is idle, close to the fair share when it is not.
# Read by OpenMP when torch loads, so it must be set before torch is imported; a user's own
# OMP_WAIT_POLICY / GOMP_SPINCOUNT / KMP_BLOCKTIME wins, and ALPHAZERO_KEEP_OMP=1 keeps
# OpenMP's defaults.
if os.environ.get("ALPHAZERO_KEEP_OMP") != "1" and "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # GNU libgomp (Linux torch wheels)
    os.environ.setdefault("KMP_BLOCKTIME", "1")  # LLVM libomp, milliseconds

# The names a user imports from the top, each from the module that owns it; loaded on first
# use, so `import alphazero` stays cheap (no torch) and the layers below keep their own paths.
LENDS = {
    "State": "rules.game",
    "Boards": "rules.game",
    "Config": "core.config",
    "load_config": "core.config",
    "load_checkpoint": "nn.checkpoint",
    "make_evaluator": "nn.inference",
    "Searcher": "search.mcts",
    "analyse": "apps.analysis",
}
_ATTR = {"load_config": "load", "load_checkpoint": "load"}
__all__ = ["__version__", *LENDS]


def __getattr__(name: str):
    if name not in LENDS:
        raise AttributeError(f"module 'alphazero' has no attribute {name!r}")
    import importlib
    module = importlib.import_module(f"alphazero.{LENDS[name]}")
    return getattr(module, _ATTR.get(name, name))
