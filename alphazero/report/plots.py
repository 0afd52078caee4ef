"""Pictures drawn with matplotlib (the optional ``plots`` extra): TensorBoard's figures and the
committed curves (scripts/plot_curve.py, scripts/ab_levers.py), each with labelled axes, units
and a legend. Without matplotlib, ``available()`` is False and the pipeline leaves the
figures out (its scalars carry the same numbers).
"""

from __future__ import annotations

import io
import os
from typing import Any

from alphazero.core import atomic

#: Colours of the lines in order (matplotlib's default cycle, fixed so that arms keep theirs).
COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float = 6.4, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files and TensorBoard only: no display needed
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def line_figure(lines: dict[str, list[tuple[float, float]]], title: str, xlabel: str,
                ylabel: str, bands: dict[str, list[tuple[float, float, float]]] | None = None,
                ylim: tuple[float, float] | None = None) -> Any:
    """A line chart: ``lines`` maps a legend name to [(x, y), ...]; ``bands`` maps the same
    names to [(x, y_low, y_high), ...], drawn as a light area behind the line."""
    fig, ax = _figure(8.0, 4.2)
    for i, (name, points) in enumerate(lines.items()):
        colour = COLOURS[i % len(COLOURS)]
        if bands and name in bands:
            xs, lo, hi = zip(*bands[name])
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.15, linewidth=0)
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, color=colour, linewidth=2, label=name,
                    marker="o" if len(points) < 15 else None)  # sparse: show the measures
    fig.suptitle(title)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def mistakes_figure(rows: list[dict]) -> Any:
    """The best net's mistakes (%) on solver-labelled positions per iteration: raw policy and
    search, from metrics rows."""
    lines = {label: [(r["iteration"], 100 * r[key]) for r in rows if r.get(key) is not None]
             for key, label in (("policy_mistakes", "raw policy"),
                                ("search_mistakes", "search"))}
    return line_figure(lines, "best net against perfect play (Pons' positions)", "iteration",
                       "mistakes (%)", ylim=(0, None))


def policy_figure(policy: list[float], value: float) -> Any:
    """The net's policy over the 7 columns of a position, as bars, its value in the title."""
    fig, ax = _figure(5.0, 3.0)
    ax.bar(range(1, len(policy) + 1), [100 * p for p in policy], color=COLOURS[1])
    ax.set(title=f"empty board: value {value:+.3f} (first player's view)", xlabel="column",
           ylabel="prior (%)", xticks=range(1, len(policy) + 1), ylim=(0, 100))
    return fig


def save(fig: Any, path: str) -> None:
    """Write ``fig`` to ``path`` atomically (its extension picks the format: .svg, .png)."""
    buf = io.BytesIO()
    kind = os.path.splitext(path)[1].lstrip(".") or "svg"
    fig.savefig(buf, format=kind, metadata={"Date": None} if kind == "svg" else None)
    atomic.write_bytes(path, buf.getvalue())
