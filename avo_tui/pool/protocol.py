"""The worker-pool protocol: several warm evaluation workers, each leased to one evaluation at
a time.

Two timings never share a GPU: an evaluation holds its worker's lease from its request to its
result, and the commit gate's candidate and best travel in one request, so they are timed on
one GPU. Each local worker is pinned to its GPU by ``CUDA_VISIBLE_DEVICES`` in its own process;
this process counts the GPUs through NVML and never holds a CUDA context.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from ..evaluation import EvalRequest, EvalResult, WorkerError

ProgressCallback = Callable[[str, str], None]


class EvalWorker(Protocol):
    """What the evaluator needs of a worker: a local :class:`Worker`, or a Ray actor's
    stand-in (pool/ray.py RayWorker)."""

    info: dict[str, object]  # its host facts, once it is ready

    def start(self) -> None: ...

    def wait_ready(self) -> dict[str, object]: ...

    def evaluate(
        self,
        request: EvalRequest,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EvalResult: ...

    def check_target(self, ref: str) -> None:
        """TargetFileError where the target ``ref`` names is unusable (Worker.check_target)."""
        ...

    def interrupt(self, reason: str) -> bool: ...

    def stop(self, kill: bool = False) -> None: ...


class WorkerLost(Exception):
    """The worker went away with the evaluation (a Ray actor or its node died): no verdict on
    the candidate. The evaluator asks again, with the baselines the new worker's host has."""


class GpuSpecError(WorkerError):
    """--gpus names GPUs this machine does not have, or a target without GPUs."""


class WorkerPool:
    """Workers leased one evaluation at a time. A caller blocks in :meth:`lease` until one is
    free; with one worker, evaluations simply queue, as they did before there were pools."""

    def __init__(self, workers: Sequence[EvalWorker], on_stop: Callable[[], None] | None = None):
        if not workers:
            raise ValueError("a pool needs at least one worker")
        self.workers: list[EvalWorker] = list(workers)
        self._free = list(self.workers)
        self._changed = threading.Condition()
        self._on_stop = on_stop

    @contextmanager
    def lease(self) -> Iterator[EvalWorker]:
        """A free worker, held until the block ends: nothing else runs on it meanwhile."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._free))
            worker = self._free.pop(0)
        try:
            yield worker
        finally:
            with self._changed:
                self._free.append(worker)
                self._changed.notify()

    @property
    def info(self) -> dict[str, object]:
        return self.workers[0].info

    def wait_ready(self) -> dict[str, object]:
        return self.workers[0].wait_ready()

    def interrupt(self, reason: str) -> bool:
        """Cut every evaluation in flight short; True when one was."""
        return any([worker.interrupt(reason) for worker in self.workers])

    def start(self) -> None:
        for worker in self.workers:  # each spawns at once; they warm up side by side
            worker.start()

    def stop(self, kill: bool = False) -> None:
        try:
            for worker in self.workers:
                worker.stop(kill=kill)
        finally:
            if self._on_stop is not None:
                self._on_stop()

    def __enter__(self) -> WorkerPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
