#!/usr/bin/env python3
"""Do evaluations scale with GPUs, and does every GPU score a kernel alike?

    python benchmarks/parallel_scale.py                          # mha, every GPU here
    python benchmarks/parallel_scale.py --gpus 0,1,2,3 --evals 16 --batches 3 --json
    python benchmarks/parallel_scale.py --target cpu-attention --workers 2 --evals 4 --quick

For pools of 1, 2, 4 ... workers (up to every GPU of --gpus; on the CPU target, --workers CPU
worker processes), batches of --evals candidates (the seed and its one-knob variants, each
made new by a comment naming its batch, so that every one is compiled, as a tuner's are) are
scored through the evaluator's pool, as many at once as the pool has workers (pool/). The
cold start is measured apart and not counted: the pool started, then every worker's first
evaluation (the seed, its worker spawned, its GPU's baselines measured). Then --batches warm
batches, each timed on its own. Prints per pool size:

    cold_s             the cold start, in seconds
    evals_per_hour     the median over the warm batches of a batch's evaluations over its wall
                       time, per hour
    min, max           the slowest and the fastest batch, in evaluations per hour
    spread_pct         (max - min) / median of the batches
    speedup            the median over the one-worker median (ideal: the pool's size)

and per GPU of the largest pool, the seed scored --repeats times there, the baselines measured
anew each time, as a new session on that GPU would; --spread says whether every GPU does so at
the same time (together), one GPU after another with the others idle (alone), or both (the
default: whether running the GPUs at once makes each one's scores noisier):

    score_mean         the seed's geometric mean (TFLOP/s on GPU targets)
    score_spread_pct   (max - min) / mean of those scores
    ratio_mean         the seed's ratio to the target's first baseline (cuDNN on mha)
    ratio_spread_pct   the same spread for the ratio

and across GPUs, the spread of the per-GPU means of score and ratio: how far a GPU's scores
stand from another's, against the ratio, measured beside the kernel on each GPU. A GPU target
needs a machine with NVIDIA GPUs; without one the script says so in one line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NotRequired, TypedDict, TypeVar

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

from avo_tui.engine import Evaluator
from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import (
    EvalRequest,
    EvalResult,
    TargetSpec,
    Worker,
    get_target,
)
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.candidate import apply_knobs
from avo_tui.pool import GpuSpecError, WorkerPool, resolve_gpus

T = TypeVar("T")


class ScaleRow(TypedDict):
    """One pool size: warm batches through the evaluator on that many workers."""

    workers: int
    cold_s: float  # the pool started and every worker's first evaluation: not counted
    evals: int  # in each batch
    failed: int  # in all the warm batches
    seconds: float  # the warm batches', in all
    batches: list[float]  # each warm batch's evaluations per hour
    evals_per_hour: float  # their median
    min: float
    max: float
    spread_pct: float  # (max - min) / median
    speedup: NotRequired[float]  # over the one-worker row, once every row is in


class GpuSpread(TypedDict):
    """The seed scored ``runs`` times on one worker (its GPU, or the CPU)."""

    gpu_index: object  # a host fact: the GPU's index where the worker reported one
    gpu: object
    uuid: object
    runs: int
    failed: int
    failures: list[str]
    score_mean: float | None
    score_spread_pct: float
    ratio_mean: float | None
    ratio_spread_pct: float


def pool_sizes(count: int) -> list[int]:
    """1, 2, 4 ... up to ``count``, and ``count`` itself."""
    sizes = [1]
    while sizes[-1] * 2 <= count:
        sizes.append(sizes[-1] * 2)
    return sizes if sizes[-1] == count else [*sizes, count]


def batch(target: TargetSpec, seed: dict[str, str], count: int) -> list[dict[str, str]]:
    """The seed, then its variants changing one knob to another declared value (those whose
    requirements hold on the target), repeated when there are fewer than ``count``."""
    knobs = [k for text in seed.values() for k in contract.parse(text).knobs]
    variants = [seed]
    for knob in knobs:
        for value in knob.choices:
            if value != knob.value:
                files = apply_knobs(seed, {knob.name: value})
                if feasible(files, target):
                    variants.append(files)
    return [variants[i % len(variants)] for i in range(count)]


def feasible(files: dict[str, str], target: TargetSpec) -> bool:
    try:
        for text in files.values():
            contract.parse(text).check_requirements(target.defines)
    except contract.ContractError:
        return False
    return True


def new_pool(target: TargetSpec, slots: list[str | None]) -> tuple[WorkerPool, list[Worker]]:
    """Workers started with a fresh compile cache (read from the environment at spawn), so
    every pool size compiles the batch anew: the pool, and its workers as the local workers
    they are (the pool knows them only as EvalWorkers)."""
    os.environ["AVO_CACHE_DIR"] = tempfile.mkdtemp(prefix="avo-scale-cache-")
    workers = [Worker(target.device, gpu=slot) for slot in slots]
    pool = WorkerPool(workers)
    pool.start()
    return pool, workers


def on_each(workers: Sequence[Worker], work: Callable[[Worker], T]) -> list[T]:
    """``work(worker)`` on every worker at once (each worker its own thread)."""
    with ThreadPoolExecutor(len(workers)) as threads:
        return list(threads.map(work, workers))


def tagged(candidates: list[dict[str, str]], tag: str) -> list[dict[str, str]]:
    """The candidates, each made a new source by a comment naming ``tag`` and its place (at
    the end of its first file): compiled anew, as a tuner's candidates are, whatever was
    compiled before."""
    out = []
    for place, files in enumerate(candidates):
        first = min(files)
        out.append(files | {first: f"{files[first].rstrip()}\n// parallel_scale: {tag}, "
                            f"candidate {place + 1}\n"})
    return out


def scale(target: TargetSpec, slots: list[str | None], candidates: list[dict[str, str]],
          quick: bool, batches: int) -> ScaleRow:
    """``batches`` warm batches of ``candidates`` through an evaluator on a pool of ``slots``,
    as many at once as workers, after a cold start that is timed apart: the pool started and
    the seed scored on every worker at once (each its first evaluation, baselines measured)."""
    started = now()
    pool, _ = new_pool(target, slots)
    try:
        evaluator = Evaluator(target, pool, quick=quick)
        with ThreadPoolExecutor(len(slots)) as threads:
            list(threads.map(evaluator.evaluate, [candidates[0]] * len(slots)))
            cold = now() - started
            rates, failed, seconds = [], 0, 0.0
            for number in range(1, batches + 1):
                progress(f"scale: {len(slots)} workers, batch {number}/{batches}")
                begun = now()
                results = list(threads.map(evaluator.evaluate,
                                           tagged(candidates, f"batch {number}")))
                took = now() - begun
                seconds += took
                failed += sum(not r.correct for r in results)
                rates.append(round(len(results) / took * 3600, 1))
    finally:
        pool.stop()
    median = statistics.median(rates)
    return {
        "workers": len(slots),
        "cold_s": round(cold, 2),
        "evals": len(candidates),
        "failed": failed,
        "seconds": round(seconds, 2),
        "batches": rates,
        "evals_per_hour": round(median, 1),
        "min": min(rates),
        "max": max(rates),
        "spread_pct": round((max(rates) - min(rates)) / median * 100, 2),
    }


def spread(target: TargetSpec, slots: list[str | None], seed: dict[str, str], repeats: int,
           quick: bool, together: bool) -> list[GpuSpread]:
    """The seed scored ``repeats`` times on each worker, the baselines measured each time; by
    every worker at once (``together``) or by one worker after another."""
    pool, workers = new_pool(target, slots)
    lock = threading.Lock()

    def score(worker: Worker) -> GpuSpread:
        runs: list[EvalResult] = []
        for _ in range(repeats):
            request = EvalRequest(target.ref, seed, quick=quick, reuse_baselines=False)
            runs.append(worker.evaluate(request))
            with lock:
                how = "together" if together else "alone"
                progress(f"spread ({how}): {worker.gpu or 'cpu'} {len(runs)}/{repeats}")
        good = [r for r in runs if r.correct]
        host = good[0].host if good else worker.info
        scores = [r.geomean for r in good]
        ratios = [r.ratio for r in good if r.ratio is not None]
        return {
            "gpu_index": host.get("gpu_index", worker.gpu),
            "gpu": host.get("gpu", host.get("cpu", "")),
            "uuid": host.get("uuid"),
            "runs": len(runs),
            "failed": len(runs) - len(good),
            "failures": [str(r.failure) for r in runs if not r.correct],
            "score_mean": round(statistics.fmean(scores), 4) if scores else None,
            "score_spread_pct": round(spread_pct(scores), 2),
            "ratio_mean": round(statistics.fmean(ratios), 4) if ratios else None,
            "ratio_spread_pct": round(spread_pct(ratios), 2),
        }

    try:
        if together:
            return on_each(workers, score)
        return [score(worker) for worker in workers]
    finally:
        pool.stop()


def now() -> float:
    return time.perf_counter()


def spread_pct(values: list[float]) -> float:
    mean = statistics.fmean(values) if values else 0.0
    return (max(values) - min(values)) / mean * 100 if mean else 0.0


def across(per_gpu: list[GpuSpread], key: Literal["score_mean", "ratio_mean"]) -> float:
    return round(spread_pct([mean for g in per_gpu if (mean := g[key]) is not None]), 2)


def table(report: dict[str, Any]) -> str:
    lines = [f"warm batches of {report['scale'][0]['evals']} evaluations, "
             f"{len(report['scale'][0]['batches'])} per pool size; the cold start apart:",
             f"{'workers':>7} {'cold s':>7} {'evals/hour':>11} {'min':>9} {'max':>9} "
             f"{'spread %':>9} {'speedup':>8}"]
    for row in report["scale"]:
        lines.append(f"{row['workers']:>7} {row['cold_s']:>7.1f} {row['evals_per_hour']:>11.1f} "
                     f"{row['min']:>9.1f} {row['max']:>9.1f} {row['spread_pct']:>9.2f} "
                     f"{row['speedup']:>8.2f}")
    unit = report["unit"]
    where = "workers" if report["target_device"] == "cpu" else "GPUs"
    for how, per_gpu in report["per_gpu"].items():
        when = (f"every one of the {where} at once" if how == "together"
                else f"one after another, the other {where} idle")
        lines.append(f"\nthe seed, {report['repeats']} times on each, its baselines measured "
                     f"each time, {when}:")
        lines.append(f"{'gpu':>5} {'name':24} {unit:>12} {'spread %':>9} {'ratio':>7} "
                     f"{'spread %':>9}")
        for g in per_gpu:
            score = f"{g['score_mean']:.4g}" if g["score_mean"] is not None else "-"
            ratio = f"{g['ratio_mean']:.3f}" if g["ratio_mean"] is not None else "-"
            index = "-" if g["gpu_index"] is None else str(g["gpu_index"])
            lines.append(f"{index:>5} {str(g['gpu'])[:24]:24} {score:>12} "
                         f"{g['score_spread_pct']:>9.2f} {ratio:>7} "
                         f"{g['ratio_spread_pct']:>9.2f}")
            lines.extend(f"      failed: {failure}" for failure in g["failures"])
        lines.append(f"across {where}: score means {across(per_gpu, 'score_mean')}% apart, "
                     f"ratio means {across(per_gpu, 'ratio_mean')}%")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="mha", help="default: mha (needs NVIDIA GPUs)")
    parser.add_argument("--gpus", default="all", help="GPU targets: 'all' or e.g. 0,1,3")
    parser.add_argument("--workers", type=int, default=2,
                        help="the CPU target: the largest pool of CPU workers (default 2)")
    parser.add_argument("--evals", type=int, default=0,
                        help="candidates in a batch (default: 4 per worker of the largest "
                        "pool)")
    parser.add_argument("--batches", type=int, default=3,
                        help="warm batches per pool size, each timed on its own (default 3)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="times each GPU scores the seed for the spread (default 3)")
    parser.add_argument("--spread", choices=("both", "together", "alone"), default="both",
                        help="score the seed on every GPU at once, on one after another, or "
                        "both (default)")
    parser.add_argument("--quick", action="store_true", help="the target's quick grid")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    target = get_target(args.target)
    slots: list[str | None]
    if target.device == "cpu":
        slots = [None] * max(1, args.workers)
    else:
        try:
            slots = list(resolve_gpus(args.gpus))
        except GpuSpecError as error:
            sys.exit(f"parallel_scale: {error}; this needs a machine with NVIDIA GPUs "
                     "(or --target cpu-attention --workers N)")
    seed = seed_files(target)
    candidates = batch(target, seed, args.evals or 4 * len(slots))
    started = time.perf_counter()
    rows: list[ScaleRow] = []
    for size in pool_sizes(len(slots)):
        progress(f"scale: {size} workers")
        rows.append(scale(target, slots[:size], candidates, args.quick, max(1, args.batches)))
    for row in rows:
        row["speedup"] = round(row["evals_per_hour"] / rows[0]["evals_per_hour"], 3)
    per_gpu = {how: spread(target, slots, seed, max(1, args.repeats), args.quick,
                           together=how == "together")
               for how in ("together", "alone") if args.spread in (how, "both")}
    report = {
        "target": target.name,
        "target_device": target.device,
        "grid": "quick" if args.quick else "full",
        "unit": target.unit,
        "repeats": max(1, args.repeats),
        "scale": rows,
        "per_gpu": per_gpu,
        "across_score_spread_pct": {how: across(g, "score_mean") for how, g in per_gpu.items()},
        "across_ratio_spread_pct": {how: across(g, "ratio_mean") for how, g in per_gpu.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    progress("")
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{text:<40}", end="" if text else "\r", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
