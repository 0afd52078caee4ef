"""The opponent grammar: how a user names a player that is not a net of the run.

``random``, ``greedy``, ``alphabeta:K`` (a K-ply alpha-beta search), ``solver`` (perfect play,
the solver extra), or a checkpoint path. One reading for the config, ``evaluate`` and the arena
(which builds the players: ``arena.reference_player``).
"""

from __future__ import annotations

#: The built-in opponents, as a user types them.
BUILTIN_OPPONENTS = "random, greedy, alphabeta:K or solver"

#: Alpha-beta depths from which a game takes a minute or more: each ply multiplies the time by
#: about 3 (an opening move: 0.02 s at depth 5, 0.3 s at 9, 1.1 s at 10 on one core).
SLOW_ALPHABETA = 11


class OpponentError(ValueError):
    """A malformed opponent spec, phrased for the user."""


def parse_opponent(spec: str) -> tuple[str, int | str | None]:
    """The one reading of an opponent spec: ``("random", None)``, ``("greedy", None)``,
    ``("alphabeta", K)``, ``("solver", None)`` or ``("checkpoint", path)`` for anything else.
    A malformed ``alphabeta:...`` is an ``OpponentError``."""
    if spec in ("random", "greedy", "solver"):
        return spec, None
    if spec.startswith("alphabeta:"):
        depth = spec[len("alphabeta:"):]
        if not (depth.isdigit() and int(depth) >= 1):
            raise OpponentError(f"unknown opponent {spec!r}: alpha-beta needs a depth of at "
                                "least 1, e.g. alphabeta:3")
        return "alphabeta", int(depth)
    return "checkpoint", spec


def is_slow(spec: str) -> bool:
    """True for an alpha-beta player deep enough to take a minute or more a game."""
    kind, depth = parse_opponent(spec)
    return kind == "alphabeta" and depth >= SLOW_ALPHABETA
