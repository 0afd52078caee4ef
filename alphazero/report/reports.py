"""What each stage of an iteration hands the Reporter: small typed reports.

The pipeline's stage functions hand them over: self-play a ``SelfPlayReport`` (from the
pool's figures and the iteration's data files), judging a ``JudgeReport``; training's
``TrainReport`` is read from the candidate checkpoint's meta. ``IterationReport`` holds the
three with the iteration's time. A report knows its TensorBoard scalars (``scalars``) and its
part of the metrics.jsonl row (``row``), so the pipeline's ``publish`` is a loop over them and
the row's format lives here, beside the fields it is made of.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterator

from alphazero.core.ratings import wilson

Scalars = Iterator[tuple[str, float]]

# Self-play's speed figures that go to TensorBoard when present (``workers.work_summary``).
_WORK_SCALARS = ("evals_per_cpu_s", "positions_per_cpu_s", "cache_hit_rate",
                 "mean_batch_occupancy", "net_cpu_share", "noised_visits_inherited",
                 "worker_core_use", "worker_rss_mb")


@dataclass(frozen=True)
class SelfPlayReport:
    """An iteration's self-play: its dataset (all of it, also what a killed run wrote before
    the restart) and the speed of the part played now (``work``: ``workers.work_summary``)."""

    positions: int
    games: int
    mean_game_moves: float | None
    positions_per_s: float
    work: dict = field(default_factory=dict)
    #: CPU seconds of the worker processes, which the caller's clock cannot see, plus what the
    #: chunks a killed run left had recorded (not a row field: the iteration's CPU count
    #: includes it).
    pool_cpu_seconds: float = 0.0

    def row(self) -> dict:
        return {"positions": self.positions, "games": self.games,
                "mean_game_moves": self.mean_game_moves,
                "positions_per_s": self.positions_per_s, **self.work}

    def scalars(self) -> Scalars:
        yield "selfplay/positions", self.positions
        yield "selfplay/positions_per_s", self.positions_per_s
        for key in _WORK_SCALARS:
            if key in self.work:
                yield f"selfplay/{key}", self.work[key]
        if self.mean_game_moves:
            yield "selfplay/mean_game_moves", self.mean_game_moves


@dataclass(frozen=True)
class TrainReport:
    """The candidate's training: mean losses on the window (``train``), on the held-out games
    (``val``) and on the held-out positions the net never trained on (``val_unseen``, a
    ``unseen_share`` of them), the window's size and the optimizer steps."""

    train: dict = field(default_factory=dict)
    val: dict = field(default_factory=dict)
    val_unseen: dict = field(default_factory=dict)
    unseen_share: float | None = None
    window_positions: int | None = None
    steps: int | None = None
    global_step: int | None = None

    @classmethod
    def from_meta(cls, meta: dict) -> TrainReport:
        """From a candidate checkpoint's meta (``train.train_and_save`` writes it)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in meta.items() if k in names})

    def row(self) -> dict:
        return {"train": self.train, "val": self.val, "val_unseen": self.val_unseen,
                "val_unseen_share": self.unseen_share,
                "window_positions": self.window_positions, "train_steps": self.steps,
                "global_step": self.global_step}

    def scalars(self) -> Scalars:
        # Per-iteration means, on the iteration axis of every other chart (the train/ and val/
        # tags are per optimizer step).
        for part in ("train", "val", "val_unseen"):
            for k, x in getattr(self, part).items():
                yield f"iteration_{part}/{k}", x
        if self.unseen_share is not None:
            yield "iteration_val_unseen/share", self.unseen_share


@dataclass
class JudgeReport:
    """The judging of an iteration (``evals/iter_XXXX.json``, same keys): the arena between
    candidate and best and its decision, the new best's reference matches, mistakes on
    solver-labelled positions (raw policy, candidate's policy, search) with their counts, its
    empty-board policy, breadth against the solver when measured, and its Elo over the run.
    Fields an older file lacks are None."""

    iteration: int
    wins: int
    draws: int
    losses: int
    score: float
    promoted: bool
    candidate: str | None = None
    best: str | None = None
    best_after: str | None = None
    reference: dict = field(default_factory=dict)
    candidate_policy_mistakes: float | None = None
    policy_mistakes: float | None = None
    empty_board: dict | None = None
    breadth: dict | None = None
    search_mistakes: float | None = None
    search_positions: int | None = None
    policy_positions: int | None = None
    elo: float = 0.0
    elo_ci: list | None = None
    elo_text: str = "n/a"

    @classmethod
    def from_json(cls, d: dict) -> JudgeReport:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def as_json(self) -> dict:
        d = dataclasses.asdict(self)
        if d["breadth"] is None:  # measured every few iterations: absent, not null
            del d["breadth"]
        return d

    def row(self) -> dict:
        return {"arena": {k: getattr(self, k)
                          for k in ("wins", "draws", "losses", "score", "promoted")},
                "elo": self.elo, "elo_ci": self.elo_ci, "elo_text": self.elo_text,
                "reference": self.reference,
                **{k: getattr(self, k) for k in (
                    "policy_mistakes", "policy_positions", "search_mistakes", "search_positions",
                    "candidate_policy_mistakes", "empty_board", "breadth")}}

    def scalars(self) -> Scalars:
        """Mistakes against perfect play with their 95% intervals, breadth, Elo, arena,
        references."""
        for key, n in (("policy_mistakes", self.policy_positions),
                       ("search_mistakes", self.search_positions),
                       ("candidate_policy_mistakes", self.policy_positions)):
            rate = getattr(self, key)
            if rate is None:
                continue
            yield f"strength/{key}", rate
            if n:  # evals written before the counts were recorded have none
                lo, hi = wilson(rate * n, n)
                yield f"strength/{key}_ci95_low", lo
                yield f"strength/{key}_ci95_high", hi
        yield "strength/elo", self.elo
        for kind, b in (self.breadth or {}).items():
            yield f"breadth/{kind}_kept", b["kept_rate"]
            yield f"breadth/{kind}_good_moves", b["good_move_rate"]
        if self.elo_ci:
            yield "strength/elo_ci95_low", self.elo_ci[0]
            yield "strength/elo_ci95_high", self.elo_ci[1]
        yield "arena/score", self.score
        yield "arena/promoted", float(self.promoted)
        yield "arena/games", self.wins + self.draws + self.losses
        for name, r in self.reference.items():
            yield f"reference/{name}", r["score"]


@dataclass(frozen=True)
class IterationReport:
    """One iteration: the settings its schedule set, its three stages' reports, and the CPU
    and wall seconds per phase (``seconds``: the whole iteration, set when it ends)."""

    iteration: int
    scheduled: dict | None  # None: the run has no schedule
    selfplay: SelfPlayReport
    train: TrainReport
    judge: JudgeReport
    cpu_seconds: dict
    wall_seconds: dict
    seconds: float = 0.0

    def parts(self) -> tuple[SelfPlayReport, TrainReport, JudgeReport]:
        return self.selfplay, self.train, self.judge

    def scalars(self) -> Scalars:
        for part in self.parts():
            yield from part.scalars()
        for phase, seconds in self.wall_seconds.items():
            yield f"time/{phase}_s", seconds

    def row(self) -> dict:
        """The metrics.jsonl row (``read_metrics`` gives these back as dicts)."""
        return {"iteration": self.iteration,
                **({"scheduled": self.scheduled} if self.scheduled is not None else {}),
                "selfplay": self.selfplay.row(), **self.train.row(), **self.judge.row(),
                "cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds,
                "seconds": self.seconds}
