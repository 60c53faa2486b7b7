#!/usr/bin/env python3
"""Does the tuner find what an exhaustive search finds, with a fifth of the evaluations?

    python benchmarks/tuner_efficiency.py --json
    python benchmarks/tuner_efficiency.py --knobs BLOCK_Q,BLOCK_K,UNROLL,THREADS --fraction 0.2

On the cpu-attention target (quick grid unless --full), the seed's knob space is bounded to
the knobs named by --knobs (the others keep the seed's value). Then, on one warm worker:

    exhaustive         every point of that space evaluated once; the best is exhaustive_best
    tuner              a real session and engine with the tuner, stopped after --fraction of
                       that many evaluations (the seed's two and the gate's re-evaluations count)
    side by side       both winners re-evaluated alternately --rounds times; medians compared,
                       because the search-phase maxima are flattered by noise

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avo_tui.engine import Budgets, Engine, Evaluator, RunSettings, Stop, create_session  # noqa: E402
from avo_tui.engine.launch import seed_files  # noqa: E402
from avo_tui.evaluation import Worker, contract, get_target  # noqa: E402
from avo_tui.evaluation.candidate import apply_knobs  # noqa: E402
from avo_tui.operators import Tuner  # noqa: E402


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
        with tempfile.TemporaryDirectory() as tmp:
            session = create_session(Path(tmp) / "tuner", target,
                                     RunSettings(quick=not args.full), files, evaluator)
            engine = Engine(session, Tuner(args.rng_seed), evaluator, budgets=Budgets())
            used = lambda: 2 + session.attempt_count  # noqa: E731 - the seed was scored twice
            engine.subscribe(lambda e: engine.submit(Stop("budget")) if used() >= budget else None)
            with session:
                engine.run()
                best = session.best()
                assert best is not None and best.score is not None
                tuner_files = session.read_files(best)
                tuner_search = best.score.gmean
                evaluations = used()
        tuner_point = {k.name: k.value for t in tuner_files.values()
                       for k in contract.parse(t).knobs}

        side: dict[str, list[float]] = {"exhaustive": [], "tuner": []}
        for r in range(args.rounds):
            for name, candidate in (("exhaustive", apply_knobs(files, best_point)),
                                    ("tuner", tuner_files)):
                side[name].append(evaluator.evaluate(candidate).geomean)
            progress(f"side by side {r + 1}/{args.rounds}")
    exhaustive_best = statistics.median(side["exhaustive"])
    tuner_best = statistics.median(side["tuner"])
    report = {
        "target": target.name,
        "grid": "full" if args.full else "quick",
        "knobs": args.knobs,
        "space": len(points),
        "exhaustive_best": round(exhaustive_best, 3),
        "tuner_best": round(tuner_best, 3),
        "fraction": round(tuner_best / exhaustive_best, 4),
        "evaluations": {"exhaustive": len(points), "tuner": evaluations},
        "exhaustive_point": best_point,
        "tuner_point": tuner_point,
        "search_phase": {"exhaustive_max": round(search_best, 3),
                         "tuner_committed": round(tuner_search, 3),
                         "seed": round(session.version("v0").score.gmean, 3)},  # type: ignore[union-attr]
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


def feasible(files: dict[str, str], target: object) -> bool:
    try:
        for text in files.values():
            contract.parse(text).check_requirements(target.defines)  # type: ignore[attr-defined]
    except contract.ContractError:
        return False
    return True


def progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{text:<40}", end="" if text else "\r", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
