"""Looking inside: one position through the net, the search and the solver (``analyse``), and
a recorded self-play game replayed position by position (``show``)."""

from __future__ import annotations

import os

import numpy as np

from alphazero.core.config import MCTSConfig
from alphazero.replay.shards import Samples, game_lengths
from alphazero.rules import solver
from alphazero.rules.encoder import decode
from alphazero.rules.game import COLS, Boards, State
from alphazero.search.evaluators import Evaluate
from alphazero.search.mcts import match_config, search


def analyse(state: State, evaluate: Evaluate, mcts: MCTSConfig, sims: int,
            solve: bool = True) -> dict:
    """The net's policy and value, the search's shares, Q and value at ``sims`` simulations
    (none at 0), and (``solve``) the solver's scores when its extra is installed. Values are
    from the side to move's view; lists are per column, None where a column is full or
    unvisited."""
    if state.is_terminal():
        raise ValueError("the game is over after these moves: there is nothing to analyse")
    boards = Boards.from_states([state])
    legal = [state.is_legal(c) for c in range(COLS)]
    priors, values = evaluate(boards)
    out = {"ply": state.ply, "to_move": "X" if state.first_to_move else "O",
           "policy": _per_column(priors[0], legal), "value": float(values[0]),
           "sims": sims, "search": None, "solver": None}
    if sims:
        res = search(boards, evaluate, match_config(mcts, sims))
        out["search"] = {"shares": _per_column(res.policy[0], legal),
                         "q": _per_column(res.q[0], legal), "value": float(res.root_value[0]),
                         "best": int(res.move[0]) + 1}
    if not solve:
        return out
    try:
        out["solver"] = solver.scores(state)
    except solver.SolverUnavailable as e:
        out["solver_missing"] = str(e)
    return out


def _per_column(x: np.ndarray, legal: list[bool]) -> list[float | None]:
    return [float(v) if ok and np.isfinite(v) else None for v, ok in zip(x, legal)]


def _row(label: str, cells: list, fmt) -> str:
    return f"{label:<14}" + "".join(f"{'-' if v is None else fmt(v):>6}" for v in cells)


def render_analysis(moves: str, state: State, a: dict) -> str:
    """The analysis as text, every line under 80 characters."""
    lines = [f"After {moves or '(no moves)'}: {a['to_move']} to move, ply {a['ply']}.", "",
             state.render(), "",
             _row("column", list(range(1, COLS + 1)), str),
             _row("net policy %", a["policy"], lambda v: f"{100 * v:.0f}")]
    if a["search"]:
        lines.append(_row("search %", a["search"]["shares"], lambda v: f"{100 * v:.0f}"))
        lines.append(_row("search Q", a["search"]["q"], lambda v: f"{v:+.2f}"))
    if a["solver"]:
        lines.append(_row("solver", a["solver"], lambda v: f"{v:+d}"))
    lines.append("")
    lines.append(f"net value {a['value']:+.2f} (+1: {a['to_move']} wins)")
    if a["search"]:
        lines.append(f"search ({a['sims']} simulations): value {a['search']['value']:+.2f}, "
                     f"plays column {a['search']['best']}")
    if a["solver"]:
        best = max(s for s in a["solver"] if s is not None)
        cols = [str(c + 1) for c, s in enumerate(a["solver"]) if s == best]
        verdict = "wins" if best > 0 else ("draws" if best == 0 else "loses")
        lines.append(f"solver: {a['to_move']} {verdict} with perfect play; best "
                     f"{'column' if len(cols) == 1 else 'columns'} {', '.join(cols)}")
        lines.append("  (solver score > 0: a win, the sooner the larger; 0: a draw; < 0: a loss)")
    elif "solver_missing" in a:
        lines.append(f"solver: not installed ({a['solver_missing'].split(': ', 1)[-1]})")
    return "\n".join(lines)


def game_positions(samples: Samples, k: int) -> Samples:
    """The recorded positions of game ``k`` (0-based) of a dataset file, in order."""
    lengths = game_lengths(samples)
    if not 0 <= k < len(lengths):
        raise IndexError(f"game {k} does not exist: the file holds games 0..{len(lengths) - 1}")
    start = sum(lengths[:k])
    return samples.take(slice(start, start + lengths[k]))


def render_game(samples: Samples, k: int, source: str) -> str:
    """Game ``k`` of ``source`` position by position: the board, the search's policy target,
    the game result z and the root search value q (side to move's view)."""
    game = game_positions(samples, k)
    boards = decode(game.states)
    out = [f"Game {k} of {os.path.basename(source)}: {len(game)} recorded positions."]
    for i in range(len(game)):
        state = boards.state(i)
        q = game.root_values[i]
        out += ["", f"position {i + 1}, ply {state.ply}, "
                    f"{'X' if state.first_to_move else 'O'} to move:", state.render(), "",
                _row("column", list(range(1, COLS + 1)), str),
                _row("target %", list(game.policies[i]), lambda v: f"{100 * v:.0f}"),
                f"result z {game.outcomes[i]:+.0f}" + ("" if np.isnan(q) else
                                                     f", search value q {q:+.2f}")]
    return "\n".join(out)
