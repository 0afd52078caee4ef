"""Judging an iteration: the candidate against the best net, and how good the best now is.

``judge`` plays the arena and decides the promotion, then measures the new best: reference
matches, mistakes on solver-labelled positions (raw policy and search), its empty-board policy,
breadth against the solver on its turn, and its Elo fitted over every match of the run. It
reads and writes no file: the pipeline keeps the reports (``evals/iter_XXXX.json``).
"""

from __future__ import annotations

from alphazero.core.config import Config
from alphazero.core.ratings import fit_elo
from alphazero.nn.checkpoint import Checkpoint
from alphazero.nn.inference import evaluator_for
from alphazero.report.reporter import Reporter
from alphazero.report.reports import JudgeReport
from alphazero.rules import solver
from alphazero.rules.game import Boards
from alphazero.rules.positions import LabelledPosition, score_positions
from alphazero.search.mcts import match_config
from alphazero.stages.arena import (
    MCTSPlayer,
    PolicyPlayer,
    arena_match,
    play_match,
    reference_player,
)
from alphazero.stages.breadth import measure

#: The search's mistakes are measured on every this-many-th position of the policy's set.
SEARCH_EVERY = 2


def judge(it: int, cfg: Config, device, cand: Checkpoint, best: Checkpoint,
          solved: list[LabelledPosition], reporter: Reporter,
          past: list[JudgeReport]) -> JudgeReport:
    """Iteration ``it``'s candidate against ``best`` in the arena and the promotion decision;
    then the new best's reference matches, mistakes on the solver-labelled positions ``solved``
    (none: not measured), empty-board policy, breadth and Elo (over ``past``, the reports of
    earlier iterations, and this one)."""
    cand_ev = evaluator_for(cand.net, device, cfg.inference)
    best_ev = evaluator_for(best.net, device, cfg.inference)
    result, promoted = arena_match(cand_ev, best_ev, cfg.arena, cfg.mcts, seed=it,
                                   reporter=reporter)
    new_best_ev = cand_ev if promoted else best_ev
    # In the order these were always measured: the evaluators' caches see the same calls.
    reference = _reference(new_best_ev, cfg, it)
    cand_mistakes = _mistakes(PolicyPlayer(cand_ev), solved)
    # A promoted candidate is the new best: its policy was just scored.
    best_mistakes = cand_mistakes if promoted else _mistakes(PolicyPlayer(best_ev), solved)
    searcher = MCTSPlayer(new_best_ev, match_config(cfg.mcts, cfg.arena.num_simulations))
    priors, values = new_best_ev(Boards.empty(1))
    breadth = _breadth(searcher, cfg, it, reporter)
    report = JudgeReport(
        iteration=it, wins=result.wins, draws=result.draws, losses=result.losses,
        score=result.score, promoted=promoted, candidate=f"iter_{it}",
        best=f"iter_{best.iteration}", best_after=f"iter_{it if promoted else best.iteration}",
        reference=reference, candidate_policy_mistakes=cand_mistakes,
        policy_mistakes=best_mistakes,
        empty_board={"policy": [round(float(x), 4) for x in priors[0]],
                     "value": round(float(values[0]), 4)},
        breadth=breadth, search_mistakes=_mistakes(searcher, solved[::SEARCH_EVERY]),
        search_positions=len(solved[::SEARCH_EVERY]), policy_positions=len(solved))
    rating = fit_elo(matches([*past, report])).get(report.best_after)
    if rating:
        report.elo, report.elo_ci, report.elo_text = rating.elo, [rating.lo, rating.hi], str(rating)
    return report


def matches(reports: list[JudgeReport]) -> list[tuple[str, str, int, int, int]]:
    """Every recorded match of the run as (a, b, a's wins, draws, a's losses): arena games
    between nets and the reference games of each iteration's best. Reports written before
    players were named are left out."""
    out = []
    for r in reports:
        if r.candidate is None:
            continue
        out.append((r.candidate, r.best, r.wins, r.draws, r.losses))
        for spec, ref in r.reference.items():
            out.append((r.best_after, spec, ref["wins"], ref["draws"], ref["losses"]))
    return out


def _reference(evaluate, cfg: Config, it: int) -> dict:
    out = {}
    if cfg.pipeline.eval_games <= 0:
        return out
    m = match_config(cfg.mcts, cfg.arena.num_simulations)
    me = MCTSPlayer(evaluate, m, "best")
    for spec in cfg.pipeline.eval_opponents:
        r = play_match(me, reference_player(spec, seed=it), cfg.pipeline.eval_games,
                       cfg.arena.opening_plies, seed=10_000 + it, parallel=cfg.arena.parallel_games)
        out[spec] = {"wins": r.wins, "draws": r.draws, "losses": r.losses, "score": r.score}
    return out


def _breadth(searcher, cfg: Config, it: int, reporter: Reporter) -> dict | None:
    """The best net's breadth measure (``breadth.py``) on this iteration's turn, the same
    starts every time (seed 0), or None (off, not its turn, or no solver here: said)."""
    p = cfg.pipeline
    if not p.breadth_starts or (it % p.breadth_every and it != p.iterations):
        return None
    if not solver.available():
        reporter.line("breadth: skipped, it plays against the solver: pip install "
                      "'alphazero-c4[solver]'")
        return None
    return measure(searcher, p.breadth_starts, seed=0).as_dict()


def _mistakes(player, positions: list[LabelledPosition]) -> float | None:
    """``player``'s mistake rate over ``positions`` (None when there are none)."""
    if not positions:
        return None
    scores = score_positions(player, positions)
    return sum(s.mistakes for s in scores.values()) / sum(s.n for s in scores.values())
