"""``alphazero status RUN_DIR``: a run at a glance, from its config.yaml and metrics.jsonl.

Iterations done, the best net (the iteration that made it and its Elo), the strength curve
(the best net's raw-policy and search mistakes on Pons' positions against CPU core-hours and
self-play positions), the last breadth measure, the time spent, and the command that goes on.
Reads only; a run being written to can be looked at.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from alphazero.core import config
from alphazero.core.config import ConfigError
from alphazero.report.reporter import read_metrics


@dataclass(frozen=True)
class CurvePoint:
    """The best net after ``iteration``: mistakes (fractions, None when not measured) and
    what the run had spent by then."""

    iteration: int
    core_hours: float
    positions: int
    policy_mistakes: float | None
    search_mistakes: float | None


@dataclass(frozen=True)
class RunStatus:
    run_dir: str
    done: int
    planned: int
    net: str
    simulations: int
    best_iteration: int | None  # None: no candidate promoted yet (the run's first net)
    promotions: int
    elo: str | None
    core_hours: float
    wall_seconds: float
    positions: int
    curve: list[CurvePoint] = field(default_factory=list)
    breadth: dict | None = None  # {"iteration", "won": {...}, "drawn": {...}}

    def to_dict(self) -> dict:
        return asdict(self)


def _curve(rows: list[dict], points: int) -> list[CurvePoint]:
    """``points`` rows spread evenly over the run, always with the first and the last."""
    out, cpu, positions = [], 0.0, 0
    picks = {round(i * (len(rows) - 1) / max(points - 1, 1)) for i in range(points)}
    for i, r in enumerate(rows):
        cpu += r.get("cpu_seconds", {}).get("total", 0.0)
        positions += r["selfplay"]["positions"]
        if i in picks:
            out.append(CurvePoint(r["iteration"], round(cpu / 3600, 3), positions,
                                  r.get("policy_mistakes"), r.get("search_mistakes")))
    return out


def summarise(run_dir: str, points: int = 8) -> RunStatus:
    """The status of the run in ``run_dir``; ``ConfigError`` (one line, the fix) when it is
    not a run folder."""
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise ConfigError(f"{run_dir!r} is not a run folder (no config.yaml); start one with "
                          "'alphazero pipeline --config FILE --run-dir DIR'")
    cfg = config.load(path)
    rows = read_metrics(os.path.join(run_dir, "metrics.jsonl"))
    promoted = [r["iteration"] for r in rows if r.get("arena", {}).get("promoted")]
    measured = [r for r in rows if r.get("breadth")]
    breadth = ({"iteration": measured[-1]["iteration"], **measured[-1]["breadth"]}
               if measured else None)
    return RunStatus(
        run_dir=run_dir, done=len(rows), planned=cfg.pipeline.iterations,
        net=cfg.net.describe() if cfg.net.blocks else cfg.net.preset,
        simulations=cfg.mcts.num_simulations,
        best_iteration=promoted[-1] if promoted else None, promotions=len(promoted),
        elo=rows[-1].get("elo_text") if rows else None,
        core_hours=round(sum(r.get("cpu_seconds", {}).get("total", 0.0) for r in rows) / 3600,
                         3),
        wall_seconds=round(sum(r.get("seconds", 0.0) for r in rows), 1),
        positions=sum(r["selfplay"]["positions"] for r in rows),
        curve=_curve(rows, points), breadth=breadth)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _duration(seconds: float) -> str:
    h, m = divmod(round(seconds / 60), 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


def render(s: RunStatus) -> str:
    """The status as the lines ``alphazero status`` prints."""
    best = (f"the candidate of iteration {s.best_iteration} ({s.promotions} promoted in all)"
            if s.best_iteration is not None else "the run's first net (none promoted yet)")
    lines = [f"run {s.run_dir}: {s.done} of {s.planned} iterations done; net {s.net}, "
             f"{s.simulations} simulations",
             f"best net: {best}" + (f"; Elo {s.elo} (random = 0)" if s.elo else ""),
             f"spent: {s.core_hours:.2f} CPU core-hours, {_duration(s.wall_seconds)} of "
             f"iterations, {s.positions:,} self-play positions"]
    if s.curve:
        lines += ["strength: the best net's mistakes on Pons' positions (raw policy on a "
                  "fifth, search on a tenth)",
                  f"  {'iteration':>9}  {'core-hours':>10}  {'positions':>10}  {'policy':>6}"
                  f"  {'search':>6}"]
        lines += [f"  {p.iteration:>9}  {p.core_hours:>10.2f}  {p.positions:>10,}  "
                  f"{_pct(p.policy_mistakes):>6}  {_pct(p.search_mistakes):>6}"
                  for p in s.curve]
    if s.breadth:
        b = s.breadth
        lines.append(f"breadth (iteration {b['iteration']}): won starts kept "
                     f"{b['won']['kept']}/{b['won']['games']}, drawn starts held "
                     f"{b['drawn']['kept']}/{b['drawn']['games']}")
    more = ("raise pipeline.iterations: alphazero pipeline --resume "
            f"{s.run_dir} --set pipeline.iterations={s.planned + 10}"
            if s.done >= s.planned else f"alphazero pipeline --resume {s.run_dir}")
    lines.append(f"continue: {more}")
    return "\n".join(lines)
