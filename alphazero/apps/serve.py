"""``alphazero serve``: the net in a browser: play it, watch it think, replay its self-play.

A Starlette app (the optional ``web`` extra: starlette and uvicorn) serving one static page
(``alphazero/web/``: HTML, CSS and JavaScript, no build step, nothing from a CDN) and a small
JSON API. The rules stay on the server: the page sends move strings ("4453") and draws what
comes back.

    GET /api/info                         the net, the limits, whether the solver and a run exist
    GET /api/state?moves=4453             the board, whose move, legal columns, result, the four
    GET /api/think?moves=4453&sims=200    the state plus the net's prior and value and, with
                                          sims > 0, the search's visit shares, Q, value and move
    GET /api/solve?moves=4453             each column's exact score (the ``solver`` extra)
    GET /api/games                        the run's self-play iterations and their game counts
    GET /api/game?iteration=3&game=17     one recorded game: boards, policy targets, z and q

A bad request (a malformed or illegal move string, a finished game, an out-of-range number,
an unknown game) is a 4xx with ``{"error": "one line"}``; the server keeps serving. Searches
run in threads off the event loop, at most ``searches`` at once, each with its own evaluator;
up to ``queue`` more wait, and beyond that a request gets a 503 at once.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

from alphazero.apps.analysis import analyse, game_positions
from alphazero.core.config import MCTSConfig
from alphazero.replay.shards import DataError, game_lengths, read_samples
from alphazero.rules import solver
from alphazero.rules.encoder import decode
from alphazero.rules.game import COLS, ROWS, IllegalMoveError, State, four_cells

STATIC = str(resources.files("alphazero") / "web")
_ITER_DIR = re.compile(r"iter_([0-9]{4})")
_CHUNK = re.compile(r"chunk_[0-9]{5}\.pkl")


class BadRequest(Exception):
    """A request the API refuses: ``status`` (4xx or 503) and a one-line message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask for and how many searches run at once."""

    max_sims: int = 1600
    searches: int = 2
    queue: int = 8


# --------------------------------------------------------------------------------------------
# Positions and numbers from a request
# --------------------------------------------------------------------------------------------


def parse_moves(text: str | None) -> State:
    """The position of a move string of columns 1-7 (empty = the empty board)."""
    text = (text or "").strip()
    if len(text) > ROWS * COLS or not re.fullmatch(r"[1-7]*", text):
        raise BadRequest(f"moves {text[:50]!r}: give columns 1-7 as one string, e.g. 4453")
    try:
        return State.from_moves(text)
    except IllegalMoveError as e:
        raise BadRequest(str(e)) from None


def parse_int(params, name: str, default: int, lo: int, hi: int) -> int:
    """Query parameter ``name`` as a whole number in [lo, hi]."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw.strip()):
        raise BadRequest(f"{name} {raw[:20]!r} is not a whole number")
    value = int(raw)
    if not lo <= value <= hi:
        raise BadRequest(f"{name} {value} is out of range: use {lo} to {hi}")
    return value


def board_json(state: State, moves: str) -> dict:
    """The position for the page: cells [row 0 = bottom][column] (0 empty, 1 first player, 2
    second), whose move, legal columns, the result and the winning four's cells."""
    result = state.result()
    winner = None
    four: list[list[int]] = []
    if result == -1:  # the previous mover made four
        winner = "O" if state.first_to_move else "X"
        bits = four_cells(state.own ^ state.mask)
        four = [[r, c] for c in range(COLS) for r in range(ROWS) if bits >> (c * 7 + r) & 1]
    return {"moves": moves, "ply": state.ply,
            "cells": [[state.cell(r, c) for c in range(COLS)] for r in range(ROWS)],
            "to_move": "X" if state.first_to_move else "O",
            "legal": [state.is_legal(c) for c in range(COLS)],
            "over": state.is_terminal(), "winner": winner,
            "draw": result == 0, "four": four}


# --------------------------------------------------------------------------------------------
# The net, with a bounded number of searches at once
# --------------------------------------------------------------------------------------------


class Thinker:
    """``searches`` evaluators of one net (each search takes one, so no evaluator is used by
    two threads at once) behind a gate that lets at most ``queue`` requests wait."""

    def __init__(self, evaluators: list, mcts: MCTSConfig, limits: Limits):
        self.mcts, self.limits = mcts, limits
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for ev in evaluators:
            self._free.put(ev)
        self._slots = asyncio.Semaphore(len(evaluators))
        self._waiting = 0
        self._solver = threading.Lock()

    async def _gated(self, fn, gone=None):
        """``fn(evaluator)`` in a thread once a slot is free; 503 when too many wait. Skipped
        when ``gone()`` (the client left while it waited)."""
        if self._slots.locked() and self._waiting >= self.limits.queue:
            raise BadRequest(f"busy: {self.limits.searches} searches running and "
                             f"{self._waiting} waiting; try again in a moment", 503)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            if gone is not None and await gone():
                raise BadRequest("the client went away", 499)
            return await asyncio.to_thread(self._with_evaluator, fn)
        finally:
            self._slots.release()

    def _with_evaluator(self, fn):
        # Taken and given back in the thread itself: a request cancelled while its search
        # runs frees its slot, but the evaluator only once the search is done with it.
        ev = self._free.get()
        try:
            return fn(ev)
        finally:
            self._free.put(ev)

    async def think(self, state: State, sims: int, gone=None) -> dict:
        """``analysis.analyse`` of ``state`` at ``sims`` simulations (no solver)."""
        return await self._gated(lambda ev: analyse(state, ev, self.mcts, sims, solve=False),
                                 gone)

    async def solve(self, state: State, gone=None) -> list[int | None]:
        """The solver's score of every column (``solver.scores``), through the same gate,
        one solve at a time (the solver is one object)."""
        def run(_ev):
            with self._solver:
                return solver.scores(state)
        return await self._gated(run, gone)


# --------------------------------------------------------------------------------------------
# Recorded games of a run folder
# --------------------------------------------------------------------------------------------


class RunGames:
    """The self-play games of a run folder, read only through its own ``data/iter_XXXX/
    chunk_XXXXX.pkl`` names: a request names an iteration and a game number, never a path."""

    def __init__(self, run_dir: str | None):
        self.data = os.path.join(run_dir, "data") if run_dir else None
        self._seen: dict[str, tuple[float, list[int]]] = {}  # path -> (mtime, game lengths)

    def _lengths(self, path: str) -> list[int]:
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            return []
        if self._seen.get(path, (None,))[0] != mtime:
            self._seen[path] = (mtime, _lengths(path))
        return self._seen[path][1]

    def _chunks(self, iteration: int) -> list[str]:
        folder = os.path.join(self.data, f"iter_{iteration:04d}")
        if not os.path.isdir(folder):
            raise BadRequest(f"iteration {iteration} has no self-play games in this run", 404)
        return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
                if _CHUNK.fullmatch(n)]

    def index(self) -> list[dict]:
        """Every iteration with games: ``[{"iteration": i, "games": n}]``."""
        if self.data is None or not os.path.isdir(self.data):
            return []
        out = []
        for name in sorted(os.listdir(self.data)):
            m = _ITER_DIR.fullmatch(name)
            if m and os.path.isdir(os.path.join(self.data, name)):
                games = sum(len(self._lengths(p)) for p in self._chunks(int(m.group(1))))
                out.append({"iteration": int(m.group(1)), "games": games})
        return out

    def game(self, iteration: int, number: int) -> dict:
        """Game ``number`` (0-based, in file order) of ``iteration``: every recorded position
        with its board, side to move, policy target, z and q."""
        if self.data is None:
            raise BadRequest("no run folder: start the server with --run RUN_DIR", 404)
        for path in self._chunks(iteration):
            n = len(self._lengths(path))
            if number < n:
                try:
                    return _game_json(read_samples(path), number, iteration)
                except (DataError, OSError, IndexError) as e:
                    raise BadRequest(f"game {number} of iteration {iteration} cannot be read: "
                                     f"{str(e).splitlines()[0]}", 422) from None
            number -= n
        raise BadRequest(f"iteration {iteration} has fewer games than asked for", 404)


def _lengths(path: str) -> list[int]:
    try:
        samples = read_samples(path)
    except (DataError, OSError):
        return []  # a damaged or vanished file shows no games rather than breaking the list
    return game_lengths(samples)


def _game_json(samples, k: int, iteration: int) -> dict:
    game = game_positions(samples, k)
    boards = decode(game.states)
    positions = []
    for i in range(len(game)):
        state = boards.state(i)
        q = float(game.root_values[i])
        positions.append({**board_json(state, ""), "policy": game.policies[i].tolist(),
                          "z": float(game.outcomes[i]), "q": None if q != q else q})
    ids = samples.meta.get("game_ids")
    game_id = ids[k] if isinstance(ids, list) and k < len(ids) else k
    return {"iteration": iteration, "game_id": game_id, "positions": positions}


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------


def _api(thinker: Thinker, games: RunGames, info: dict) -> dict:
    """The API's handlers by name: ``handler(query, request) -> JSON-able``; a
    ``BadRequest`` becomes a 4xx answer."""
    limits = thinker.limits

    async def state(q, _request):
        return board_json(parse_moves(q.get("moves")), (q.get("moves") or "").strip())

    async def think(q, request):
        moves = (q.get("moves") or "").strip()
        st = parse_moves(moves)
        sims = parse_int(q, "sims", 0, 0, limits.max_sims)
        if st.is_terminal():
            raise BadRequest(f"the game is over after {moves}: there is nothing to think about")
        return {**board_json(st, moves),
                **await thinker.think(st, sims, gone=request.is_disconnected)}

    async def solve(q, request):
        moves = (q.get("moves") or "").strip()
        st = parse_moves(moves)
        if st.is_terminal():
            raise BadRequest(f"the game is over after {moves}: there is nothing to solve")
        if not info["solver"]:
            raise BadRequest("the solver is not installed here: pip install "
                             "'alphazero-c4[solver]'", 404)
        scores = await thinker.solve(st, gone=request.is_disconnected)
        return {"moves": moves, "scores": scores,
                "verdicts": [None if x is None else solver.verdict(x, st.ply) for x in scores]}

    async def run_games(q, _request):  # reads files: off the event loop
        return {"iterations": await asyncio.to_thread(games.index)}

    async def one_game(q, _request):
        it, k = parse_int(q, "iteration", 1, 1, 9999), parse_int(q, "game", 0, 0, 10**6)
        return await asyncio.to_thread(games.game, it, k)

    async def show_info(q, _request):
        return info

    return {"info": show_info, "state": state, "think": think, "solve": solve,
            "games": run_games, "game": one_game}


def create_app(thinker: Thinker, games: RunGames, info: dict):
    """The Starlette app: the page under ``/`` and the API of the module doc."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def api(handler):
        async def endpoint(request):
            try:
                return JSONResponse(await handler(request.query_params, request))
            except BadRequest as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)
        return endpoint

    async def page(request):
        return FileResponse(os.path.join(STATIC, "index.html"))

    async def not_found(request, exc):
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            return JSONResponse({"error": f"{exc.detail}: {request.url.path}"},
                                status_code=exc.status_code)
        return JSONResponse({"error": f"no such page: {request.url.path}"}, status_code=404)

    routes = [Route("/", page), *(Route(f"/api/{name}", api(fn))
                                  for name, fn in _api(thinker, games, info).items()),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


def build(checkpoint: str | None, run_dir: str | None, limits: Limits, cfg) -> Any:
    """The app for ``checkpoint`` (its net, ``limits.searches`` evaluators of it with the
    config's inference settings for playing to win) and the games of ``run_dir``."""
    from alphazero.nn import checkpoint as ckpt
    from alphazero.nn.inference import evaluator_for
    from alphazero.nn.net import fresh_net

    if checkpoint is not None:
        loaded = ckpt.load(checkpoint, "cpu")
        net, meta = loaded.net, {"iteration": loaded.iteration}
    else:
        net, meta = fresh_net(cfg.net, cfg.selfplay.seed), {"iteration": 0}
    evaluators = [evaluator_for(net, "cpu", cfg.inference) for _ in range(limits.searches)]
    info = {"checkpoint": os.path.basename(checkpoint) if checkpoint else None,
            "net": net.cfg.describe(), **meta, "backend": evaluators[0].backend,
            "max_sims": limits.max_sims, "solver": solver.available(),
            "run": bool(run_dir), "sims_choices": [s for s in (50, 200, 800)
                                                   if s <= limits.max_sims]}
    return create_app(Thinker(evaluators, cfg.mcts, limits), RunGames(run_dir), info)
