"""The GPUs of this machine and the local pool of workers on them: one warm worker per GPU,
each pinned to its GPU by ``CUDA_VISIBLE_DEVICES`` in its own process. This process counts the
GPUs through NVML and never holds a CUDA context."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping, Sequence

from ..evaluation import TargetSpec, Worker
from .protocol import GpuSpecError, WorkerPool


def parse_gpus(text: str) -> str:
    """``all`` or GPU numbers separated by commas (``0,1,3``), normalised; ValueError
    otherwise. An argparse type: the error is one line."""
    text = text.strip()
    if text == "all":
        return text
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError(f"--gpus takes 'all' or GPU numbers such as 0,1,3, not {text!r}")
    numbers = [int(p) for p in parts]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"--gpus names a GPU twice: {text}")
    return ",".join(str(n) for n in numbers)


def visible_gpus() -> list[str]:
    """The GPUs CUDA would show this process, as ``CUDA_VISIBLE_DEVICES`` values: the entries
    of that variable when it is set, else 0 .. N-1 for the N GPUs NVML counts (no CUDA
    context is made here). Empty without a GPU or a driver."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        entries = [e.strip() for e in listed.split(",") if e.strip()]
        # CUDA stops at the first entry that names no device: "-1" hides every GPU
        return entries[: next((i for i, e in enumerate(entries) if e.startswith("-")),
                              len(entries))]
    return [str(i) for i in range(_nvml_count())]


def _nvml_count() -> int:
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return 0
    count = ctypes.c_uint(0)
    if nvml.nvmlInit_v2() != 0:
        return 0
    try:
        return count.value if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0 else 0
    finally:
        nvml.nvmlShutdown()


def resolve_gpus(spec: str, visible: Sequence[str] | None = None) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` value of each GPU ``spec`` names; GpuSpecError when this
    machine has none or not those. Numbers count the GPUs this process sees (under
    ``CUDA_VISIBLE_DEVICES=2,3``, GPU 0 is the physical GPU 2)."""
    spec = parse_gpus(spec)
    gpus = list(visible_gpus() if visible is None else visible)
    if not gpus:
        raise GpuSpecError(f"--gpus {spec}: no NVIDIA GPU is visible here")
    if spec == "all":
        return gpus
    numbers = [int(n) for n in spec.split(",")]
    missing = [n for n in numbers if n >= len(gpus)]
    if missing:
        raise GpuSpecError(f"--gpus {spec}: there is no GPU {missing[0]}; this machine shows "
                           f"{len(gpus)} (0-{len(gpus) - 1})")
    return [gpus[n] for n in numbers]


def local_pool(target: TargetSpec, gpus: str | None = None, workers: int | None = None
               ) -> WorkerPool:
    """The workers of a run on this machine: one per GPU of ``gpus`` on a GPU target, else
    ``workers`` CPU workers (default one; a CPU target's workers share this machine's cores,
    so each one's timings slow the others'). Nothing given: one worker, as before pools."""
    if target.device == "cpu":
        if gpus is not None:
            raise GpuSpecError(f"--gpus applies to GPU targets; {target.name} runs on the CPU "
                               "(--workers N gives it N worker processes)")
        return WorkerPool([Worker(target.device) for _ in range(workers or 1)])
    if gpus is None:
        return WorkerPool([Worker(target.device)])
    return WorkerPool([Worker(target.device, gpu=gpu) for gpu in resolve_gpus(gpus)])


def check_flags(target: TargetSpec, gpus: str | None, workers: int | None, ray: str | None
                ) -> None:
    """What ``avo run`` was given explicitly must apply (stored settings that do not apply to
    a run, e.g. --gpus under --ray, are left aside instead)."""
    if gpus is not None and ray:
        raise GpuSpecError("with --ray, Ray places the evaluations on the cluster's GPUs: give "
                           "--workers N (default: one per GPU of the cluster), not --gpus")
    if gpus is not None:
        local_pool(target, gpus)  # its error, if any: no worker starts before its first use
    if workers is not None and target.device != "cpu" and not ray:
        raise GpuSpecError(f"--workers applies to the CPU target and to --ray; {target.name} "
                           "takes --gpus all or --gpus 0,1,... (one worker per GPU)")
    cores = os.cpu_count() or 1
    if workers is not None and not ray and workers > cores:
        raise GpuSpecError(f"--workers {workers:,}: at most {cores} here, one per CPU core (each "
                           "worker times kernels on the cores the others use)")


def gpu_index(host: Mapping[str, object]) -> str | None:
    """The GPU a worker's host facts name, as its ``CUDA_VISIBLE_DEVICES`` entry (``3``);
    None on a CPU."""
    if "gpu" not in host:
        return None
    return str(host.get("gpu_index", "?"))


def gpu_label(host: Mapping[str, object]) -> str | None:
    """``GPU 3 (NVIDIA H200, GPU-8e5c1a2b)`` from a result's host facts; None on a CPU."""
    index = gpu_index(host)
    if index is None:
        return None
    uuid = str(host.get("uuid") or "")
    name = f"{host['gpu']}, {uuid[:12]}" if uuid else str(host["gpu"])
    return f"GPU {index} ({name})"
