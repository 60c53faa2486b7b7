#!/usr/bin/env python3
"""A week, compressed: the real engine and agent run step after step against a fake model that
fails as the real API does, and the figures that must not grow with the session are watched.

    python benchmarks/soak.py                  # a simulated week: 10,000 steps (hours)
    python benchmarks/soak.py --quick          # 300 steps, a few minutes on 2 cores
    python benchmarks/soak.py --steps 60 --json

Why: a run is meant to go on for days. What fails then is what no short test sees: memory that
creeps up step after step, a store write whose cost grows with the session, an app that takes
longer and longer to open, one fault in ten thousand API calls that kills the run or loses a
step. This drives the real Engine with the real Agent operator (the real anthropic SDK over
HTTP) against tests/fake_anthropic in a process of its own, playing realistic conversations:
list_versions, views and str_replace edits of the kernel, evaluate, note, update_plan, commit,
end_turn, and a supervisor's review when the search stalls. Into them it injects faults at
realistic rates (FAULT_RATES): 529 overloaded, dropped connections, stalls, streams cut
mid-body or malformed, and garbled tool input. The
evaluator's worker answers at once (InstantWorker): a kernel's score follows one marker line, and
about one edit in fifty is a real gain, so the gate commits a few thousand versions a week.
The agent waits 0.01 s on an outage (settings below), so faults cost the simulation little.

At every tenth of the run (a checkpoint) it reports:

    rss_mb              the run process's resident memory (the fake server is another process)
    append p50/p99 ms   Session.append_event over the window since the last checkpoint
    commit p50/p99 ms   Session.commit over the same window
    state p99 ms        Session.set_state, the most frequent write (every turn, every evaluation)
    open_s              Session.open(read-only) in a fresh process, as ``avo attach`` does
    app_open_s          the real app in that process (Pilot, headless) until its first screen
    faults              faults injected so far; steps committed and ended early so far

The engine is held at the checkpoint (it waits in its event subscriber) while the fresh process
opens the session, so the open times do not compete with the run for the two cores.

At the end: crashes (engine.run raising; the run is then resumed as ``avo run`` would be, and
each traceback is printed) and lost steps (a step the operator began with no STEP event for it;
the STEP numbers must run 1..N without a gap or a repeat). The run survived when the session
ends with status ``finished``, nothing crashed and no step was lost.

Flat, in numbers (the first half of the checkpoints against the second):
- a write latency p99 is flat when the worst window of the second half is at most 2x the
  worst of the first plus 1 ms. A window's p99 over ~160 commits is its second-slowest write,
  so it is 3 ms or 15 ms as a compaction falls in the window or not; the worst of each half
  takes that luck out. The store's own benchmark (RESULTS.md, 2026-11-21) shows p99 moving
  ~1.5x run to run on this disk, and a cost that grew with the session would grow 10x;
- RSS is flat when it grows by less than 10 MB plus 5 MB per 1,000 steps between the first
  checkpoint and the last. The lineage the session keeps in memory legitimately grows (~0.3
  versions a step, ~1 KB each: ~0.3 MB per 1,000 steps); a leak of one conversation per step
  (tens of KB) would be 20 MB or more per 1,000 steps. The 10 MB absorbs allocator noise;
- an open time is flat when the worst of the second half is at most 2x the worst of the
  first plus 0.25 s. Opening reads the
  lineage, so some growth is expected; this says whether it stays in the same class.

Ctrl-C (or SIGTERM) stops the run at the engine's next safe point (the step in hand ends with
its STEP event) and prints what was measured; a second one leaves at once.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common.figures import print_figures

from soak_parts.model import serve_fake
from soak_parts.run import (
    Soak,
    drive,
    probe_open,
    start_fake_server,
    stop_fake_server,
    stop_on_signals,
)
from soak_parts.settings import CHECKPOINTS, FULL_STEPS, QUICK_STEPS

# -- the report -------------------------------------------------------------------------------

COLUMNS = ("steps", "elapsed_s", "events", "versions", "rss_mb", "append_p50_ms",
           "append_p99_ms", "commit_p50_ms", "commit_p99_ms", "state_p99_ms", "open_s",
           "app_open_s", "errors")


def flat_latency(first: float | None, last: float | None) -> bool | None:
    return None if first is None or last is None else last <= 2 * first + 1.0


def flat_open(first: float | None, last: float | None) -> bool | None:
    return None if first is None or last is None else last <= 2 * first + 0.25


def worst(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return max(values) if values else None


def flatness(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each watched figure, the first half of the run against the second, by the rules in the
    docstring. Latencies and open times compare the worst checkpoint of each half: a window's
    p99 over ~160 commits is its second-slowest write, so one compaction more or less in the
    window doubles it, and a single first and last window would judge that luck. A cost that
    grows with the session raises the worst of the second half all the same. Memory compares
    the first checkpoint with the last."""
    if len(rows) < 2:
        return {}
    first, last = rows[0], rows[-1]
    early, late = rows[: len(rows) // 2], rows[len(rows) // 2:]
    verdicts: dict[str, dict[str, Any]] = {}
    for key in ("append_p99_ms", "commit_p99_ms", "state_p99_ms"):
        before, after = worst(early, key), worst(late, key)
        verdicts[key] = {"first": before, "last": after, "flat": flat_latency(before, after),
                         "rule": "worst of the second half <= 2 x worst of the first + 1 ms"}
    for key in ("open_s", "app_open_s"):
        before, after = worst(early, key), worst(late, key)
        verdicts[key] = {"first": before, "last": after, "flat": flat_open(before, after),
                         "rule": "worst of the second half <= 2 x worst of the first + 0.25 s"}
    span = last["steps"] - first["steps"]
    allowed = 10 + 5 * span / 1000
    verdicts["rss_mb"] = {"first": first["rss_mb"], "last": last["rss_mb"],
                          "flat": last["rss_mb"] - first["rss_mb"] < allowed,
                          "rule": f"growth < 10 MB + 5 MB per 1000 steps ({allowed:.1f} MB "
                                  f"over {span} steps)"}
    return verdicts


def verdict_line(verdicts: dict[str, dict[str, Any]], survival: dict[str, Any]) -> str:
    parts = []
    for key, v in verdicts.items():
        word = {True: "flat", False: "NOT FLAT", None: "unmeasured"}[v["flat"]]
        parts.append(f"{key} {word} ({v['first']} -> {v['last']}; flat: {v['rule']})")
    alive = "survived" if survival["survived"] else "DID NOT SURVIVE"
    lost = (f"{survival['crashes']} crash(es), {survival['lost_steps']} lost step(s), "
            f"status {survival['status']}")
    return f"verdict: {alive} ({lost}); " + "; ".join(parts or ["fewer than two checkpoints"])


def print_table(rows: list[dict[str, Any]]) -> None:
    """The checkpoints, one figure line each, through the benchmarks' shared printer."""
    widths = {c: max(len(c), *(len(cell(r.get(c))) for r in rows)) for c in COLUMNS}
    header = "  ".join(f"{c:>{widths[c]}}" for c in COLUMNS[1:])
    lines = {"steps": header}
    for row in rows:
        lines[str(row["steps"])] = "  ".join(f"{cell(row.get(c)):>{widths[c]}}"
                                             for c in COLUMNS[1:])
    print_figures(lines, as_json=False)


def cell(value: object) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def report(soak: Soak, interrupted: bool, as_json: bool, seconds: float) -> bool:
    survival = soak.survival(interrupted)
    verdicts = flatness(soak.rows)
    line = verdict_line(verdicts, survival)
    summary: dict[str, Any] = {
        "steps_requested": soak.steps,
        "steps_run": len(soak.tally.step_numbers),
        "interrupted": interrupted,
        "seconds": round(seconds, 1),
        "events": soak.tally.last_event,
        "versions": soak.tally.versions,
        "committed_steps": soak.tally.committed_steps,
        "ended_early": dict(soak.tally.ended_early.most_common(8)),
        "event_kinds": dict(soak.tally.kinds.most_common()),
        "api": soak.server_stats,
        **survival,
    }
    if as_json:
        print_figures({**summary, "checkpoints": soak.rows, "flatness": verdicts,
                       "crash_tracebacks": soak.crashes, "verdict": line}, as_json=True)
    else:
        if soak.rows:
            print_table(soak.rows)
            print()
        print_figures({k: v for k, v in summary.items() if k != "step_number_gaps"},
                      as_json=False)
        for tb in soak.crashes:
            print("\ncrash traceback:\n" + tb)
        print("\n" + line)
    return bool(survival["survived"])


# -- main -------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status 0 when the run survived, 1 when it did not.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_STEPS} steps (a few minutes on 2 cores)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help=f"steps to run (default {FULL_STEPS:,}, a simulated week)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seeds the fake model's conversations and faults (default 1)")
    parser.add_argument("--checkpoints", type=int, default=CHECKPOINTS, metavar="K",
                        help=f"rows in the table: one every 1/K of the run (default "
                             f"{CHECKPOINTS})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dir", type=Path, help="where to build the session (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the session folder")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe-open", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.checkpoints < 1:
        parser.error("--checkpoints must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    if args.serve_fake:
        return serve_fake(args.seed)
    if args.probe_open:
        print(json.dumps(probe_open(args.probe_open)))
        return 0
    steps = args.steps or (QUICK_STEPS if args.quick else FULL_STEPS)
    stop_on_signals()
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="avo-soak-", dir=args.dir))
    server, url = start_fake_server(args.seed)
    start = time.monotonic()
    soak: Soak | None = None
    interrupted = False
    try:
        soak = Soak(workdir / "soak", steps, args.seed, url, args.checkpoints)
        interrupted = drive(soak)
        soak.final_checkpoint()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stats = stop_fake_server(server)
        if soak is not None:
            soak.server_stats = stats
            with contextlib.suppress(Exception):
                soak.session.close()
        if args.keep:
            print(f"soak: the session is kept in {workdir / 'soak'}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if soak is None:
        return 1
    return 0 if report(soak, interrupted, args.json, time.monotonic() - start) else 1


if __name__ == "__main__":
    sys.exit(main())
