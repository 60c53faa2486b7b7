"""What an evaluation costs on a CPU target, by kind: a candidate alone, a first reading timed
beside the best, and a gate decision, on the seed doing its work 7 times (the best) against 4
times (the candidate, 1.75x faster by construction: tests/engine_helpers.py). One warm worker,
each kind ``--runs`` times, the wall time of each; the targets side by side in one run.

    python benchmarks/eval_cost.py [--runs 2] [--json] [TARGET ...]

TARGET: a shipped CPU target's name or a target file's path (default: cpu-attention and the
tests' small one, tests/fixtures/targets/cpu_attention_small.py). The engine's, the gate's and
the app's tests evaluate on the small one: what it saves a step is what the suite saves.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import common  # noqa: F401  (avo_tui and tests/ on sys.path)
from common.figures import print_figures

from engine_helpers import FAST, SLOW, TARGET, slow_seed

from avo_tui.engine import Evaluator
from avo_tui.evaluation import Worker, get_target
from avo_tui.evaluation.paired import GatePlan

KINDS = ("alone", "first reading", "gate")


def costs(ref: str, runs: int) -> dict[str, list[float]]:
    """Seconds of each kind of evaluation of the fast kernel, ``runs`` times each."""
    target = get_target(ref)
    slow = slow_seed()
    fast = {name: text.replace(SLOW, FAST) for name, text in slow.items()}
    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with Worker(target.device) as worker:
        evaluator = Evaluator(target, worker, quick=True)
        evaluator.evaluate(slow)  # the worker warm, the baselines' timings kept
        for _ in range(runs):
            for kind in KINDS:
                started = time.perf_counter()
                result = evaluator.evaluate(
                    fast,
                    incumbent=slow if kind != "alone" else None,
                    gate=GatePlan(cap_s=target.gate_cap_s) if kind == "gate" else None,
                    fresh_baselines=kind == "gate")
                if result.failure is not None:
                    raise SystemExit(f"{ref}: {kind}: {result.failure}")
                seconds[kind].append(time.perf_counter() - started)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", default=["cpu-attention", TARGET.ref])
    parser.add_argument("--runs", type=int, default=2, help="evaluations of each kind")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    figures = {}
    for ref in args.targets:
        measured = costs(ref, args.runs)
        name = get_target(ref).name
        for kind, seconds in measured.items():
            figures[f"{name}: {kind} s"] = round(statistics.median(seconds), 2)
    print_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
