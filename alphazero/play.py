"""Play Connect Four against a checkpoint in the terminal."""

from __future__ import annotations

import sys
from typing import Callable, TextIO

from .config import MCTSConfig
from .game import COLS, Boards, Evaluate, State
from .mcts import match_config, search


def ai_move(state: State, evaluate: Evaluate, sims: int, mcts: MCTSConfig) -> tuple[int, dict]:
    """The AI's column and what it saw: visit shares [7], value from its own view."""
    res = search(Boards.from_states([state]), evaluate, match_config(mcts, sims))
    col = int(res.best[0])
    return col, {"shares": res.policy[0], "value": float(res.root_value[0])}


def _read_column(state: State, ask: Callable[[str], str], out: TextIO) -> int | None:
    """Prompt until a legal column is typed; None when the user leaves (q, EOF, Ctrl-C)."""
    while True:
        try:
            line = ask(f"Your move (1-{COLS}, q to quit): ")
        except (EOFError, KeyboardInterrupt):
            print("", file=out)
            return None
        text = line.strip().lower()
        if text in ("q", "quit", "exit"):
            return None
        if not text.isdigit() or not 1 <= int(text) <= COLS:
            shown = repr(line.strip()) if line.strip() else "an empty line"
            print(f"  {shown} is not a column: type a number from 1 to {COLS}.", file=out)
            continue
        col = int(text) - 1
        if not state.is_legal(col):
            print(f"  Column {col + 1} is full: pick another.", file=out)
            continue
        return col


def play_game(evaluate: Evaluate, sims: int, mcts: MCTSConfig, human_first: bool = True,
              ask: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int | None:
    """One interactive game. Returns +1 human won, -1 AI won, 0 draw, None if the human left."""
    state = State()
    human_is_first = human_first
    me, ai = ("X", "O") if human_is_first else ("O", "X")
    print(f"You are {me}, the AI is {ai}. {'You' if human_first else 'The AI'} move first.",
          file=out)
    while True:
        print("\n" + state.render(), file=out)
        if state.is_terminal():
            break
        humans_turn = state.first_to_move == human_is_first
        if humans_turn:
            col = _read_column(state, ask, out)
            if col is None:
                print("Bye.", file=out)
                return None
            state = state.play(col)
        else:
            col, seen = ai_move(state, evaluate, sims, mcts)
            shares = "  ".join(f"{c + 1}:{s:4.0%}" for c, s in enumerate(seen["shares"]))
            print(f"AI plays {col + 1}.  visits {shares}  value {seen['value']:+.2f} "
                  "(AI's view: +1 = it expects to win)", file=out)
            state = state.play(col)
    if state.result() == 0:
        print("Draw: the board is full.", file=out)
        return 0
    # The side to move has lost: the last mover won.
    human_won = state.first_to_move != human_is_first
    print("You win!" if human_won else "The AI wins.", file=out)
    return 1 if human_won else -1
