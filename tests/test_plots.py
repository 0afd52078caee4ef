"""Pictures (plots.py, the plots extra): labelled axes, units and legends, written atomically;
the curve script draws a committed run's metrics."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from alphazero.report import plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def texts(fig):
    ax = fig.axes[0]
    return {"x": ax.get_xlabel(), "y": ax.get_ylabel(),
            "title": ax.get_title() or (fig._suptitle.get_text() if fig._suptitle else ""),
            "legend": [t.get_text() for t in ax.get_legend().get_texts()]
            if ax.get_legend() else []}


def test_the_mistakes_curve_has_axes_units_and_a_legend():
    rows = [{"iteration": i, "policy_mistakes": 0.3 / i, "search_mistakes": 0.2 / i}
            for i in range(1, 6)]
    t = texts(plots.mistakes_figure(rows))
    assert t["x"] == "iteration" and t["y"] == "mistakes (%)"
    assert t["legend"] == ["raw policy", "search"]
    fig = plots.policy_figure([0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1], 0.25)
    assert texts(fig)["y"] == "prior (%)" and "+0.250" in texts(fig)["title"]


def test_plot_curve_draws_a_committed_run(tmp_path):
    out = tmp_path / "curve.svg"
    proc = subprocess.run([sys.executable, "scripts/plot_curve.py",
                           "checkpoints/metrics.jsonl", "--out", out], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    svg = out.read_text()
    for label in ("iteration", "raw-policy mistakes (Pons)", "arena score of the candidate"):
        assert label in svg
    assert not list(tmp_path.glob("*.tmp"))
