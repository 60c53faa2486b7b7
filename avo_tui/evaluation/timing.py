"""Timing launches: warm-up, then repeats until a time budget, inputs rotated, median and spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from .results import Timing

MIN_REPS = 3
MAX_REPS = 10_000
WARMUP_REPS = 1
GPU_BATCH = 8  # launches queued back to back between host synchronisations


def wall_clock(launch: Callable[[], object]) -> float:
    """Seconds one synchronous launch takes. (The CUDA clock uses device events instead.)"""
    start = time.perf_counter_ns()
    launch()
    return (time.perf_counter_ns() - start) * 1e-9


def summarize(samples: list[float]) -> Timing:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4)
    else:
        q1, q3 = ordered[0], ordered[-1]
    spread = (q3 - q1) / median * 100 if median > 0 else 0.0
    return Timing(median_s=median, spread_pct=spread, reps=len(ordered), min_s=ordered[0])


def time_rotating(
    launch: Callable[[int], object],
    sets: int,
    budget_s: float,
    clock: Callable[[Callable[[], object]], float] = wall_clock,
    before_last: Callable[[], object] | None = None,
) -> tuple[list[float], int]:
    """Time ``launch(i)`` on input sets i = 0, 1, ... (mod ``sets``) until ``budget_s`` is spent.

    The last launch comes after the loop, with ``before_last()`` run untimed just before it
    (to poison the output), so the caller can check that launch's output against set ``last``.
    Returns the samples and ``last``."""
    for i in range(WARMUP_REPS):
        launch(i % sets)
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    i = WARMUP_REPS
    while len(samples) < MIN_REPS or (time.perf_counter() < deadline and len(samples) < MAX_REPS):
        index = i % sets
        samples.append(clock(lambda index=index: launch(index)))
        i += 1
    last = i % sets
    if before_last is not None:
        before_last()
    samples.append(clock(lambda: launch(last)))
    return samples, last


def time_rotating_gpu(
    launch: Callable[[int], object],
    sets: int,
    budget_s: float,
    before_last: Callable[[], object] | None = None,
) -> tuple[list[float], int]:
    """``time_rotating`` for a GPU: each launch between its own pair of CUDA events, launches
    queued in batches so the GPU never idles (and never clocks down) between them."""
    import torch

    for i in range(WARMUP_REPS):
        launch(i % sets)
    torch.cuda.synchronize()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    i = WARMUP_REPS
    while len(samples) < MIN_REPS or (time.perf_counter() < deadline and len(samples) < MAX_REPS):
        events = []
        for _ in range(GPU_BATCH):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            launch(i % sets)
            end.record()
            events.append((start, end))
            i += 1
        events[-1][1].synchronize()
        samples += [start.elapsed_time(end) * 1e-3 for start, end in events]
    last = i % sets
    if before_last is not None:
        before_last()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    launch(last)
    end.record()
    end.synchronize()
    samples.append(start.elapsed_time(end) * 1e-3)
    return samples, last
