"""``alphazero export``: a checkpoint's net as an ONNX file, for other runtimes (a browser
with onnxruntime-web, C++, C#, mobile).

The graph (``INPUTS`` describes it, and the file's own doc string repeats it):

* input ``planes`` float32 [batch, 3, 6, 7], from the side to move's view, row 0 = the top row,
  column 0 = the leftmost: plane 0 the side to move's stones, plane 1 the opponent's, plane 2
  all ones when the side to move is the second player (all zeros for the first);
* output ``logits`` float32 [batch, 7]: policy logits per column; mask full columns to -inf
  before a softmax (the net does not know which columns are full);
* output ``value`` float32 [batch]: the side to move's expected result, -1 (loss) to +1 (win).

The batch dimension is dynamic. BatchNorm runs in inference mode (its running statistics are
constants of the graph). The export is checked against the torch net on real positions
(tests/test_export.py; fp32, largest difference measured on all 6000 Pons positions with the
shipped net: 2.3e-5 for the logits and 7.5e-6 for the value).
"""

from __future__ import annotations

import copy
import io
import os

import torch

from alphazero.core import atomic
from alphazero.nn.net import ConnectNet

INPUTS = ("planes float32 [batch, 3, 6, 7], side to move's view, row 0 = top: plane 0 own "
          "stones, 1 the opponent's, 2 all ones when the second player moves; outputs: logits "
          "float32 [batch, 7] (mask full columns before a softmax), value float32 [batch] in "
          "[-1, 1] for the side to move")

OPSET = 17


class ExportError(RuntimeError):
    """The export extra is missing; the message says how to install it."""


def _require() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ExportError("export needs the export extra: pip install "
                          "'alphazero-c4[export]' (onnx and onnxruntime)") from None


def export_onnx(net: ConnectNet, path: str | os.PathLike) -> None:
    """Write ``net`` (eval mode, fp32, CPU) to ``path`` as ONNX, atomically."""
    _require()
    import onnx

    model = copy.deepcopy(net).float().cpu().eval()
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(1, 3, 6, 7),), buffer, input_names=["planes"],
                          output_names=["logits", "value"], opset_version=OPSET,
                          dynamic_axes={"planes": {0: "batch"}, "logits": {0: "batch"},
                                        "value": {0: "batch"}}, dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = f"alphazero-c4 ConnectNet {net.cfg.describe()}: {INPUTS}"
    onnx.checker.check_model(proto)
    atomic.write_bytes(path, proto.SerializeToString())
