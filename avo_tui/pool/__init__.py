"""Evaluation workers leased one evaluation at a time: the pool protocol (protocol.py), local
workers on this machine's GPUs or CPU (local.py), and Ray actors across nodes (ray.py, loaded
only for ``--ray``)."""

from .choose import evaluation_pool
from .local import (
    check_flags,
    gpu_index,
    gpu_label,
    local_pool,
    parse_gpus,
    resolve_gpus,
    visible_gpus,
)
from .protocol import EvalWorker, GpuSpecError, ProgressCallback, WorkerLost, WorkerPool

__all__ = [
    "EvalWorker",
    "GpuSpecError",
    "ProgressCallback",
    "WorkerLost",
    "WorkerPool",
    "check_flags",
    "evaluation_pool",
    "gpu_index",
    "gpu_label",
    "local_pool",
    "parse_gpus",
    "resolve_gpus",
    "visible_gpus",
]
