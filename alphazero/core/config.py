"""Typed, documented configuration for every stage; YAML is only its serialisation.

Every field carries a one-line doc (meaning, unit, the paper's or seed's value where there is
one) in its metadata; ``describe()`` prints them. ``load(path, overrides)`` reads YAML, applies
``--set key=value`` overrides, rejects unknown keys and bad values with a ``ConfigError`` that
names the key, and validates. ``dump`` writes the resolved config back.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Union

import yaml

from alphazero.core import atomic
from alphazero.core.opponents import (
    BUILTIN_OPPONENTS,
    SLOW_ALPHABETA,
    OpponentError,
    is_slow,
    parse_opponent,
)


class ConfigError(ValueError):
    """A configuration problem, phrased for the user: names the key and the fix."""


def F(default: Any, doc: str) -> Any:
    """A dataclass field with a default and a one-line documentation string."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


def Sub(cls: type, doc: str) -> Any:
    """A nested config section."""
    return field(default_factory=cls, metadata={"doc": doc})


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------

#: Named architectures: (residual blocks, channels, policy-head channels, value-head channels,
#: value-head hidden units). ``paper`` is the seed blog's 19x128 ConnectNet.
PRESETS: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (2, 32, 4, 2, 32),
    "small": (5, 64, 8, 2, 64),
    "medium": (10, 96, 16, 3, 64),
    "paper": (19, 128, 32, 3, 32),
}


#: The sizes that make an architecture, in PRESETS' order.
ARCH_KEYS = ("blocks", "channels", "policy_channels", "value_channels", "value_hidden")


@dataclass(frozen=True)
class NetConfig:
    """ConnectNet architecture."""

    preset: str = F("auto", "named architecture: tiny, small, medium, paper (19x128, the seed's), "
                            "or auto = paper on CUDA, small on CPU; fields below override it "
                            "(--set net.preset=P drops the sizes the file sets; sizes --set "
                            "beside it still apply)")
    blocks: int | None = F(None, "residual blocks (paper: 19); empty = the preset's")
    channels: int | None = F(None, "channels of the trunk convolutions (paper: 128)")
    policy_channels: int | None = F(None, "1x1 conv channels of the policy head (seed: 32)")
    value_channels: int | None = F(None, "1x1 conv channels of the value head (seed: 3)")
    value_hidden: int | None = F(None, "hidden units of the value head (seed: 32)")
    reply_head: bool = F(False, "a third head, trained only: predicts the opponent's reply "
                                "(the next position's search policy; KataGo's auxiliary "
                                "policy target, weighted by train.reply_weight); search never "
                                "runs it")

    def resolve(self, cuda: bool) -> NetConfig:
        """A config with every size filled in (``auto`` becomes paper on CUDA, small on CPU)."""
        name = self.preset
        if name == "auto":
            name = "paper" if cuda else "small"
        base = PRESETS[name]
        vals = {k: (getattr(self, k) if getattr(self, k) is not None else b)
                for k, b in zip(ARCH_KEYS, base)}
        return NetConfig(preset=name, reply_head=self.reply_head, **vals)

    def describe(self) -> str:
        """Short human description, e.g. ``small (5x64)``, ``5x128 (small with channels
        128)`` when sizes override the preset's (``+ reply head`` when it has one)."""
        changed = [f"{k} {v}" for k, v, b in zip(ARCH_KEYS, self.sizes(),
                                                   PRESETS.get(self.preset, self.sizes()))
                   if v is not None and v != b]
        text = (f"{self.blocks}x{self.channels} ({self.preset} with {', '.join(changed)})"
                if changed else f"{self.preset} ({self.blocks}x{self.channels})")
        return text + (" + reply head" if self.reply_head else "")

    def sizes(self) -> tuple[int, ...]:
        """The architecture alone (resolved): ``ARCH_KEYS``' values."""
        return tuple(getattr(self, k) for k in ARCH_KEYS)

    def differences(self, other: NetConfig) -> str:
        """What changes from this architecture to ``other``'s, e.g. ``blocks 5 -> 19,
        value_hidden 64 -> 32`` (both resolved)."""
        pairs = [*zip(ARCH_KEYS, self.sizes(), other.sizes()),
                 ("reply_head", self.reply_head, other.reply_head)]
        return ", ".join(f"{k} {a} -> {b}" for k, a, b in pairs if a != b)

    def set_lines(self, other: NetConfig | None = None) -> str:
        """The ``--set`` options that configure exactly this architecture (resolved), for a
        config now set to ``other``'s (which decides whether a reply head must be named)."""
        preset = next((n for n, sizes in PRESETS.items() if sizes == self.sizes()), None)
        named = self.reply_head or (other is not None and other.reply_head)
        head = f" --set net.reply_head={str(self.reply_head).lower()}" if named else ""
        if preset:
            return f"--set net.preset={preset}{head}"
        return " ".join(f"--set net.{k}={v}" for k, v in zip(ARCH_KEYS, self.sizes())) + head

    def validate(self, prefix: str = "net") -> None:
        if self.preset not in PRESETS and self.preset != "auto":
            raise ConfigError(f"{prefix}.preset: unknown preset {self.preset!r}; "
                              f"choose one of {', '.join([*PRESETS, 'auto'])}")
        for k in ARCH_KEYS:
            v = getattr(self, k)
            if v is not None and v < (0 if k == "blocks" else 1):
                raise ConfigError(f"{prefix}.{k}: {v} is out of range; use a positive number")


# --------------------------------------------------------------------------------------------
# Search and self-play
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MCTSConfig:
    """PUCT Monte Carlo tree search."""

    num_simulations: int = F(100, "simulations per move (seed/paper config: 777)")
    c_puct: float = F(2.0, "exploration constant in Q + c*P*sqrt(N)/(1+n); values in [-1, 1] "
                           "(AlphaZero.jl's Connect Four: 2.0)")
    dirichlet_alpha: float = F(1.0, "Dirichlet noise concentration at the root (AlphaZero.jl: 1.0)")
    dirichlet_fraction: float = F(0.25, "share of Dirichlet noise mixed into root priors "
                                        "(paper: 0.25); 0 disables noise")
    fpu_reduction: float = F(0.0, "first-play urgency: an unvisited child is valued at its "
                                  "parent's network value minus this (0 = as good as the parent)")
    root_selection: str = F("puct", "puct (AlphaZero: Dirichlet noise, visit-count targets) or "
                                    "gumbel (Gumbel sequential halving at the root, "
                                    "completed-Q policy targets; no Dirichlet noise)")
    gumbel_considered: int = F(7, "gumbel: actions sampled at the root (paper: 16; Connect Four "
                                  "has at most 7)")
    gumbel_c_visit: float = F(50.0, "gumbel: sigma(q) = (c_visit + max visits) * c_scale * "
                                    "(q + 1) / 2 (paper and mctx: 50)")
    gumbel_c_scale: float = F(0.1, "gumbel: see gumbel_c_visit (mctx: 0.1); larger = sharper "
                                   "policy targets, trusting fewer visits")
    reuse_tree: bool = F(True, "keep the subtree of the position reached (the move played, and "
                               "in play and arena the reply) for the next search, which then "
                               "runs only the simulations its root lacks; puct only")
    reuse_noised_root: bool = F(True, "self-play with reuse_tree: a root that gets Dirichlet "
                                      "noise keeps its subtree's visits too (false: it is "
                                      "searched afresh, so every visit is made under the noise; "
                                      "its positions mostly come from the cache)")
    forced_playouts: float = F(0.0, "KataGo's forced playouts and policy-target pruning at "
                                     "noised roots (self-play): every root move gets at least "
                                     "sqrt(k * P * N) visits, which the policy target and the "
                                     "move drawn then leave out again; k (KataGo: 2), 0 = off; "
                                     "puct only")
    compiled: bool = F(True, "run each simulation's tree step compiled with numba when it is "
                             "installed (alphazero-c4[fast]; the same trees as numpy, several "
                             "times cheaper; under Gumbel roots too); false = always numpy")

    def validate(self, prefix: str = "mcts") -> None:
        if self.num_simulations < 1:
            raise ConfigError(f"{prefix}.num_simulations: {self.num_simulations} is out of "
                              "range; use at least 1")
        if self.c_puct <= 0:
            raise ConfigError(f"{prefix}.c_puct: must be > 0, got {self.c_puct}")
        if self.dirichlet_alpha <= 0:
            raise ConfigError(f"{prefix}.dirichlet_alpha: must be > 0, got {self.dirichlet_alpha}")
        if not 0 <= self.dirichlet_fraction <= 1:
            raise ConfigError(f"{prefix}.dirichlet_fraction: must be in [0, 1], "
                              f"got {self.dirichlet_fraction}")
        if not 0 <= self.fpu_reduction <= 2:
            raise ConfigError(f"{prefix}.fpu_reduction: must be in [0, 2], got {self.fpu_reduction}")
        if self.root_selection not in ("puct", "gumbel"):
            raise ConfigError(f"{prefix}.root_selection: {self.root_selection!r} is not puct or "
                              "gumbel")
        if self.forced_playouts < 0:
            raise ConfigError(f"{prefix}.forced_playouts: must be >= 0 (0 = off), "
                              f"got {self.forced_playouts}")
        if self.forced_playouts > 0 and self.dirichlet_fraction == 0:
            raise ConfigError(f"{prefix}.forced_playouts: acts at noised roots, and "
                              f"{prefix}.dirichlet_fraction is 0; set one of them")
        if self.forced_playouts > 0 and self.root_selection != "puct":
            raise ConfigError(f"{prefix}.forced_playouts: needs root_selection puct (Gumbel "
                              "roots have no Dirichlet noise to force); set it to 0")
        if self.gumbel_considered < 1:
            raise ConfigError(f"{prefix}.gumbel_considered: use at least 1")
        if self.gumbel_c_visit < 0 or self.gumbel_c_scale <= 0:
            raise ConfigError(f"{prefix}.gumbel_c_visit/gumbel_c_scale: use c_visit >= 0 and "
                              "c_scale > 0")


#: Most random opening moves: a deeper random start is mostly a decided, unnatural game.
MAX_RANDOM_OPENING = 20


@dataclass(frozen=True)
class SelfPlayConfig:
    """Self-play games that produce training data."""

    games: int = F(200, "games per iteration, all workers together")
    parallel_games: int = F(128, "games each worker plays at once; their leaves share one "
                                 "network call per simulation step")
    workers: int = F(1, "worker processes (spawned); on CPU each uses one torch thread")
    chunk_games: int = F(32, "games per dataset file; a finished file is never recomputed")
    temperature_moves: int = F(11, "moves of each game sampled at temperature "
                                   "temperature_high (seed: 11)")
    temperature_high: float = F(1.0, "temperature of the opening moves (seed: 1.0)")
    temperature_low: float = F(0.1, "temperature after the opening; 0 = always the most "
                                    "visited move (seed: 0.1)")
    full_search_prob: float = F(1.0, "playout-cap randomisation (KataGo): share of moves that "
                                     "get the full search and become training positions; the "
                                     "others get a fast search, no noise, and are not recorded. "
                                     "1 = off")
    fast_simulations: int = F(16, "simulations of the fast searches (KataGo: 1/6 of full)")
    random_opening_moves: int = F(0, "each game starts after n uniformly random moves, n drawn "
                                     "per game from 0..this (none that ends the game; not "
                                     "searched, not recorded): positions the net's own "
                                     "openings never reach. 0 = off")
    random_opening_share: float = F(1.0, "share of the games (drawn starts aside) that get a "
                                         "random opening when random_opening_moves > 0; the "
                                         "others start from the empty board, the line that "
                                         "strong play and the solver's first move walk")
    drawn_start_share: float = F(0.0, "share of games that start from a random opening (as "
                                      "random_opening_moves) the perfect solver calls a "
                                      "draw: the positions strong self-play seldom reaches. "
                                      "Needs the solver extra; uses perfect knowledge for the "
                                      "starts only. 0 = off")
    seed: int = F(0, "run seed; every game draws from its own stream derived from it")
    device: str = F("auto", "where workers evaluate the net: auto (CUDA if present), cpu, cuda")

    def validate(self, prefix: str = "selfplay") -> None:
        for k in ("games", "parallel_games", "workers", "chunk_games"):
            if getattr(self, k) < 1:
                raise ConfigError(f"{prefix}.{k}: {getattr(self, k)} is out of range; "
                                  "use at least 1")
        if self.temperature_moves < 0:
            raise ConfigError(f"{prefix}.temperature_moves: must be >= 0")
        if self.temperature_high < 0 or self.temperature_low < 0:
            raise ConfigError(f"{prefix}.temperature_high/low: must be >= 0")
        if not 0 < self.full_search_prob <= 1:
            raise ConfigError(f"{prefix}.full_search_prob: must be in (0, 1], got "
                              f"{self.full_search_prob}")
        if self.fast_simulations < 1:
            raise ConfigError(f"{prefix}.fast_simulations: use at least 1")
        if not 0 <= self.random_opening_moves <= MAX_RANDOM_OPENING:
            raise ConfigError(f"{prefix}.random_opening_moves: {self.random_opening_moves} is out "
                              f"of range; use 0 (off) to {MAX_RANDOM_OPENING}")
        if not 0 <= self.random_opening_share <= 1:
            raise ConfigError(f"{prefix}.random_opening_share: must be in [0, 1], got "
                              f"{self.random_opening_share}")
        if not 0 <= self.drawn_start_share <= 1:
            raise ConfigError(f"{prefix}.drawn_start_share: must be in [0, 1], got "
                              f"{self.drawn_start_share}")
        if self.drawn_start_share > 0 and not self.random_opening_moves:
            raise ConfigError(f"{prefix}.drawn_start_share: drawn starts are random openings; "
                              f"set {prefix}.random_opening_moves (e.g. 10) too")
        _check_device(self.device, f"{prefix}.device")

    def warnings(self, prefix: str = "selfplay") -> list[str]:
        """One line per setting that runs but wastes the hardware: games enough to fill
        ``parallel_games``, dealt so that a worker's share cannot (its batches never reach
        the size asked for, which a GPU needs). Asking for fewer games than that in all is
        taken as meant."""
        chunks = -(-self.games // self.chunk_games)
        workers = min(self.workers, chunks)
        most = min(self.games, -(-chunks // workers) * self.chunk_games)
        if most >= self.parallel_games or self.games < self.parallel_games:
            return []
        who = "the worker" if workers == 1 else f"each of {workers} workers"
        return [f"{prefix}: {who} plays at most {most} of the {self.games} games, so its "
                f"batches never reach parallel_games {self.parallel_games}; raise "
                f"{prefix}.games to at least {workers * self.parallel_games} or lower "
                f"{prefix}.parallel_games to {most}"]


def _check_device(value: str, key: str) -> None:
    if value not in ("auto", "cpu", "cuda") and not value.startswith("cuda:"):
        raise ConfigError(f"{key}: unknown device {value!r}; use auto, cpu, cuda or cuda:N")


@dataclass(frozen=True)
class TrainConfig:
    """Learning from self-play data: loss = value MSE + policy cross-entropy (+ weight decay)."""

    batch_size: int = F(256, "positions per gradient step")
    epochs: float = F(2.0, "passes over the replay window per iteration")
    optimizer: str = F("adamw", "adamw or sgd (SGD uses momentum)")
    lr: float = F(1e-3, "learning rate (AdamW: 1e-3; SGD with momentum: ~0.02)")
    lr_schedule: str = F("constant", "constant, or cosine: decays lr to lr*lr_final_fraction "
                                     "over the first lr_decay_steps optimizer steps of the run, "
                                     "then stays there (extending a run never raises it)")
    lr_decay_steps: int = F(20_000, "cosine: optimizer steps over which lr decays (a step = one "
                                    "batch; the pipeline prints steps per iteration in "
                                    "metrics.jsonl)")
    lr_final_fraction: float = F(0.1, "final lr as a fraction of lr under the cosine schedule")
    momentum: float = F(0.9, "SGD momentum (paper: 0.9)")
    betas: list[float] = F([0.9, 0.999], "AdamW's moment decay rates (torch's defaults)")
    weight_decay: float = F(1e-2, "AdamW: decoupled decay, weights shrink by lr * wd per step; "
                                  "SGD: an L2 term (paper: 1e-4). 1e-2 after the A/B in "
                                  "docs/levers.md (AdamW 1e-4, 1e-2 and 5e-2 equal within the "
                                  "seeds' spread; 1e-4 barely acts: 2e-7 per step)")
    grad_clip: float = F(1.0, "clip the gradient's global norm to this; 0 = no clipping")
    value_weight: float = F(1.0, "weight of the value MSE against the policy cross-entropy")
    value_q_weight: float = F(0.5, "value target = (1 - w) * game result z + w * root search "
                                   "value q (Oracle's Connect Four study and our A/B, "
                                   "docs/levers.md: 0.5; 0 = AlphaZero's z); positions "
                                   "without a recorded q keep z")
    reply_weight: float = F(0.0, "weight of the reply head's cross-entropy against the "
                                 "opponent's next search policy (positions whose reply was a "
                                 "recorded search; KataGo: 0.15); needs net.reply_head")
    replay_iterations: int = F(4, "train on the data of the last K iterations")
    max_samples: int = F(500_000, "at most this many most recent positions in memory")
    mirror: bool = F(True, "augment with left-right mirrored positions (a random half of "
                           "each batch)")
    validation_fraction: float = F(0.05, "share of games held out to measure validation loss")
    device: str = F("auto", "auto (CUDA if present), cpu, cuda")
    amp: bool = F(True, "mixed precision on CUDA (bf16 where supported); ignored on CPU")
    seed: int = F(0, "seed of batch order, augmentation and the validation split")

    def validate(self, prefix: str = "train") -> None:
        if self.batch_size < 1:
            raise ConfigError(f"{prefix}.batch_size: {self.batch_size} is out of range; "
                              "use at least 1")
        if self.epochs <= 0:
            raise ConfigError(f"{prefix}.epochs: must be > 0, got {self.epochs}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ConfigError(f"{prefix}.optimizer: {self.optimizer!r} is not adamw or sgd")
        if self.lr <= 0:
            raise ConfigError(f"{prefix}.lr: must be > 0, got {self.lr}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"{prefix}.lr_schedule: {self.lr_schedule!r} is not constant or "
                              "cosine")
        if not 0 < self.lr_final_fraction <= 1:
            raise ConfigError(f"{prefix}.lr_final_fraction: must be in (0, 1]")
        if self.lr_decay_steps < 1:
            raise ConfigError(f"{prefix}.lr_decay_steps: use at least 1")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"{prefix}.betas: use two numbers in [0, 1), e.g. [0.9, 0.999]")
        if not 0 <= self.value_q_weight <= 1:
            raise ConfigError(f"{prefix}.value_q_weight: must be in [0, 1], got "
                              f"{self.value_q_weight}")
        if min(self.weight_decay, self.grad_clip, self.value_weight, self.reply_weight) < 0:
            raise ConfigError(f"{prefix}: weight_decay, grad_clip, value_weight and reply_weight "
                              "must be >= 0")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"{prefix}.momentum: must be in [0, 1)")
        if self.replay_iterations < 1 or self.max_samples < 1:
            raise ConfigError(f"{prefix}.replay_iterations/max_samples: use at least 1")
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError(f"{prefix}.validation_fraction: must be in [0, 1)")
        _check_device(self.device, f"{prefix}.device")


@dataclass(frozen=True)
class ArenaConfig:
    """Candidate against the best net: promotion by match score."""

    games: int = F(40, "most games per match, colours alternating (an even number); the match "
                       "stops earlier once the promotion rule has its answer")
    num_simulations: int = F(50, "simulations per move for both players")
    alpha: float = F(0.05, "promotion's error rate: the chance of promoting a candidate that is "
                           "no better than the best. Promote when the score's one-sided lower "
                           "confidence bound at this level (split over the match's looks, one "
                           "per batch of parallel_games) is above 1/2; 0 = the plain threshold "
                           "rule below")
    threshold: float = F(0.55, "with alpha = 0: promote when (wins + draws/2) / games reaches "
                               "this (0.55 is common; an equal candidate reaches it in ~27% "
                               "of 40-game matches with 20% draws)")
    opening_plies: int = F(2, "random opening moves before the players take over; each "
                              "opening is played twice with colours swapped")
    gating: bool = F(True, "false = always promote the candidate (AlphaZero without gating); "
                           "the match is still played and logged")
    parallel_games: int = F(64, "games played at once")

    def validate(self, prefix: str = "arena") -> None:
        if self.games < 2 or self.games % 2:
            raise ConfigError(f"{prefix}.games: {self.games} is out of range; use an even "
                              "number >= 2")
        if self.num_simulations < 1:
            raise ConfigError(f"{prefix}.num_simulations: {self.num_simulations} is out of "
                              "range; use at least 1")
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"{prefix}.threshold: must be in (0, 1], got {self.threshold}")
        if not 0 <= self.alpha < 0.5:
            raise ConfigError(f"{prefix}.alpha: must be in [0, 0.5), got {self.alpha}")
        if not 0 <= self.opening_plies <= 8:
            raise ConfigError(f"{prefix}.opening_plies: must be in 0..8")
        if self.parallel_games < 1:
            raise ConfigError(f"{prefix}.parallel_games: use at least 1")


@dataclass(frozen=True)
class InferenceConfig:
    """How the network is run for search (never for training)."""

    backend: str = F("auto", "auto (time the available backends briefly at start, use the "
                             "fastest; kept per machine; bf16 only where the CPU has it "
                             "natively), eager, folded (BatchNorm folded into the convolutions), "
                             "openvino, openvino-bf16 (both need the 'fast' extra); on CUDA: "
                             "eager, fused (folded, bf16 weights cast once, uint8 input), "
                             "graphs (fused, one CUDA graph per batch size bucket)")
    selfplay_backend: str = F("", "self-play's backend when it should differ from backend "
                                  "(empty = backend's): e.g. openvino-int8, int8 weights and "
                                  "activations by NNCF (the 'int8' extra), never picked by auto")
    symmetry: str = F("average", "playing to win (evaluate, arena, play, analyse): average each "
                                 "position with its mirror, or none (docs/benchmarks.md)")
    selfplay_symmetry: str = F("random", "self-play: random (each position evaluated in a "
                                         "mirror drawn from a hash of it and the seed, free), "
                                         "average, or none")
    cache_size: int = F(200_000, "positions each evaluator remembers, at most (the last half "
                                 "to all of them; a position and its mirror "
                                 "share an entry under symmetry); 0 = no cache")

    def validate(self, prefix: str = "inference") -> None:
        backends = ("auto", "eager", "folded", "openvino", "openvino-bf16", "openvino-int8",
                    "fused", "graphs")
        for key in ("backend", "selfplay_backend"):
            name = getattr(self, key)
            if name not in backends and not (key == "selfplay_backend" and name == ""):
                raise ConfigError(f"{prefix}.{key}: {name!r} is not one of {backends}")
        for key in ("symmetry", "selfplay_symmetry"):
            if getattr(self, key) not in ("none", "average", "random"):
                raise ConfigError(f"{prefix}.{key}: use none, average or random")
        if self.cache_size < 0:
            raise ConfigError(f"{prefix}.cache_size: use 0 (off) or a positive number")

    def selfplay_backend_name(self) -> str:
        """The backend self-play runs on: ``selfplay_backend``, else ``backend``."""
        return self.selfplay_backend or self.backend

    def selfplay_backend_key(self) -> str:
        """The setting that chose ``selfplay_backend_name()``, for errors that name the fix."""
        return "inference.selfplay_backend" if self.selfplay_backend else "inference.backend"


@dataclass(frozen=True)
class PipelineConfig:
    """The loop: self-play with the best net -> train a candidate -> arena -> promote."""

    iterations: int = F(10, "iterations to run; raise it in a run's config.yaml to extend")
    eval_opponents: list[str] = F(["random", "greedy"], "reference opponents the best net "
                                  "meets after each iteration (random, greedy, alphabeta:K)")
    eval_games: int = F(20, "games against each reference opponent per iteration (0 = none)")
    positions_eval: bool = F(True, "score the raw policy against solver-labelled positions "
                                   "each iteration (Pons benchmark, fast)")
    breadth_starts: int = F(0, "play this many won and as many drawn starts after random "
                               "openings out against the solver (alphazero evaluate --breadth) "
                               "with the best net's search, every breadth_every iterations; "
                               "needs the solver extra (skipped without it); 0 = never")
    breadth_every: int = F(5, "iterations between breadth measures (and the last iteration)")

    def validate(self, prefix: str = "pipeline") -> None:
        if self.iterations < 1:
            raise ConfigError(f"{prefix}.iterations: {self.iterations} is out of range; use "
                              "at least 1")
        if self.breadth_starts < 0 or self.breadth_every < 1:
            raise ConfigError(f"{prefix}.breadth_starts/breadth_every: use breadth_starts >= 0 "
                              "and breadth_every >= 1")
        if self.eval_games < 0 or self.eval_games % 2:
            raise ConfigError(f"{prefix}.eval_games: use an even number >= 0")
        for o in self.eval_opponents:
            try:
                kind, _ = parse_opponent(o)
            except OpponentError as e:
                raise ConfigError(f"{prefix}.eval_opponents: {e}") from None
            if kind == "checkpoint":
                raise ConfigError(f"{prefix}.eval_opponents: unknown opponent {o!r}; use "
                                  f"{BUILTIN_OPPONENTS}")


@dataclass(frozen=True)
class Config:
    """Everything one run needs."""

    net: NetConfig = Sub(NetConfig, "network architecture")
    mcts: MCTSConfig = Sub(MCTSConfig, "tree search")
    selfplay: SelfPlayConfig = Sub(SelfPlayConfig, "self-play")
    train: TrainConfig = Sub(TrainConfig, "training")
    arena: ArenaConfig = Sub(ArenaConfig, "arena and promotion")
    inference: InferenceConfig = Sub(InferenceConfig, "running the network for search")
    pipeline: PipelineConfig = Sub(PipelineConfig, "the iteration loop")
    schedule: dict[str, dict[int, Any]] = F({}, (
        "settings that change as the run goes on: 'section.key: {iteration: value, ...}', "
        "each value in force from its iteration on (before the first, the section's own); "
        "e.g. train.value_q_weight: {1: 0.0, 27: 0.5}; any setting but net.*, seeds, devices, "
        "workers and pipeline.iterations. Keyed by iteration, so extending a run never "
        "changes what an iteration ran with"))

    def validate(self) -> Config:
        """Check every section and every scheduled value; raises ``ConfigError`` naming the
        key. Returns self."""
        for f in fields(self):
            if f.name != "schedule":
                getattr(self, f.name).validate(f.name)
        self._check_reply()
        for key, steps in self.schedule.items():
            _schedulable(key)
            for it in steps:
                if not isinstance(it, int) or isinstance(it, bool) or it < 1:
                    raise ConfigError(f"schedule.{key}: iteration {it!r} is not a whole "
                                      "number >= 1")
        for it in sorted({it for steps in self.schedule.values() for it in steps}):
            self.at(it)
        return self

    def warnings(self) -> list[str]:
        """Lines about settings that run but likely not as meant (``validate`` refuses what
        cannot run): batches that cannot fill, reference opponents that take minutes a
        game."""
        out = self.selfplay.warnings()
        slow = [o for o in self.pipeline.eval_opponents if is_slow(o)]
        if slow and self.pipeline.eval_games:
            out.append(f"pipeline.eval_opponents: {', '.join(slow)} searches {SLOW_ALPHABETA} "
                       "or more plies a move and can take a minute or more a game; "
                       "alphabeta:5 judges a young net in seconds")
        return out

    def at(self, iteration: int) -> Config:
        """The config iteration ``iteration`` runs with: every scheduled setting at its value
        in force then (validated; ``ConfigError`` names the schedule entry)."""
        sections: dict[str, dict[str, Any]] = {}
        for key, steps in self.schedule.items():
            started = [it for it in steps if it <= iteration]
            if started:
                section, name = key.split(".")
                tp = typing.get_type_hints(type(getattr(self, section)))[name]
                value = _coerce(steps[max(started)], tp, f"schedule.{key}")
                sections.setdefault(section, {})[name] = value
        out = dataclasses.replace(self, **{s: dataclasses.replace(getattr(self, s), **v)
                                           for s, v in sections.items()})
        for s in sections:
            try:
                getattr(out, s).validate(s)
            except ConfigError as e:
                raise ConfigError(f"schedule at iteration {iteration}: {e}") from None
        out._check_reply(f"schedule at iteration {iteration}: ")
        return out

    def _check_reply(self, where: str = "") -> None:
        if self.train.reply_weight > 0 and not self.net.reply_head:
            raise ConfigError(f"{where}train.reply_weight: {self.train.reply_weight} needs a "
                              "reply head to train; add --set net.reply_head=true (a new run) "
                              "or set train.reply_weight=0")

    def scheduled(self, iteration: int) -> dict[str, Any]:
        """``{"section.key": value}`` of every scheduled setting at ``iteration``."""
        cfg = self.at(iteration)
        return {k: getattr(getattr(cfg, k.split(".")[0]), k.split(".")[1])
                for k in self.schedule}


#: Settings a schedule may not change: what the nets, the random streams, the devices and the
#: worker processes are fixed by for a whole run.
_FIXED = ("net.", "pipeline.iterations", ".seed", ".device", "selfplay.workers")


def _schedulable(key: str) -> None:
    """Raise ``ConfigError`` unless ``key`` ("section.name") names a setting a schedule may
    change."""
    section, _, name = key.partition(".")
    known = {f.name: f for f in fields(Config) if f.name != "schedule"}
    if section not in known or name not in {f.name for f in fields(known[section].default_factory)}:
        raise ConfigError(f"schedule: unknown setting {key!r}; name one as section.key, e.g. "
                          "train.value_q_weight")
    if key.startswith(_FIXED[0]) or any(key == f or key.endswith(f) for f in _FIXED[1:]):
        raise ConfigError(f"schedule: {key!r} is fixed for a whole run and cannot be scheduled")


def _flat_schedule(data: Any) -> Any:
    """A schedule written nested (``train: {value_q_weight: {...}}``, as ``--set
    schedule.train.value_q_weight=...`` writes it) as flat ``section.key`` entries."""
    if not isinstance(data, dict):
        return data
    flat = {}
    for k, v in data.items():
        if "." not in str(k) and isinstance(v, dict):
            if v and all(isinstance(name, int) for name in v):
                raise ConfigError(f"schedule: {k!r} needs its section, e.g. "
                                  f"train.{k}: {{1: ..., 20: ...}}")
            flat.update({f"{k}.{name}": steps for name, steps in v.items()})
        else:
            flat[k] = v
    for k, steps in flat.items():
        if not isinstance(steps, dict):
            raise ConfigError(f"schedule.{k}: expected iteration: value pairs, e.g. "
                              f"{{1: {steps!r}, 20: ...}}, got {steps!r}")
    return flat


# --------------------------------------------------------------------------------------------
# (De)serialisation
# --------------------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        k_tp, v_tp = typing.get_args(tp) or (Any, Any)
        return {_coerce(k, k_tp, key): _coerce(v, v_tp, f"{key}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (inner, *_) = typing.get_args(tp) or (Any,)
        return origin(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads 1e-4 (no dot) as a string; it is the number everyone means.
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return value


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """Build the dataclass ``cls`` from nested dicts; unknown keys are errors naming the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping of keys, "
                          f"got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if k not in known:
            close = difflib.get_close_matches(str(k), list(known), n=1)
            hint = f"did you mean {(prefix + close[0])!r}? " if close else ""
            raise ConfigError(f"unknown config key {key!r}; {hint}known keys here: "
                              f"{', '.join(known)}")
        tp = hints[k]
        if dataclasses.is_dataclass(tp):
            kwargs[k] = from_dict(tp, v, f"{key}.")
        else:
            kwargs[k] = _coerce(v, tp, key)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    """Nested plain dict of a config dataclass (what ``dump`` writes)."""
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Apply ``key.sub=value`` strings (values parsed as YAML scalars) to nested dict ``data``.
    A ``net.preset`` among them first drops the sizes ``data`` sets (a run's config.yaml
    writes them all, which would hide the preset); sizes among the overrides still apply."""
    if any(o.split("=", 1)[0].strip() == "net.preset" for o in overrides) and isinstance(
            data.get("net"), dict):
        for k in ARCH_KEYS:
            data["net"].pop(k, None)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. mcts.num_simulations=200")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
        node[parts[-1]] = value
    return data


def load(path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = (),
         cls: type = Config) -> Any:
    """Read a YAML config (or start from defaults when ``path`` is None), apply overrides,
    validate. Raises ``ConfigError`` with a one-line message on any problem."""
    data: Any = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {os.fspath(path)!r} not found; pass an existing "
                              "YAML file, e.g. configs/default.yaml") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or "invalid YAML"
            raise ConfigError(f"config file {os.fspath(path)!r} is not valid YAML{where}: "
                              f"{problem}; fix the syntax") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {os.fspath(path)!r} must hold a mapping of sections")
    data = apply_overrides(data, overrides)
    if cls is Config and "schedule" in data:
        data["schedule"] = _flat_schedule(data["schedule"])
    cfg = from_dict(cls, data)
    return cfg.validate()


def dump(cfg: Any, path: str | os.PathLike) -> None:
    """Write ``cfg`` as YAML atomically."""
    atomic.write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def describe(cls: type = Config, prefix: str = "") -> list[str]:
    """One line per field: ``key (type, default): doc``."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            lines.append(f"{key}: {f.metadata.get('doc', '')}")
            lines.extend(describe(tp, f"{key}."))
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            lines.append(f"  {key} = {default!r}: {f.metadata.get('doc', '')}")
    return lines
