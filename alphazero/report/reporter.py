"""Where the stages send what they have to say, through one object (AlphaZero.jl's
``Handlers``): progress bars, scalars for TensorBoard, lines for the console, and the
per-iteration metrics rows of a run.

Stages take a ``Reporter`` and call ``bar``, ``scalar``, ``line`` and ``record``; they never
hold a progress flag, a label, a TensorBoard writer or a print function of their own. The
default reporter, ``SILENT``, does nothing, which is what library calls and tests want.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any, Callable


class NullBar:
    """A progress bar that shows nothing (tqdm's interface, the part the stages use)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Reporter:
    """``bars``: show tqdm progress bars; ``log``: where lines go (None = nowhere);
    ``writer``: a TensorBoard ``SummaryWriter`` for scalars (None = none); ``metrics``: the
    JSON-lines file ``record`` appends to; ``label``: put before every bar's name."""

    bars: bool = False
    log: Callable[[str], None] | None = None
    writer: Any = None
    metrics: str | None = None
    label: str = ""

    def labelled(self, label: str) -> Reporter:
        """The same reporter with bars named ``label`` first (e.g. ``iter 3``)."""
        return dataclasses.replace(self, label=f"{self.label}{label} ")

    def bar(self, total: int, desc: str, unit: str) -> Any:
        """A progress bar over ``total`` ``unit``s; close it when done."""
        if not self.bars:
            return NullBar()
        from tqdm import tqdm

        return tqdm(total=total, desc=f"{self.label}{desc}", unit=unit, leave=False,
                    dynamic_ncols=True)

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def figure(self, tag: str, fig: Any, step: int) -> None:
        """A matplotlib figure to TensorBoard's Images tab (``plots.py``)."""
        if self.writer is not None:
            self.writer.add_figure(tag, fig, step, close=False)

    def text(self, tag: str, text: str, step: int) -> None:
        if self.writer is not None:
            self.writer.add_text(tag, text, step)

    def hparams(self, params: dict, metrics: dict, step: int) -> None:
        """The run's settings beside its latest results, for TensorBoard's HParams tab."""
        if self.writer is not None:
            self.writer.add_hparams(params, metrics, run_name="hparams", global_step=step)

    def line(self, text: str) -> None:
        if self.log is not None:
            self.log(text)

    def record(self, row: dict) -> None:
        """Append ``row`` as one JSON line to the metrics file, durably."""
        if self.metrics is None:
            return
        # A kill mid-write can leave a torn line; start on a fresh line so the next row is whole.
        prefix = ""
        if os.path.exists(self.metrics) and os.path.getsize(self.metrics):
            with open(self.metrics, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                prefix = "" if fh.read(1) == b"\n" else "\n"
        with open(self.metrics, "a", encoding="utf-8") as fh:
            fh.write(prefix + json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()


SILENT = Reporter()


def read_metrics(path: str) -> list[dict]:
    """The rows ``record`` wrote, one per finished iteration (the last row of an iteration
    wins); a torn last line (a kill mid-append) is skipped."""
    out: dict[int, dict] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and "iteration" in row:
                    out[row["iteration"]] = row
    return [out[k] for k in sorted(out)]
