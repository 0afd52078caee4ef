"""numba, when the optional extra ``alphazero-c4[fast]`` installs it: ``jit`` compiles a
function of plain loops over numpy arrays, or leaves it as Python (same answers, slower)."""

from __future__ import annotations

try:
    import numba
except ImportError:  # the optional extra is not installed
    numba = None

#: True when ``jit`` compiles (numba imports).
AVAILABLE = numba is not None


def jit(fn):
    """``fn`` compiled by numba (cached on disk, no GIL) when numba is installed, else as is."""
    return numba.njit(cache=True, nogil=True)(fn) if AVAILABLE else fn
