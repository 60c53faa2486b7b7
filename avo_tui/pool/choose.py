"""Which pool a run gets: Ray actors with ``--ray``, else local workers."""

from __future__ import annotations

from ..evaluation import TargetSpec
from .local import local_pool
from .protocol import WorkerPool


def evaluation_pool(target: TargetSpec, *, gpus: str | None = None, workers: int | None = None,
                    ray: str | None = None, name: str = "avo") -> WorkerPool:
    """The run's workers: Ray actors with ``ray`` (an address or ``auto``; Ray is imported
    only then), else local workers (:func:`local_pool`)."""
    if ray:
        from .ray import ray_pool  # Ray stays optional: loaded only when asked for

        return ray_pool(target, ray, workers, name)
    return local_pool(target, gpus, workers if target.device == "cpu" else None)
