"""Play Connect Four against a checkpoint in the terminal."""

from __future__ import annotations

import select
import sys
import time
from typing import Callable, TextIO

from alphazero.core.config import MCTSConfig
from alphazero.rules.game import COLS, ROWS, Boards, State, four_cells
from alphazero.search.evaluators import Evaluate
from alphazero.search.mcts import Searcher, match_config


def ai_move(state: State, evaluate: Evaluate, sims: int, mcts: MCTSConfig,
            searcher: Searcher | None = None) -> tuple[int, dict]:
    """The AI's column and what it saw: its move shares [7] (the search's policy, or with
    ``sims`` = 0 the raw network policy) and its value, from its own view. ``searcher``: a
    game's ``Searcher`` (it reuses the subtree of its last move and the reply)."""
    boards = Boards.from_states([state])
    if sims == 0:
        priors, values = evaluate(boards)
        return int(priors[0].argmax()), {"shares": priors[0], "value": float(values[0])}
    res = (searcher or Searcher(evaluate, match_config(mcts, sims)))(boards)
    return int(res.move[0]), {"shares": res.policy[0], "value": float(res.root_value[0])}


def ask_line(prompt: str) -> str:
    """``input(prompt)`` that Ctrl-C always interrupts at once. The inference runtimes keep
    threads of their own, and the kernel may hand SIGINT to one of them: Python then raises
    KeyboardInterrupt only once the main thread runs again, which a blocking read of the
    terminal would put off until Enter. Waiting in short selects lets it run."""
    if not hasattr(select, "poll") or not sys.stdin.isatty():
        return input(prompt)
    print(prompt, end="", flush=True)
    while not select.select([sys.stdin], [], [], 0.1)[0]:
        pass
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


#: What ``_read_column`` returns when the human asks to take back their last move.
UNDO = -1


def _read_column(state: State, ask: Callable[[str], str], out: TextIO) -> int | None:
    """Prompt until a legal column (or u: ``UNDO``) is typed; None when the user leaves (q,
    EOF). Ctrl-C is not leaving quietly: it goes up as KeyboardInterrupt (exit status 130)."""
    while True:
        try:
            line = ask(f"Your move (1-{COLS}, u to undo, q to quit): ")
        except EOFError:
            print("", file=out)
            return None
        except KeyboardInterrupt:
            print("", file=out)
            raise
        text = line.strip().lower()
        if text in ("q", "quit", "exit"):
            return None
        if text in ("u", "undo"):
            return UNDO
        if not text.isdigit() or not 1 <= int(text) <= COLS:
            shown = repr(line.strip()) if line.strip() else "an empty line"
            print(f"  {shown} is not a column: type a number from 1 to {COLS}.", file=out)
            continue
        col = int(text) - 1
        if not state.is_legal(col):
            print(f"  Column {col + 1} is full: pick another.", file=out)
            continue
        return col


def _what_it_saw(sims: int, mcts: MCTSConfig) -> str:
    if sims == 0:
        return "policy"
    return "policy" if mcts.root_selection == "gumbel" else "visits"


def _ai_turn(state: State, evaluate: Evaluate, sims: int, mcts: MCTSConfig,
             searcher: Searcher, out: TextIO) -> int:
    """Think (saying so), then report the move, how long it took, and what the AI saw, in
    lines under 80 characters."""
    print("AI is thinking...", end="", file=out, flush=True)
    t0 = time.perf_counter()
    col, seen = ai_move(state, evaluate, sims, mcts, searcher)
    shares = " ".join(f"{round(100 * s):d}" for s in seen["shares"])
    print(f"\rAI plays {col + 1} after {time.perf_counter() - t0:.1f} s.   ", file=out)
    print(f"  {_what_it_saw(sims, mcts)} % by column: {shares} | value {seen['value']:+.2f} "
          "(+1: AI wins)", file=out)
    return col


def _final_board(state: State, out: TextIO) -> None:
    """The last board with the winning four marked (bold and inverse on a terminal, the four
    cells listed otherwise)."""
    four = four_cells(state.own ^ state.mask) if state.result() != 0 else 0
    tty = getattr(out, "isatty", lambda: False)()
    print("\n" + state.render(four, (lambda s: f"\x1b[1;7m{s}\x1b[0m") if tty else str),
          file=out)
    if four and not tty:
        cells = [f"{c + 1}/{r + 1}" for c in range(COLS) for r in range(ROWS)
                 if four >> (c * (ROWS + 1) + r) & 1]
        print(f"Four in a row at column/row {', '.join(cells)}.", file=out)


def play_game(evaluate: Evaluate, sims: int, mcts: MCTSConfig, human_first: bool = True,
              ask: Callable[[str], str] = ask_line, out: TextIO = sys.stdout,
              start: str = "") -> int | None:
    """One interactive game from the position after the moves ``start`` ("4453"; the human
    plays the side to move there when ``human_first``). Returns +1 human won, -1 AI won, 0
    draw, None if the human left. At their turn the human can undo their last move (and the
    AI's reply)."""
    state, moves = State.from_moves(start), start
    human_side = state.first_to_move == human_first  # True: the human plays X
    searcher = Searcher(evaluate, match_config(mcts, max(sims, 1)))
    me, ai = ("X", "O") if human_side else ("O", "X")
    print(f"You are {me}, the AI is {ai}. {'You move' if human_first else 'The AI moves'} "
          f"first{' after ' + start if start else ''}.", file=out)
    turns: list[tuple[State, str]] = []  # the positions where the human was to move
    try:
        while not state.is_terminal():
            print("\n" + state.render(), file=out)
            if state.first_to_move != human_side:
                col = _ai_turn(state, evaluate, sims, mcts, searcher, out)
            elif (col := _read_column(state, ask, out)) is None:
                print(f"Moves so far: {moves or '(none)'}\nBye.", file=out)
                return None
            elif col == UNDO:
                if not turns:
                    print("  Nothing to undo yet.", file=out)
                    continue
                state, moves = turns.pop()
                searcher = Searcher(evaluate, match_config(mcts, max(sims, 1)))  # no stale tree
                print(f"  Taken back: moves {moves or '(none)'}.", file=out)
                continue
            else:
                turns.append((state, moves))
            state, moves = state.play(col), moves + str(col + 1)
    except KeyboardInterrupt:
        print(f"Moves so far: {moves or '(none)'}", file=out)
        raise
    _final_board(state, out)
    if state.result() == 0:
        outcome, text = 0, "Draw: the board is full."
    else:  # the side to move has lost: the last mover won
        outcome = 1 if state.first_to_move != human_side else -1
        text = "You win!" if outcome == 1 else "The AI wins."
    print(f"{text} Moves: {moves}", file=out)
    return outcome


def _yes_no(ask: Callable[[str], str], question: str, default: bool, out: TextIO) -> bool:
    """Ask until y/yes, n/no or Enter (``default``); EOF and q are no."""
    hint = "[Y/n]" if default else "[y/N]"
    while True:
        try:
            text = ask(f"{question} {hint} ").strip().lower()
        except EOFError:
            return False
        if text in ("y", "yes") or (not text and default):
            return True
        if text in ("n", "no", "q", "quit") or not text:
            return False
        print(f"  {text!r} is not an answer: type y or n (Enter: "
              f"{'yes' if default else 'no'}).", file=out)


def play_session(evaluate: Evaluate, sims: int, mcts: MCTSConfig, header: str,
                 human_first: bool | None = True, ask: Callable[[str], str] = ask_line,
                 out: TextIO = sys.stdout, start: str = "") -> None:
    """Games until the human declines another; colours swap after each game. ``human_first``
    None: ask who moves first."""
    print(header, file=out)
    if human_first is None:
        human_first = _yes_no(ask, "Do you want to move first?", True, out)
    while play_game(evaluate, sims, mcts, human_first, ask, out, start) is not None:
        if not _yes_no(ask, "Play again, with colours swapped?", False, out):
            print("Bye.", file=out)
            return
        human_first = not human_first
