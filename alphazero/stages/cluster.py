"""Self-play on a Ray cluster: the same games as the local pool, spread over nodes.

``RayPool`` is the second ``workers.ChunkRunner``: ``workers.run_pool`` drives it as it drives
the local ``WorkerPool``. The driver (the machine running ``alphazero pipeline --ray ...``)
puts the checkpoint's bytes in Ray's object store, starts ``selfplay.workers`` actors (one CPU
each, and a fair share of the cluster's GPUs when ``selfplay.device`` is cuda, or auto on a
cluster with GPUs: ``actor_gpus``), and hands each actor groups of chunks. An actor plays a
group with all its games in flight and returns each finished chunk's file bytes; the driver
writes them into the run folder atomically, so nodes need no shared file system. An actor
that dies is restarted by Ray and its group retried; a group that keeps failing is retried on
the other actors before the run gives up. Chunks already in the run folder are never
replayed.

Ray is an optional extra: ``pip install -e ".[ray]"``.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from alphazero.core import atomic, faults
from alphazero.core.config import InferenceConfig, MCTSConfig, NetConfig, SelfPlayConfig
from alphazero.nn.inference import BackendError
from alphazero.stages.selfplay import chunk_games, chunk_path, play_chunks
from alphazero.stages.workers import (
    PoolProgress,
    SelfPlayTask,
    WorkerError,
    load_evaluator,
)

GROUP_RETRIES = 3


def _ray():
    try:
        import ray
    except ImportError:
        raise WorkerError("--ray needs the Ray extra: pip install -e \".[ray]\"") from None
    return ray


def actor_gpus(device: str, node_gpus: list[float], actors: int) -> float:
    """The GPUs each of ``actors`` asks Ray for, given each node's GPUs: none on CPU, nor with
    ``device: auto`` unless every node has a GPU (on a mixed cluster the CPU nodes play too);
    else ``1 / ceil(actors / gpus)``, at most one each. Ray places a fractional request on one
    GPU, so the share must divide a GPU evenly: 3 actors on 2 GPUs ask for half a GPU each,
    not two thirds (the third actor would wait for ever)."""
    gpus = int(sum(node_gpus))
    if device == "cpu" or (device == "auto" and (not gpus or not all(node_gpus))):
        return 0.0
    if not gpus:
        raise WorkerError(f"selfplay.device is {device!r} but the Ray cluster has no GPU; "
                          "set selfplay.device=auto or cpu, or add GPU nodes")
    return 1.0 / -(-max(actors, 1) // gpus)


def connect(address: str) -> Any:
    """Join the cluster at ``address`` (``auto``: the one this machine belongs to; ``local``:
    start one here). Reuses a connection this process already has."""
    ray = _ray()
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "log_to_driver": False}
        if address == "local":
            ray.init(**kwargs)
        else:
            try:
                ray.init(address=address, **kwargs)
            except ConnectionError as e:
                raise WorkerError(f"cannot reach a Ray cluster at {address!r} ({e}); start one "
                                  "with 'ray start --head' or pass --ray local") from None
    return ray


class SelfPlayActor:
    """Holds one evaluator per checkpoint and plays groups of chunks with it."""

    def __init__(self, net: NetConfig, mcts: MCTSConfig, sp: SelfPlayConfig, init_seed: int,
                 inference: InferenceConfig = InferenceConfig()):
        import torch

        torch.set_num_threads(1)
        self.net, self.mcts, self.sp, self.init_seed = net, mcts, sp, init_seed
        self.inference = inference
        self._key: Any = None
        self._evaluate = None

    def _evaluator(self, ckpt: bytes | None):
        key = None if ckpt is None else hash(ckpt)
        if self._evaluate is None or key != self._key:
            path = None
            if ckpt is not None:
                fd, path = tempfile.mkstemp(suffix=".pt")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(ckpt)
            try:
                self._evaluate = load_evaluator(path, self.net, self.sp.device, self.init_seed,
                                                self.inference)
            finally:
                if path:
                    os.unlink(path)
            self._key = key
        return self._evaluate

    def play(self, ckpt: bytes | None, chunks: list[int], meta: dict) -> list[tuple[int, bytes, int]]:
        """(chunk, file bytes, positions) for every chunk of the group."""
        faults.point("ray_actor")
        out: list[tuple[int, bytes, int]] = []
        positions = {c: 0 for c in chunks}

        def count(rec) -> None:
            positions[rec.game_id // self.sp.chunk_games] += len(rec.samples)

        play_chunks(self._evaluator(ckpt), self.mcts, self.sp, chunks, None, meta,
                    on_game=count,
                    on_chunk=lambda c, payload: out.append((c, payload, positions[c])))
        return out


class RayPool:
    """The ``ChunkRunner`` of a Ray cluster: groups of chunks dealt to ``selfplay.workers``
    actors, each resolving ``inference.backend: auto`` on its own machine; a group whose actor
    fails is retried, up to ``GROUP_RETRIES`` times."""

    label = "self-play (ray)"
    meta = {"ray": True}

    def __init__(self, address: str):
        self.ray = connect(address)  # before anything is written: an unreachable cluster

    def play(self, task: SelfPlayTask, todo: list[int], progress: PoolProgress) -> None:
        ray = self.ray
        sp = task.selfplay
        ckpt_ref = ray.put(open(task.checkpoint, "rb").read() if task.checkpoint else None)
        per_group = max(1, sp.parallel_games // sp.chunk_games)
        groups = [todo[i:i + per_group] for i in range(0, len(todo), per_group)]
        actors = self._actors(ray, task, min(sp.workers, len(groups)))
        try:
            key = task.inference.selfplay_backend_key()
            for c, payload, n in self._results(ray, actors, ckpt_ref, groups, task.meta, key):
                atomic.write_bytes(chunk_path(task.out_dir, c), payload)
                progress.game(n, games=len(chunk_games(c, sp)))
        finally:
            for actor in actors:
                ray.kill(actor)

    @staticmethod
    def _actors(ray, task: SelfPlayTask, n: int) -> list:
        node_gpus = [n["Resources"].get("GPU", 0.0) for n in ray.nodes() if n.get("Alive")]
        gpus = actor_gpus(task.selfplay.device, node_gpus, n)
        actor_cls = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=2,
                               max_task_retries=2)(SelfPlayActor)
        return [actor_cls.remote(task.net, task.mcts, task.selfplay, task.selfplay.seed,
                                 task.inference) for _ in range(n)]

    @staticmethod
    def _results(ray, actors: list, ckpt_ref, groups: list[list[int]], meta: dict, key: str):
        """(chunk, file bytes, positions) of every chunk, as the actors finish their groups;
        ``key`` is the setting that chose the backend, named when a node cannot run it."""
        pending: dict = {}
        todo = [(g, 0) for g in groups]
        free = list(range(len(actors)))
        while todo or pending:
            while todo and free:
                group, tries = todo.pop(0)
                a = free.pop(0)
                pending[actors[a].play.remote(ckpt_ref, group, meta)] = (a, group, tries)
            ready, _ = ray.wait(list(pending), num_returns=1)
            a, group, tries = pending.pop(ready[0])
            free.append(a)
            try:
                shards = ray.get(ready[0])
            except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as e:
                if isinstance(getattr(e, "cause", None), BackendError):
                    # A node without an extra (or a GPU): retrying elsewhere hides the fix.
                    raise BackendError(f"self-play failed on a Ray node: {e.cause} (every "
                                       f"node needs what {key} needs)") from None
                if tries + 1 >= GROUP_RETRIES:
                    raise WorkerError(f"Ray self-play failed {GROUP_RETRIES} times on chunks "
                                      f"{group}: {str(e).splitlines()[0]}") from None
                todo.append((group, tries + 1))
                continue
            yield from shards
