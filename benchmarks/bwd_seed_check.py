#!/usr/bin/env python3
"""The backward seed (kernels/cuda/attention_bwd.cu) on mha-bwd and gqa-bwd, through the real
evaluator, as `avo eval kernels/cuda/attention_bwd.cu --target T` runs it. Needs a CUDA GPU.

    python benchmarks/bwd_seed_check.py                       # the full grids
    python benchmarks/bwd_seed_check.py --quick               # the short grids
    python benchmarks/bwd_seed_check.py --knob STEP_Q=32 --knob STEP_K=128
    python benchmarks/bwd_seed_check.py --check-only          # correctness alone

Per target: every checked configuration (edges and input cases included) with pass/fail, its
worst absolute error, its relative L2 error and the tolerance it was judged by; then, where
every one passed, each timed configuration's throughput (TFLOP/s, the backward's work: 2.5x
the forward's FLOPs) beside the baselines measured in the same run (cuDNN's and
FlashAttention-2's backward through SDPA, timed in alternating rounds with the seed), and the
ratios. The evaluator stops at the first failing configuration: the ones after it print as
"not checked". Exit status 1 when a target fails anywhere.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.progress import progress_lines  # noqa: E402

from avo_tui.evaluation import EvalRequest, EvalResult, Worker  # noqa: E402
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources  # noqa: E402

SEED = ROOT / "kernels" / "cuda" / "attention_bwd.cu"
TARGETS = ("mha-bwd", "gqa-bwd")


def verdict(passed: bool | None) -> str:
    return "not checked" if passed is None else ("pass" if passed else "FAIL")


def number(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def report(result: EvalResult) -> bool:
    print(f"\n== {result.target} ({'quick' if result.quick else 'full'} grid, seed "
          f"{result.seed}) ==")
    if result.compile is not None:
        print(f"compile: {result.compile.resources}")
    for c in result.configs:
        tolerance = ("-" if c.tolerance is None
                     else f"rel_l2<={c.tolerance[0]:.3g} max_abs<={c.tolerance[1]:.3g}")
        print(f"  {verdict(c.passed):11} {c.config.name:34} {c.case:12} "
              f"max_abs={number(c.max_abs_err):9} rel_l2={number(c.rel_l2_err):9} {tolerance}")
    checked = [c for c in result.configs if c.max_abs_err is not None]
    if checked:
        worst = max(checked, key=lambda c: c.max_abs_err or 0.0)
        print(f"worst max_abs error: {number(worst.max_abs_err)} on {worst.config.name} "
              f"({worst.case})")
    if result.failure is not None:
        print(f"FAILED: {result.failure}")
        return False
    if not any(c.throughput > 0 for c in result.timed):  # --check-only
        print("correct on every configuration checked; nothing timed")
        return True
    print("timed (TFLOP/s):")
    ratios: dict[str, list[float]] = {}
    for c in result.timed:
        beside = "  ".join(f"{name}={rate:.1f} (x{c.throughput / rate:.3f})"
                           for name, rate in sorted(c.baselines.items()) if rate > 0)
        print(f"  {c.config.name:34} seed={c.throughput:.1f}  {beside}")
        for name, rate in c.baselines.items():
            if rate > 0:
                ratios.setdefault(name, []).append(c.throughput / rate)
    print(f"geomean: seed={result.geomean:.1f} TFLOP/s; "
          + ", ".join(f"x{math.exp(sum(map(math.log, r)) / len(r)):.3f} {name}"
                      for name, r in sorted(ratios.items())))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), metavar="T")
    parser.add_argument("--quick", action="store_true", help="the targets' short grids")
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                        help="a knob of the seed set to another of its values")
    parser.add_argument("--kernel", type=Path, default=SEED, help="another backward kernel")
    parser.add_argument("--seed", type=int, help="input seed, to reproduce a run")
    parser.add_argument("--check-only", action="store_true",
                        help="correctness alone: nothing timed, no baseline run")
    args = parser.parse_args(argv)
    knobs = dict(k.split("=", 1) for k in args.knob)
    sources = apply_knobs(load_sources(args.kernel, "cuda"), knobs)
    ok = True
    with Worker("cuda") as worker:
        for target in args.targets:
            result = worker.evaluate(EvalRequest(target, sources, quick=args.quick,
                                                 seed=args.seed, timed=not args.check_only,
                                                 measure_baselines=not args.check_only),
                                     on_progress=progress_lines(target))
            ok = report(result) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
