"""Draw a run's learning curve as a standalone SVG (no plotting library needed).

    python scripts/plot_curve.py RUN_DIR [--out curve.svg]

Plots, per iteration: the raw policy's mistake rate on solver-labelled positions (the best
net's, and the candidate's where the run measured it), the best net's score against each
reference opponent, and the arena score of the candidate.
"""

import argparse
import json
import os

COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def series(rows):
    out = {}
    if any(r.get("policy_mistakes") is not None for r in rows):
        out["raw-policy mistakes (Pons)"] = [
            (r["iteration"], 100 * r["policy_mistakes"]) for r in rows
            if r.get("policy_mistakes") is not None]
    if any(r.get("candidate_policy_mistakes") is not None for r in rows):
        out["candidate's raw-policy mistakes (Pons)"] = [
            (r["iteration"], 100 * r["candidate_policy_mistakes"]) for r in rows
            if r.get("candidate_policy_mistakes") is not None]
    names = sorted({k for r in rows for k in r.get("reference", {})})
    for n in names:
        out[f"score vs {n}"] = [(r["iteration"], 100 * r["reference"][n]["score"])
                                for r in rows if n in r.get("reference", {})]
    out["arena score of the candidate"] = [(r["iteration"], 100 * r["arena"]["score"])
                                           for r in rows]
    return out


def line_chart(lines: dict, title: str, xlabel: str, y_max: float = 100.0,
               y_min: float = 0.0, bands: dict | None = None) -> str:
    """An SVG line chart: ``lines`` maps a legend name to [(x, y %), ...]; ``bands`` maps
    the same names to [(x, y_low, y_high), ...], drawn as a light area behind the line."""
    w, h, left, right, top, bottom = 800, 420, 60, 270, 40, 50
    pw, ph = w - left - right, h - top - bottom
    xs = [x for pts in lines.values() for x, _ in pts]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1

    def px(x):
        return left + (x - x0) / (x1 - x0) * pw

    def py(y):
        return top + (1 - (y - y_min) / (y_max - y_min)) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left}" y="22" font-size="15">{title}</text>']
    for k in range(6):
        y = y_min + k * (y_max - y_min) / 5
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(y)}" y2="{py(y)}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 8}" y="{py(y) + 4}" text-anchor="end">{y:g}%</text>')
    for k in range(11):
        x = x0 + k * (x1 - x0) / 10
        label = f"{x:,.0f}" if x1 - x0 >= 10 else f"{x:.2g}"
        parts.append(f'<text x="{px(x)}" y="{top + ph + 18}" text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 10}" text-anchor="middle">{xlabel}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                 'stroke="#444"/>')
    for i, (name, pts) in enumerate(lines.items()):
        c = COLOURS[i % len(COLOURS)]
        if bands and name in bands:
            b = bands[name]
            ring = [(x, lo) for x, lo, _ in b] + [(x, hi) for x, _, hi in b[::-1]]
            area = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ring)
            parts.append(f'<polygon points="{area}" fill="{c}" fill-opacity="0.15" '
                         'stroke="none"/>')
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        ly = top + 14 + 20 * i
        parts.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 32}" y1="{ly - 4}" '
                     f'y2="{ly - 4}" stroke="{c}" stroke-width="3"/>')
        parts.append(f'<text x="{left + pw + 38}" y="{ly}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def svg(rows, title: str) -> str:
    return line_chart(series(rows), title, "iteration")


def read_rows(run_dir: str) -> list[dict]:
    """The metrics rows of a run, one per iteration, in order (later duplicates win)."""
    rows = {}
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
                rows[r["iteration"]] = r
            except (json.JSONDecodeError, KeyError):
                continue
    return [rows[k] for k in sorted(rows)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None)
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    rows = read_rows(a.run_dir)
    out = a.out or os.path.join(a.run_dir, "curve.svg")
    positions = sum(r["selfplay"]["positions"] for r in rows)
    title = a.title or (f"{os.path.basename(os.path.normpath(a.run_dir))}: {len(rows)} "
                        f"iterations, {positions:,} self-play positions")
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(svg(rows, title))
    print(out)


if __name__ == "__main__":
    main()
