"""Atomic file writes, the one home for them: every file a reader may pick up is whole.

A writer puts the bytes in a hidden temp file beside the target (``.NAME.XXXXXX.tmp``, same
folder so ``os.replace`` never crosses a file system), fsyncs it, then moves it into place. A
kill leaves at most a stale temp file, which no reader looks at and ``remove_stale_temps``
deletes when a run resumes. Fault points ``{kind}write`` and ``{kind}replace`` let the
reliability drills crash a writer at either moment (see ``faults``).
"""

from __future__ import annotations

import json
import os
import tempfile

from alphazero.core import faults

TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"


def _file_mode() -> int:
    # mkstemp creates 0600 files; a finished file gets what open() would give it.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _file_mode()


def is_temp(name: str) -> bool:
    """True for a file name an atomic writer uses while writing (never data)."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def write_bytes(path: str | os.PathLike, payload: bytes | memoryview, kind: str = "") -> None:
    """Write ``payload`` to ``path`` atomically. ``kind`` prefixes the fault points' names
    (``""`` for dataset and JSON files, ``"checkpoint_"`` for checkpoints)."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{os.path.basename(path)}.",
                               suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as fh:
            faults.point(f"{kind}write", path)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        faults.point(f"{kind}replace", path)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text(path: str | os.PathLike, text: str, kind: str = "") -> None:
    """``write_bytes`` of UTF-8 text."""
    write_bytes(path, text.encode("utf-8"), kind)


def write_json(path: str | os.PathLike, obj: object, kind: str = "") -> None:
    """``obj`` as indented JSON, atomically."""
    write_text(path, json.dumps(obj, indent=1) + "\n", kind)


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete the temp files killed writers left in ``folder``; returns how many. A missing
    folder has none."""
    removed = 0
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in names:
        if is_temp(name):
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except FileNotFoundError:
                pass
    return removed
