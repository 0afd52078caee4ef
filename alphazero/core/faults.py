"""Fault injection for the reliability drills: die or fail at named points, on request.

Production code calls ``point(name)`` at the moments where a crash is most dangerous (a temp
file written but not yet moved into place, a checkpoint half-way, a promotion in flight). Unless
the environment variable ``ALPHAZERO_FAULT`` names that point, the call does nothing. The value
is ``NAME[:N][:ACTION]``: on the N-th time (default 1) the point is reached in this process,
``kill`` (default) SIGKILLs the process, ``enospc`` raises ``OSError(ENOSPC)`` as a full disk
would, ``erofs`` raises ``OSError(EROFS)`` as a read-only file system would, ``killonce`` kills
only if the file named by ``ALPHAZERO_FAULT_MARKER`` does not exist yet, creating it (so a
restarted process, whose hit counter starts again, survives). Tests use it to crash the pipeline at every phase and check that the run resumes.
"""

from __future__ import annotations

import errno
import os
import signal

_hits: dict[str, int] = {}


def point(name: str, path: str | None = None) -> None:
    """A named moment where a fault may be injected (``path``: the file being written)."""
    spec = os.environ.get("ALPHAZERO_FAULT")
    if not spec:
        return
    parts = spec.split(":")
    if parts[0] != name:
        return
    nth = int(parts[1]) if len(parts) > 1 and parts[1] else 1
    action = parts[2] if len(parts) > 2 else "kill"
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != nth:
        return
    if action in ("enospc", "erofs"):
        code = errno.ENOSPC if action == "enospc" else errno.EROFS
        raise OSError(code, os.strerror(code), path)
    if action == "killonce":
        marker = os.environ["ALPHAZERO_FAULT_MARKER"]
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
