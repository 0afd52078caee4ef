"""Atomic writes: whole files with ordinary permissions, no temp left on failure, stale temps
cleaned, data never mistaken for a temp."""

import os

import pytest

from alphazero.core import atomic


def test_a_write_is_whole_with_the_mode_open_would_give(tmp_path):
    path = tmp_path / "f.bin"
    atomic.write_bytes(path, b"payload")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_bytes() == b"payload"
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["f.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic.write_json(path, {"a": 1})
    monkeypatch.setenv("ALPHAZERO_FAULT", "write:1:enospc")
    monkeypatch.setattr("alphazero.core.faults._hits", {})
    with pytest.raises(OSError):
        atomic.write_json(path, {"a": 2})
    assert path.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert os.listdir(tmp_path) == ["f.json"]


def test_stale_temps_are_removed_and_only_they(tmp_path):
    (tmp_path / ".chunk_00001.pkl.abc123.tmp").write_bytes(b"half")
    (tmp_path / "chunk_00000.pkl").write_bytes(b"data")
    assert atomic.remove_stale_temps(tmp_path) == 1
    assert os.listdir(tmp_path) == ["chunk_00000.pkl"]
    assert atomic.remove_stale_temps(tmp_path / "missing") == 0
