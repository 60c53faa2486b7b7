#!/usr/bin/env python3
"""Whether a session's gate readings agree with themselves and with its first readings.

    python3 benchmarks/gate_consistency.py sessions/lanes-long/sessions/lanes-run
    python3 benchmarks/gate_consistency.py SESSION_DIR --json

Every evaluation beside the best stores, in its result log (the attempt's ``log`` blob), the
gain timed between the two kernels and each one's rate over the anchor, from the same sweeps.
Two figures, each a log in percent:

    gap     log(candidate / anchor) - log(best / anchor) - log(gain): 0 where the two rates
            over the anchor agree with the gain timed between the kernels
    drift   a gate's gain less the first reading it re-evaluated (the attempt its detail
            names), beside the same best kernel: 0 where the gate reads what the first
            reading read, as it should on average

On four H200s, in a 20-minute run on mha's quick grid where the gate checked the candidate
3.3 times as often as the best, 8 of 8 gates read a gap of +0.1% to +4.7% (527 first readings:
+0.09% on average), and the long gates drifted +0.5-0.6% (benchmarks/RESULTS.md, the
nineteenth session). The session is opened read-only; a live run's is read as it stands.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.tables import fixed

from avo_tui.store import Attempt, Session, StoreError

REEVALUATION = re.compile(r"re-evaluation of (a\d+)")


@dataclass(frozen=True)
class Reading:
    """What one evaluation beside the best measured (logs)."""

    attempt: str
    gate: bool
    gain: float
    gain_se: float | None
    sweeps: int | None
    best_kernel: str | None
    gap: float | None  # None where the anchor was not timed beside both


def reading(attempt: Attempt, doc: dict[str, Any]) -> Reading | None:
    """``attempt``'s reading from its result log; None where it was not timed beside a best."""
    gain = doc.get("incumbent_gain")
    if not gain or gain <= 0:
        return None
    mine, theirs = doc.get("anchor_ratio"), doc.get("incumbent_anchor_ratio")
    gap = (math.log(mine) - math.log(theirs) - math.log(gain)
           if mine and theirs and mine > 0 and theirs > 0 else None)
    beside = doc.get("beside") or {}
    return Reading(attempt.id, bool(beside.get("gate")), math.log(gain),
                   doc.get("incumbent_gain_se"), beside.get("sweeps"),
                   doc.get("incumbent_kernel_id"), gap)


def readings(session: Session) -> tuple[dict[str, Reading], dict[str, str]]:
    """Every reading beside a best, by attempt; and each gate's first reading, by gate."""
    found: dict[str, Reading] = {}
    first_of: dict[str, str] = {}
    for number in range(1, session.attempt_count + 1):
        attempt = session.attempt(f"a{number}")
        if not attempt.log:
            continue
        try:
            doc = json.loads(session.blobs.get_text(attempt.log))
        except (StoreError, OSError, ValueError):
            continue
        read = reading(attempt, doc) if isinstance(doc, dict) else None
        if read is None:
            continue
        found[attempt.id] = read
        named = REEVALUATION.match(attempt.detail or "")
        if read.gate and named:
            first_of[attempt.id] = named[1]
    return found, first_of


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values),
            "mean_pct": 100 * statistics.fmean(values) if values else None,
            "median_pct": 100 * statistics.median(values) if values else None,
            "sd_pct": 100 * statistics.stdev(values) if len(values) > 1 else None,
            "above_zero": sum(v > 0 for v in values)}


def figures(session: Session) -> dict[str, Any]:
    found, first_of = readings(session)
    gaps = {kind: [r.gap for r in found.values() if r.gate == gate and r.gap is not None]
            for kind, gate in (("gate", True), ("first", False))}
    drifts: list[dict[str, Any]] = []
    for gate_id, first_id in first_of.items():
        gate, first = found[gate_id], found.get(first_id)
        if first is None or first.best_kernel != gate.best_kernel:
            continue  # timed beside another best: nothing to compare
        drifts.append({"gate": gate_id, "first": first_id, "first_pct": 100 * first.gain,
                       "gate_pct": 100 * gate.gain, "drift_pct": 100 * (gate.gain - first.gain),
                       "gate_sweeps": gate.sweeps})
    return {"gap": {kind: summary(values) for kind, values in gaps.items()},
            "drift": drifts,
            "drift_summary": summary([d["drift_pct"] / 100 for d in drifts])}


def pct(value: float | None) -> str:
    return f"{value:+.2f}%" if value is not None else "-"


def table(result: dict[str, Any]) -> str:
    gaps = [(kind, row["n"], pct(row["mean_pct"]), pct(row["median_pct"]),
             f"{row['sd_pct']:.2f}%" if row["sd_pct"] is not None else "-",
             row["above_zero"])
            for kind, row in result["gap"].items()]
    drifts = [(row["gate"], row["first"], pct(row["first_pct"]), pct(row["gate_pct"]),
               pct(row["drift_pct"]),
               "-" if row["gate_sweeps"] is None else row["gate_sweeps"])
              for row in result["drift"]]
    return "\n".join([
        "gap: log(cand/anchor) - log(best/anchor) - log(gain)",
        *fixed((9, 5, 8, 8, 7, 8), [("readings", "n", "mean", "median", "sd", "above 0"), *gaps]),
        "", "drift: a gate's gain less its first reading's, beside the same best",
        *fixed((6, 6, 8, 8, 8, 6), [("gate", "first", "first", "gate", "drift", "sweeps"),
                                    *drifts])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("session", type=Path, help="a session's folder")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    try:
        session = Session.open(args.session, writable=False)
    except (StoreError, OSError) as error:
        print(f"gate_consistency: {args.session}: {error}", file=sys.stderr)
        return 1
    with session:
        result = figures(session)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
