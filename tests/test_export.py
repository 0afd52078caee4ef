"""``alphazero export``: the ONNX file computes what the torch net does, on real positions.
Skipped without the export extra (onnx, onnxruntime)."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from alphazero.nn.checkpoint import default_path, load  # noqa: E402
from alphazero.rules.encoder import encode  # noqa: E402
from alphazero.rules.game import Boards  # noqa: E402
from alphazero.rules.positions import PONS, load_positions, path_of  # noqa: E402

from .test_cli import assert_user_error, az  # noqa: E402


def test_the_exported_net_matches_torch_on_pons_positions(tmp_path):
    out = tmp_path / "net.onnx"
    proc = az("export", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "logits" in proc.stdout and out.stat().st_size > 1e6
    pos = load_positions(path_of(PONS))[::3]
    planes = encode(Boards(np.array([p.state.own for p in pos], np.uint64),
                           np.array([p.state.mask for p in pos], np.uint64))).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    net = load(default_path()).net.eval()
    # Measured over all 6000 positions with the shipped net: 2.3e-5 (logits), 7.5e-6 (value).
    for batch in (planes[:1], planes[:37], planes):  # the batch dimension is dynamic
        logits, value = session.run(["logits", "value"], {"planes": batch})
        with torch.no_grad():
            ref_logits, ref_value = net(torch.from_numpy(batch))
        assert logits.shape == (len(batch), 7) and value.shape == (len(batch),)
        assert np.abs(logits - ref_logits.numpy()).max() < 1e-4
        assert np.abs(value - ref_value.numpy()).max() < 1e-4
    assert "planes float32" in __import__("onnx").load(str(out)).doc_string


def test_export_refuses_bad_targets_in_one_line(tmp_path):
    assert_user_error(az("export", "--out", tmp_path / "net.txt"), ".onnx")
    (tmp_path / "d.onnx").mkdir()
    assert_user_error(az("export", "--out", tmp_path / "d.onnx"), "folder")
    assert_user_error(az("export", "--checkpoint", tmp_path / "none.pt", "--out",
                         tmp_path / "n.onnx"), "not found")
    assert not (tmp_path / "n.onnx").exists()
