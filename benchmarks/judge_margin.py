#!/usr/bin/env python3
"""How close honest kernels come to the correctness tolerance, whole output and per row.

    python benchmarks/judge_margin.py --target mha --draws 4
    python benchmarks/judge_margin.py --target cpu-attention --json

The judge (evaluation/measurement/judge.py) holds each output, and each query row of it, to a
tolerance derived from an honest computation's error. A tolerance that honest kernels come near
rejects good candidates by chance; this measures the room. For each of the target's baselines
(cuDNN and flash on a GPU, torch's SDPA on the CPU) and the target's seed kernel (through the real
worker), over the timed grid, the fixed edges and the shapes and input cases drawn for ``--draws``
evaluation seeds, it prints the largest ratio of an error to its bound:

    row        the worst query row's error over its own bound
    rel_l2     the whole output's relative L2 error over its bound
    max_abs    the whole output's largest absolute error over its bound

Below 1 passes; a figure near 1 is a tolerance too tight for honest kernels.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import warnings

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

import torch

from avo_tui.engine.launch import seed_path
from avo_tui.evaluation import EvalRequest, Worker, get_target
from avo_tui.evaluation.declarations.candidate import load_sources
from avo_tui.evaluation.measurement.judge import Rejected, judge_output
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.results import ConfigResult
from avo_tui.evaluation.targets.problem import Config
from avo_tui.evaluation.targets.spec import TargetSpec, draw_edge_configs

RATIOS = ("row", "rel_l2", "max_abs")


def shapes(target: TargetSpec, draws: int) -> list[tuple[Config, str]]:
    todo = [(c, "normal") for c in (*target.configs, *target.edge_configs)]
    for seed in range(draws):
        todo += draw_edge_configs(target, random.Random(seed))
    return todo


def ratios(entry: ConfigResult) -> dict[str, float]:
    rel_tol, abs_tol = entry.tolerance or (0.0, 0.0)
    return {
        "row": entry.row_error_ratio or 0.0,
        "rel_l2": (entry.rel_l2_err or 0.0) / rel_tol if rel_tol else 0.0,
        "max_abs": (entry.max_abs_err or 0.0) / abs_tol if abs_tol else 0.0,
    }


def baseline_margins(target: TargetSpec, name: str, draws: int) -> dict[str, object]:
    worst = dict.fromkeys(RATIOS, 0.0)
    where = dict.fromkeys(RATIOS, "")
    failures = []
    unsupported = 0
    todo = shapes(target, draws)
    for index, (config, case) in enumerate(todo):
        generator = torch.Generator(device=target.device).manual_seed(index)
        inputs = make_inputs(config, generator, target.device, case)
        try:
            call = config.problem.numerics().baselines[name](config)
            call.stage(inputs)
            out = call.run()
        except RuntimeError:  # cuDNN has no kernel for a single key, say
            unsupported += 1
            continue
        entry = ConfigResult(config, case=case)
        try:
            judge_output(target.tolerance, inputs, out, entry)
        except Rejected as rejected:
            failures.append(f"{config.name} {case}: {rejected}")
        for key, value in ratios(entry).items():
            if value > worst[key]:
                worst[key], where[key] = value, f"{config.name} {case}"
        print(f"  {name} {index + 1}/{len(todo)}", file=sys.stderr, end="\r")
    shapes_run = len(todo) - unsupported
    return {"subject": name, "shapes": shapes_run, **worst, "where": where, "failures": failures}


def seed_margins(target: TargetSpec, draws: int) -> dict[str, object]:
    worst = dict.fromkeys(RATIOS, 0.0)
    where = dict.fromkeys(RATIOS, "")
    failures, count = [], 0
    sources = load_sources(seed_path(target), target.toolchain)
    with Worker(target.device) as worker:
        for seed in range(draws):
            request = EvalRequest(
                target.ref, sources, quick=False, measure_baselines=False, seed=seed
            )
            result = worker.evaluate(request)
            if result.failure is not None:
                failures.append(str(result.failure))
            for entry in result.configs:
                count += 1
                for key, value in ratios(entry).items():
                    if value > worst[key]:
                        worst[key], where[key] = value, f"{entry.name} {entry.case}"
    return {"subject": "seed", "shapes": count, **worst, "where": where, "failures": failures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--draws", type=int, default=3, help="evaluation seeds drawn (default 3)")
    parser.add_argument("--no-seed", action="store_true", help="leave the seed kernel out")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args(argv)
    quiet = ".*(kernel not used|runtime disabled|does not support)"  # cuDNN on a single key
    warnings.filterwarnings("ignore", message=quiet)
    target = get_target(args.target)
    rows = [baseline_margins(target, name, args.draws) for name in target.baselines]
    if not args.no_seed and target.seed is not None:
        rows.append(seed_margins(target, args.draws))
    if args.json:
        print(json.dumps({"target": target.name, "rows": rows}, indent=2))
        return 0
    print(f"{'subject':16} {'shapes':>6} {'row':>7} {'rel_l2':>7} {'max_abs':>7}  worst row at")
    for row in rows:
        where = row["where"]
        assert isinstance(where, dict)
        print(
            f"{row['subject']:16} {row['shapes']:>6} {row['row']:>7.3f} {row['rel_l2']:>7.3f} "
            f"{row['max_abs']:>7.3f}  {where['row']}"
        )
        for failure in row["failures"]:  # type: ignore[attr-defined]
            print(f"  FAILED {failure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
