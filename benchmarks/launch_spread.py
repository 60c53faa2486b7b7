#!/usr/bin/env python3
"""Where the spread of single launches comes from: the seed timed launch by launch on one
configuration with each part of the evaluator's per-launch preparation left out in turn.

    python3 benchmarks/launch_spread.py --target mha --launches 200 --json out.json

Protocols, each timed in its own run of --launches launches between CUDA events (as the
evaluator times them), in rotated order over --repeat passes:

- ``full``: what the evaluator does before every timed launch: new input values drawn into the
  next of two buffers, the output poisoned with NaN, the L2 flushed;
- ``no_refill``: the same inputs every launch (poisoned output, flushed L2);
- ``no_flush``: new inputs and a poisoned output, the L2 left as the last launch left it;
- ``bare``: launches back to back, nothing between;
- ``idle_gap``: ``full`` with the host waiting 2 ms after each launch, so the GPU idles.

For each it prints the median, the interquartile range and the 5-95% range over the median,
and the ratio of the last quarter's median to the first quarter's (drift within the run).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

PROTOCOLS = ("full", "no_refill", "no_flush", "bare", "idle_gap")


def measure(kernel: Any, config: Any, device: Any, protocol: str, launches: int,
            generator: Any) -> list[float]:
    import torch

    from avo_tui.evaluation.measurement.tensors import empty_output, make_inputs, refill

    slots = [make_inputs(config, generator, "cuda") for _ in range(2)]
    out = empty_output(config, "cuda")
    times = []
    for index in range(launches + 1):  # the first is a warm-up
        inputs = slots[index % 2]
        if protocol in ("full", "no_flush", "idle_gap"):
            refill(config, inputs, generator)
        if protocol != "bare":
            out.fill_(math.nan)
        kernel.stage(config, inputs, out)
        if protocol in ("full", "no_refill", "idle_gap"):
            device.flush_cache()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        kernel.fire()
        end.record()
        if protocol == "idle_gap":
            end.synchronize()
            time.sleep(0.002)
        if index:
            times.append((start, end))
        if len(times) % 16 == 0:
            end.synchronize()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) * 1e-3 for s, e in times]


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    median = statistics.median(ordered)
    q1, _, q3 = statistics.quantiles(ordered, n=4)
    p5, p95 = ordered[len(ordered) // 20], ordered[-len(ordered) // 20 - 1]
    quarter = max(len(times) // 4, 1)
    drift = statistics.median(times[-quarter:]) / statistics.median(times[:quarter])
    return {"median_ms": round(median * 1e3, 4), "iqr_pct": round(100 * (q3 - q1) / median, 3),
            "p5_p95_pct": round(100 * (p95 - p5) / median, 3),
            "drift_pct": round(100 * (drift - 1), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="mha")
    parser.add_argument("--configs", help="configuration names, comma-separated (default: the "
                        "grid's first and last)")
    parser.add_argument("--launches", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the figures here as well")
    args = parser.parse_args(argv)
    if args.launches < 8 or args.repeat < 1:
        parser.error("--launches must be 8 or more and --repeat 1 or more")

    from avo_tui.engine.launch import seed_files
    from avo_tui.evaluation.pipeline import Evaluation, Pipeline
    from avo_tui.evaluation.results import EvalRequest
    from avo_tui.evaluation.targets.file import get_target

    target = get_target(args.target)
    if target.device != "cuda":
        parser.error("launch_spread.py measures a GPU target")
    grid = {c.name: c for c in target.configs}
    names = args.configs.split(",") if args.configs else [target.configs[0].name,
                                                          target.configs[-1].name]
    unknown = [n for n in names if n not in grid]
    if unknown:
        parser.error(f"no configuration {unknown[0]!r} in {target.name}")
    sources = seed_files(target)
    pipeline = Pipeline(target.device)
    evaluation = Evaluation(pipeline, EvalRequest(target.ref, sources, seed=0),
                            lambda phase, detail: None)
    kernel = evaluation.load(evaluation.compile(sources), evaluation.declarations(sources), [])
    generator = evaluation.generator(1)
    rows = []
    for name in names:
        samples: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
        for rep in range(args.repeat):
            order = PROTOCOLS[rep % len(PROTOCOLS):] + PROTOCOLS[:rep % len(PROTOCOLS)]
            for protocol in order:
                samples[protocol] += measure(kernel, grid[name], pipeline.device, protocol,
                                             args.launches, generator)
        for protocol in PROTOCOLS:
            rows.append({"config": name, "protocol": protocol, **summary(samples[protocol])})
    kernel.close()
    print(f"{'config':<28} {'protocol':<10} {'median ms':>10} {'IQR %':>7} {'p5-p95 %':>9} "
          f"{'drift %':>8}")
    for row in rows:
        print(f"{row['config']:<28} {row['protocol']:<10} {row['median_ms']:>10.4f} "
              f"{row['iqr_pct']:>7.3f} {row['p5_p95_pct']:>9.3f} {row['drift_pct']:>+8.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
