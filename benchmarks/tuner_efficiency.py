#!/usr/bin/env python3
"""Does the tuner find what an exhaustive search finds, with a fifth of the evaluations?

    python benchmarks/tuner_efficiency.py --json
    python benchmarks/tuner_efficiency.py --knobs BLOCK_Q,BLOCK_K,UNROLL,THREADS --fraction 0.2

On the cpu-attention target (quick grid unless --full), the seed's knob space is bounded to
the knobs named by --knobs (the others keep the seed's value). Then, on one warm worker:

    exhaustive         every point of that space evaluated once; the best is exhaustive_best
    tuner              --repeats runs of a real session and engine with the tuner, each
                       stopped after --fraction of that many evaluations (the seed's two and
                       the gate's re-evaluations count)
    side by side       each tuner winner and the exhaustive winner re-evaluated alternately
                       --rounds times; medians compared, because the search-phase maxima are
                       flattered by noise. The run with the median fraction is reported.

Prints exhaustive_best, tuner_best (GFLOP/s, side-by-side medians), fraction (tuner / exhaustive,
target >= 0.95), evaluations (exhaustive, tuner) and the search-phase figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import common  # noqa: F401  (avo_tui and tests/ on sys.path)

from avo_tui.engine import Budgets, Engine, Evaluator, RunSettings, Stop, create_session
from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import TargetSpec, Worker, get_target
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.candidate import apply_knobs
from avo_tui.operators import Tuner


def bounded(files: dict[str, str], keep: set[str]) -> dict[str, str]:
    """The seed with every knob outside ``keep`` declared with its current value only."""
    out = {}
    for name, text in files.items():
        lines = text.splitlines(keepends=True)
        for knob in contract.parse(text).knobs:
            if knob.name not in keep:
                line = lines[knob.line - 1]
                head, _, _ = line.partition("avo:knob")
                lines[knob.line - 1] = f"{head}avo:knob {knob.value}\n"
        out[name] = "".join(lines)
    return out


def space(files: dict[str, str]) -> list[dict[str, str]]:
    knobs = [k for text in files.values() for k in contract.parse(text).knobs]
    return [dict(zip([k.name for k in knobs], values, strict=True))
            for values in itertools.product(*(k.choices for k in knobs))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knobs", default="BLOCK_Q,UNROLL,THREADS",
                        help="knobs to search (default: BLOCK_Q,UNROLL,THREADS)")
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3,
                        help="tuner runs (rng seeds N, N+1, ...); the median fraction is shown")
    parser.add_argument("--rng-seed", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="the full grid, not the quick one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    target = get_target("cpu-attention")
    files = bounded(seed_files(target), set(args.knobs.split(",")))
    points = [p for p in space(files) if feasible(apply_knobs(files, p), target)]
    started = time.perf_counter()
    with Worker(target.device) as worker:
        evaluator = Evaluator(target, worker, quick=not args.full)
        scores: list[tuple[float, dict[str, str]]] = []
        for index, point in enumerate(points):
            result = evaluator.evaluate(apply_knobs(files, point))
            scores.append((result.geomean, point))
            progress(f"exhaustive {index + 1}/{len(points)}")
        exhaustive_s = time.perf_counter() - started
        search_best, best_point = max(scores, key=lambda s: s[0])

        budget = max(3, round(args.fraction * len(points)))
        runs = [tune(target, files, evaluator, budget, args.rng_seed + r, not args.full)
                for r in range(args.repeats)]
        best_files = apply_knobs(files, best_point)
        for run in runs:  # each tuner winner beside the exhaustive winner, alternating
            for r in range(args.rounds):
                run.side_exhaustive.append(evaluator.evaluate(best_files).geomean)
                run.side_tuner.append(evaluator.evaluate(run.files).geomean)
                progress(f"side by side {r + 1}/{args.rounds}")
    fractions = [statistics.median(r.side_tuner) / statistics.median(r.side_exhaustive)
                 for r in runs]
    middle = sorted(range(len(runs)), key=lambda i: fractions[i])[len(runs) // 2]
    run = runs[middle]
    exhaustive_best = statistics.median(run.side_exhaustive)
    tuner_best = statistics.median(run.side_tuner)
    report = {
        "target": target.name,
        "grid": "full" if args.full else "quick",
        "knobs": args.knobs,
        "space": len(points),
        "exhaustive_best": round(exhaustive_best, 3),
        "tuner_best": round(tuner_best, 3),
        "fraction": round(fractions[middle], 4),
        "fractions": [round(f, 4) for f in fractions],
        "evaluations": {"exhaustive": len(points), "tuner": run.evaluations},
        "exhaustive_point": best_point,
        "tuner_point": run.point,
        "search_phase": {"exhaustive_max": round(search_best, 3),
                         "tuner_committed": round(run.committed, 3),
                         "seed": round(run.seed, 3)},
        "unit": target.unit,
        "seconds": round(time.perf_counter() - started, 1),
        "exhaustive_s": round(exhaustive_s, 1),
    }
    progress("")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:<18} {value}")
    return 0


@dataclass
class TunerRun:
    files: dict[str, str]
    point: dict[str, str]
    committed: float
    seed: float
    evaluations: int
    side_exhaustive: list[float] = field(default_factory=list)
    side_tuner: list[float] = field(default_factory=list)


def tune(target: TargetSpec, files: dict[str, str], evaluator: Evaluator, budget: int,
         rng_seed: int, quick: bool) -> TunerRun:
    """A real session and engine with the tuner, stopped once ``budget`` evaluations are spent
    (the seed's two and the gate's re-evaluations count)."""
    with tempfile.TemporaryDirectory() as tmp:
        session = create_session(Path(tmp) / "tuner", target, RunSettings(quick=quick), files,
                                 evaluator)
        engine = Engine(session, Tuner(rng_seed), evaluator, budgets=Budgets())

        def used() -> int:
            return 2 + session.attempt_count

        engine.subscribe(lambda e: engine.submit(Stop("budget")) if used() >= budget else None)
        with session:
            engine.run()
            best = session.best()
            assert best is not None and best.score is not None
            seed = session.version("v0").score
            tuned = session.read_files(best)
            point = {k.name: k.value for t in tuned.values() for k in contract.parse(t).knobs}
            return TunerRun(tuned, point, best.score.gmean, seed.gmean if seed else 0.0, used())


def feasible(files: dict[str, str], target: TargetSpec) -> bool:
    try:
        for text in files.values():
            contract.parse(text).check_requirements(target.defines)
    except contract.ContractError:
        return False
    return True


def progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{text:<40}", end="" if text else "\r", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
