"""``alphazero evaluate``: a net or player against another (a match), against the solver
from random openings (``--breadth``), or on solver-labelled positions (``--positions``)."""

from __future__ import annotations

import argparse
import json
import os

from alphazero.core.opponents import BUILTIN_OPPONENTS, OpponentError, is_slow, parse_opponent
from alphazero.run.options import UserError, at_least_one, config_of, console_of, sims_of, start_net


def _is_builtin(spec: str) -> bool:
    """True for a built-in opponent. A bare word that is neither one nor an existing file
    (``gredy``) is a ``UserError`` that lists the built-in ones and the closest; a path is
    left to the checkpoint loader, whose error names the missing file."""
    import difflib

    try:
        builtin = parse_opponent(spec)[0] != "checkpoint"
    except OpponentError as e:
        raise UserError(str(e)) from None
    looks_like_a_path = os.sep in spec or spec.endswith(".pt")
    if not builtin and not looks_like_a_path and not os.path.exists(spec):
        close = difflib.get_close_matches(spec, ["random", "greedy", "alphabeta:3", "solver"],
                                          n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"unknown opponent {spec!r}: {hint}not a built-in one "
                        f"({BUILTIN_OPPONENTS}) and no checkpoint file by that name")
    return builtin


def _player(spec: str, cfg, device_name: str, sims: int, seed: int, search: bool = True):
    """A player from an opponent spec (see ``opponents.parse_opponent``): a built-in opponent,
    or a checkpoint's net with search at ``sims`` (``search=False``: its raw policy)."""
    from alphazero.nn.inference import evaluator_for
    from alphazero.search.mcts import match_config
    from alphazero.stages.arena import MCTSPlayer, PolicyPlayer, reference_player

    if _is_builtin(spec):
        return reference_player(spec, seed)
    start, device = start_net(spec, cfg, device_name)
    ev = evaluator_for(start.net, device, cfg.inference)
    if not search or sims == 0:
        return PolicyPlayer(ev, "policy")
    return MCTSPlayer(ev, match_config(cfg.mcts, sims), os.path.basename(spec))


def _default_player(spec: str | None) -> str:
    from alphazero.nn import checkpoint

    if spec:
        return spec
    found = checkpoint.default_path()
    if found is None:
        raise UserError("no checkpoint given and no shipped checkpoints/best.pt found; pass "
                        f"--player PATH (or {BUILTIN_OPPONENTS})")
    return found


def cmd_evaluate(args: argparse.Namespace) -> int:
    cfg = config_of(args, {"openings": "arena.opening_plies"})
    sims = sims_of(args, cfg.arena.num_simulations)
    at_least_one(args, "games", "limit")
    if args.positions is None and args.breadth is None:
        if args.games % 2:
            raise UserError(f"--games {args.games}: use an even number (each opening is "
                            "played twice, colours swapped)")
        _warn_slow(args.player or args.checkpoint, args.opponent)
    spec = _default_player(args.player or args.checkpoint)
    if args.positions is not None:
        return _evaluate_positions(args, cfg, spec, sims)
    if args.breadth is not None:
        return _evaluate_breadth(args, cfg, spec, sims)
    return _evaluate_match(args, cfg, spec, sims)


def _warn_slow(*specs: str | None) -> None:
    """One line on stderr for an alpha-beta player deep enough to take minutes a game."""
    for spec in specs:
        if spec and is_slow(spec):
            print(f"warning: {spec} searches {parse_opponent(spec)[1]} plies a move and can "
                  "take a minute or more a game")


def _evaluate_breadth(args: argparse.Namespace, cfg, spec: str, sims: int) -> int:
    """Won and drawn starts after random openings, played out against the solver."""
    from alphazero.rules import solver
    from alphazero.stages.breadth import measure

    at_least_one(args, "breadth")
    if not solver.available():
        raise UserError("--breadth plays against the perfect solver: pip install "
                        "'alphazero-c4[solver]'")
    player = _player(spec, cfg, args.device, sims, args.seed)
    result = measure(player, args.breadth, args.seed)
    how = "" if _is_builtin(spec) else (f", {sims} sims" if sims else ", raw policy")
    print(f"breadth ({spec}{how}, seed {args.seed}, {args.breadth} won and {args.breadth} "
          f"drawn starts after 4-12 random moves, against the solver): {result.summary()}")
    if args.json:
        print(json.dumps({"player": spec, "sims": sims, "seed": args.seed,
                          **result.as_dict()}))
    return 0


def _evaluate_positions(args: argparse.Namespace, cfg, spec: str, sims: int) -> int:
    """Mistake rates per set against solver-labelled positions: the raw policy and the search
    of a checkpoint, or a built-in player's choice."""
    from alphazero.rules.positions import C4, PONS, load_positions, path_of, score_positions

    path = path_of({"pons": PONS, "c4": C4}.get(args.positions, args.positions))
    if not os.path.isfile(path):
        raise UserError(f"positions file {args.positions!r} not found; use pons, c4 or a "
                        "file in the same format")
    try:
        positions = load_positions(path)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.limit:
        positions = positions[:: max(1, len(positions) // args.limit)][: args.limit]
    builtin = _is_builtin(spec)
    if builtin:
        modes = [("player", _player(spec, cfg, args.device, sims, args.seed))]
    else:  # one net, one evaluator (and cache) for its raw policy and its search
        from alphazero.search.mcts import match_config
        from alphazero.stages.arena import MCTSPlayer

        policy = _player(spec, cfg, args.device, sims, args.seed, search=False)
        modes = [("policy", policy)] + ([("mcts", MCTSPlayer(
            policy.evaluate, match_config(cfg.mcts, sims), os.path.basename(spec)))]
            if sims else [])
    report = {"checkpoint": None if builtin else spec, "player": spec,
              # A built-in set by its name: the install's path says nothing to a reader.
              "positions": args.positions if args.positions in ("pons", "c4") else path,
              "sims": None if builtin else sims}
    console = console_of(args)
    for mode, player in modes:
        scores = score_positions(player, positions,
                                 reporter=console.labelled(f"{mode} on {os.path.basename(path)}"))
        report[f"{mode}_sets"] = {
            k: {"mistake_rate": v.rate, "ci95": list(v.ci95()), "n": v.n,
                "mistake_rate_where_possible": v.rate_possible if v.possible else None,
                "possible": v.possible}
            for k, v in scores.items()}
        print(f"{mode} ({spec}{'' if builtin or mode == 'policy' else f', {sims} sims'}):")
        for k, v in scores.items():
            lo, hi = v.ci95()
            where = f"{v.rate_possible:6.1%} (n={v.possible})" if v.possible else "   n/a (n=0)"
            print(f"  {k:<12} mistakes {v.rate:6.1%}  [{lo:5.1%}, {hi:5.1%}]  n={v.n:<5} "
                  f"where possible {where}")
    if (inference := _inference(cfg, *(p for _, p in modes))):
        report["inference"] = inference
        print(f"inference: {inference}")
    if args.json:
        print(json.dumps(report))
    return 0


def _inference(cfg, *players) -> str | None:
    """How the net players among ``players`` ran their net (None when none has a net)."""
    backends = sorted({p.evaluate.backend for p in players if hasattr(p, "evaluate")})
    if not backends:
        return None
    from alphazero.search.mcts import tree_step

    return f"{', '.join(backends)}, symmetry {cfg.inference.symmetry}, " + (
        "subtree reuse" if cfg.mcts.reuse_tree else "no subtree reuse") + (
        f", tree step {tree_step(cfg.mcts)}")


def _evaluate_match(args: argparse.Namespace, cfg, spec: str, sims: int) -> int:
    """A match between the player and ``--opponent``, with W/D/L and an Elo difference."""
    from alphazero.stages.arena import play_match

    if not args.opponent:
        raise UserError("say what to play against: --opponent "
                        "CKPT|random|greedy|alphabeta:K|solver, "
                        "or --positions [FILE] to score against solved positions")
    a = _player(spec, cfg, args.device, sims, args.seed)
    b = _player(args.opponent, cfg, args.device, sims, args.seed + 1)
    r = play_match(a, b, args.games, cfg.arena.opening_plies, args.seed,
                   cfg.arena.parallel_games, reporter=console_of(args))
    elo, colours = r.elo(), r.by_colour()
    print(f"{spec} vs {args.opponent}: {r.summary()} over {r.n} games, Elo difference {elo} "
          "(95% interval)")
    for side, c in colours.items():
        print(f"  moving {side}: W{c['wins']}/D{c['draws']}/L{c['losses']}")
    if (inference := _inference(cfg, a, b)):
        print(f"inference: {inference}")
    if args.json:
        print(json.dumps({"player": spec, "opponent": args.opponent, "games": r.n,
                          "wins": r.wins, "draws": r.draws, "losses": r.losses,
                          "score": r.score, "elo": elo.elo, "elo_ci": [elo.lo, elo.hi],
                          "by_colour": colours, "sims": sims,
                          "opening_plies": cfg.arena.opening_plies,
                          "inference": inference}))
    return 0
