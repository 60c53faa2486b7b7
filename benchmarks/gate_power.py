#!/usr/bin/env python3
"""How often the full path from a first evaluation to a commit takes a gain of a known size.

    python benchmarks/gate_power.py --target mha --trials 10 --aa-trials 20 --out power.json
    python benchmarks/gate_power.py --target cpu-attention --quick --trials 4

The candidate is always the target's seed (with its seed knobs). The best version it is judged
against is a copy of the same seed slower by a known amount: real extra work, a dependent chain
of FMAs (AVO_EXTRA_WORK per key block on the CPU, per 8 key blocks on the GPU) that every
shipped seed runs after its stores when the macro is set (0 in real use). How much slower one
unit makes the kernel is calibrated first, by a long paired measurement (--calibration-evals
evaluations of the seed beside the copy with --calibrate units, each timing the two kernels
interleaved for --calibration-s); each true gain then gets the number of units that gives it by
the calibration's slope. The chain does not cost exactly its length (with 2 FMAs per key block
it read +0.45% where the slope said +0.27%), so each level's true gain is measured again by a
long paired evaluation of its own, and the table reports that ("measured").

For each true gain (0 is the A/A test: the best is the seed itself, and the candidate differs
only by an unused global), every trial is a fresh copy of one session whose seed v0 is the
slower copy, scored as `avo run` scores a seed, and a candidate that differs from every other
trial's by its unused global (one gate decision per kernel). The trial runs the engine's own
path: ``Engine.evaluate`` (the first reading), then ``Engine.commit`` (the gate), and records
whether a version came of it and the seconds from the end of the first evaluation to the
decision (0 when the first reading did not ask the gate). Each trial also records what the
lineage stores: v0's score, the committed version's score (and the rate it measured), and
which version is best afterwards; the table's "best" counts the commits that became the best.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.gate_copies import CALIBRATION_UNITS, Copies, marked
from common.tables import fixed

from avo_tui.engine import Engine, Evaluator, RunSettings, create_session, seed_files
from avo_tui.evaluation import EvalRequest, TargetSpec, Worker, get_target
from avo_tui.evaluation.paired import GatePlan
from avo_tui.operators import Tuner
from avo_tui.store import Session


def calibrate(worker: Worker, target: TargetSpec, copies: Copies, units: int,
              evals: int, seconds: float, quick: bool) -> dict[str, Any]:
    """log(slow / fast time) per unit of extra work, from ``evals`` paired evaluations that
    each time the two kernels beside each other for ``seconds``."""
    fast, slow = copies.with_extra(0), copies.with_extra(units)
    logs = []
    for n in range(evals):
        request = EvalRequest(target.ref, marked(fast, target.toolchain, 10_000 + n),
                              quick=quick, incumbent=slow, measure_baselines=False,
                              gate=GatePlan(cap_s=seconds, early=False))
        result = worker.evaluate(request)
        if not result.correct or result.incumbent_gain is None:
            raise SystemExit(f"calibration evaluation {n}: {result.summary()}")
        logs.append(math.log(result.incumbent_gain))
        print(f"calibration {n + 1}/{evals}: {100 * math.expm1(logs[-1]):+.3f}% "
              f"({result.seconds:.1f} s)", file=sys.stderr, flush=True)
    mean = statistics.fmean(logs)
    se = statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    if mean <= 0:
        raise SystemExit(f"{units} units of extra work measured no slowdown ({100 * mean:+.3f}%)"
                         "; pass a larger --calibrate")
    return {"units": units, "evals": evals, "gain_pct": round(100 * math.expm1(mean), 4),
            "se_pct": round(100 * se, 4), "per_unit_log": mean / units,
            "readings_pct": [round(100 * math.expm1(x), 4) for x in logs]}


def run_level(worker: Worker, target: TargetSpec, copies: Copies, gain_pct: float,
              units: int, per_unit_log: float, trials: int, quick: bool, workdir: Path,
              first: int, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """``trials`` decisions on a candidate ``gain_pct`` faster than the best: ``units`` of
    extra work (``per_unit_log`` each) in the best, or in the candidate where the gain is
    negative (a slower candidate, as most are); ``save`` is given the level after each trial."""
    evaluator = Evaluator(target, worker, quick=quick)
    template = workdir / f"gain-{gain_pct:g}" / "template"
    fast, slow = copies.with_extra(0), copies.with_extra(units)
    best, mine = (slow, fast) if gain_pct >= 0 else (fast, slow)
    create_session(template, target, RunSettings(quick=quick), best, evaluator).close()
    rows: list[dict[str, Any]] = []
    level: dict[str, Any] = {}
    for trial in range(trials):
        path = template.parent / f"trial-{trial}"
        shutil.copytree(template, path)
        with Session.open(path) as session:
            engine = Engine(session, Tuner(trial), evaluator)
            candidate = marked(mine, target.toolchain, first + trial)
            started = time.perf_counter()
            reading = engine.evaluate(candidate, base="v0", author="tuner")
            asked = time.perf_counter()
            version = engine.commit(reading, "gate_power trial", "tuner")
            decided = time.perf_counter()
            last = session.recent_attempts(1)[0]
            gate = last.id != reading.attempt.id
            v0, ranked_first = session.version("v0"), session.best()
            rows.append({
                "trial": trial,
                "first_reading": reading.outcome,
                "first_detail": reading.attempt.detail,
                "first_s": round(asked - started, 2),
                "asked_gate": gate,
                "decision": last.outcome if gate else reading.outcome,
                "gate_detail": last.detail if gate else "",
                "committed": version is not None,
                "decision_s": round(decided - asked, 2),
                # what the lineage stores: a committed version should score above the v0 it
                # beat, by about the gain, and become the best
                "v0_score": v0.score.gmean if v0.score else None,
                "version_score": version.score.gmean if version and version.score else None,
                "version_measured": (getattr(version.score, "measured", None)
                                     if version and version.score else None),
                "best_after": ranked_first.id if ranked_first else None,
            })
        shutil.rmtree(path, ignore_errors=True)
        row = rows[-1]
        print(f"gain {gain_pct:+g}% trial {trial + 1}/{trials}: {row['first_reading']} -> "
              f"{row['decision']} in {row['decision_s']} s", file=sys.stderr, flush=True)
        level = summarize_level(gain_pct, units, per_unit_log, rows)
        save(level)
    return level


def summarize_level(gain_pct: float, units: int, per_unit_log: float,
                    rows: list[dict[str, Any]]) -> dict[str, Any]:
    times: list[float] = [r["decision_s"] for r in rows]
    return {
        "true_gain_pct": gain_pct,
        "units": units,
        "calibrated_gain_pct": round(100 * math.expm1(units * per_unit_log), 4),
        "trials": len(rows),
        "asked_gate": sum(r["asked_gate"] for r in rows),
        "committed": sum(r["committed"] for r in rows),
        "commit_rate": round(sum(r["committed"] for r in rows) / max(len(rows), 1), 3),
        "median_decision_s": round(statistics.median(times), 2) if times else None,
        "max_decision_s": max(times, default=None),
        # committed versions that the lineage then ranks best (above v0)
        "became_best": sum(r["committed"] and r["best_after"] != "v0" for r in rows),
        "rows": rows,
    }


def write(path: Path | None, report: dict[str, Any]) -> None:
    """The report so far: a run cut short keeps every trial it finished."""
    if path is not None:
        path.write_text(json.dumps(report, indent=1, default=str))


def table(report: dict[str, Any]) -> str:
    cal = report["calibration"]
    head = ("asked", "units", "measured", "trials", "to gate", "committed", "rate", "median s",
            "max s", "best")
    body = [(f"{level['true_gain_pct']:+.2f}%", level["units"],
             f"{level.get('measured_gain_pct', float('nan')):+.3f}%", level["trials"],
             level["asked_gate"], level["committed"], f"{level['commit_rate']:.2f}",
             level["median_decision_s"], level["max_decision_s"], level.get("became_best", 0))
            for level in report["levels"]]
    return "\n".join([
        f"target {report['target']} ({'quick' if report['quick'] else 'full'} grid); "
        f"calibration: {cal['units']} units = {cal['gain_pct']:+.3f}% +- {cal['se_pct']:.3f}% "
        f"over {cal['evals']} paired evaluations",
        *fixed((10, 6, 10, 6, 7, 9, 6, 9, 7, 5), [head, *body])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="The report (JSON) goes to --out; the table to standard output.")
    parser.add_argument("--target", default="cpu-attention")
    parser.add_argument("--quick", action="store_true", help="the target's quick grid")
    parser.add_argument("--gains", default="0.25,0.5,1",
                        help="true gains in percent besides 0 (default: 0.25,0.5,1); a "
                        "negative one makes the candidate the slower copy")
    parser.add_argument("--trials", type=int, default=10, help="trials per true gain")
    parser.add_argument("--aa-trials", type=int, default=20, help="trials of the A/A test")
    parser.add_argument("--calibrate", type=int, help="units of extra work to calibrate with "
                        "(default: about 2%% on a GPU, 5%% on the CPU)")
    parser.add_argument("--calibration-evals", type=int, default=2)
    parser.add_argument("--calibration-s", type=float, default=30.0,
                        help="seconds each calibration evaluation times the pair (default 30)")
    parser.add_argument("--base-units", type=int, default=0,
                        help="units of extra work in every copy, the candidate too, so that "
                        "levels below the chain's fixed cost (about +0.15%% on mha) can be "
                        "made (default 0)")
    parser.add_argument("--per-unit-pct", type=float,
                        help="the slowdown of one unit of extra work, in percent, from an "
                        "earlier calibration: no calibration is run")
    parser.add_argument("--out", type=Path, help="write the report as JSON here (after every "
                        "trial, so a run cut short keeps what it did)")
    args = parser.parse_args(argv)
    if args.per_unit_pct is not None and not (math.isfinite(args.per_unit_pct)
                                              and args.per_unit_pct > 0):
        parser.error("--per-unit-pct must be a positive percentage")
    for name in ("trials", "aa_trials", "calibration_evals", "calibration_s", "base_units"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    try:
        gains = [float(g) for g in args.gains.split(",") if g.strip()]
    except ValueError:
        parser.error(f"--gains takes percentages separated by commas, not {args.gains!r}")
    if any(not math.isfinite(g) or g == 0 or g <= -50 for g in gains):
        parser.error("--gains must be percentages other than 0 (negative: a slower candidate), "
                     "above -50")
    target = get_target(args.target)
    copies = Copies(seed_files(target), args.base_units)
    units = args.calibrate or CALIBRATION_UNITS[target.toolchain]
    report: dict[str, Any] = {"target": target.name, "quick": args.quick,
                              "base_units": args.base_units, "levels": []}
    with Worker(target.device) as worker, tempfile.TemporaryDirectory() as tmp:
        report["host"] = worker.wait_ready()
        if args.per_unit_pct:
            per_unit = math.log1p(args.per_unit_pct / 100)
            cal = report["calibration"] = {
                "units": 1, "evals": 0, "gain_pct": args.per_unit_pct, "se_pct": float("nan"),
                "per_unit_log": per_unit, "readings_pct": [], "given": True}
        else:
            cal = report["calibration"] = calibrate(
                worker, target, copies, units, max(args.calibration_evals, 1),
                args.calibration_s, args.quick)
        write(args.out, report)
        plan = [(0.0, 0, args.aa_trials)] + [
            (g, max(1, round(abs(math.log1p(g / 100)) / cal["per_unit_log"])), args.trials)
            for g in gains]
        first = 0
        for gain, level_units, trials in plan:
            if trials:
                done = list(report["levels"])

                def save(level: dict[str, Any], done: list[dict[str, Any]] = done) -> None:
                    report["levels"] = [*done, level]
                    write(args.out, report)

                # The hook costs a little at any count (its loop and the register it keeps):
                # each level's own gain is measured, not read off the calibration's slope.
                measured = (calibrate(worker, target, copies, level_units, 1, args.calibration_s,
                                      args.quick) if level_units else None)
                if measured and gain < 0:  # the slower copy is the candidate's
                    measured["gain_pct"] = round(100 * math.expm1(
                        -math.log1p(measured["gain_pct"] / 100)), 4)
                level = run_level(worker, target, copies, gain, level_units,
                                  cal["per_unit_log"], trials, args.quick, Path(tmp), first,
                                  save)
                level["measured_gain_pct"] = measured["gain_pct"] if measured else 0.0
                save(level)
                first += trials
    write(args.out, report)
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
