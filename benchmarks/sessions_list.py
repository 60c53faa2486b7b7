#!/usr/bin/env python3
"""How fast ``avo sessions list`` answers on a folder of many sessions (issue 53).

    python benchmarks/sessions_list.py                  # 50 sessions, 100 versions each
    python benchmarks/sessions_list.py --sessions 50 --versions 300 --events 10
    python benchmarks/sessions_list.py --damaged        # one of them holds 100,000 lanes

Each session is built through the store, as a run builds it: per version ``--events`` events
(tool calls) then a commit. ``--damaged`` also stores, in one session, the run state that
``avo run --lanes 100000`` once left behind (a lane count and a state for every lane).
Prints a table (or --json): the wall time of ``avo sessions list`` as a process (the best
of ``--repeat``, Python's start-up included), and of the listing's reads alone in-process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.figures import print_figures

from avo_tui.store import Score, Session, SessionCatalog

SOURCE = "".join(f"    acc[{i}] = fmaf(q[{i}], k[{i}], acc[{i}]);\n" for i in range(160))


def build(root: Path, sessions: int, versions: int, events: int, damaged: bool) -> int:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(sessions):
        with Session.create(root / f"s{n:03d}", target="cpu-attention", operator="tuner",
                            seed_files={"attn.c": SOURCE}) as session:
            for step in range(1, versions + 1):
                for k in range(events):
                    session.append_event("tool_call", tool="evaluate", step=step, n=k)
                session.commit({"attn.c": SOURCE + f"// step {step}\n"}, author="tuner",
                               message=f"step {step}", score=Score(1.0 + step, {"c": 1.0 + step},
                                                                    1.0, "naive"))
            if damaged and n == 0:
                lane = {"operator": "tuner", "status": "running", "steps": 0, "commits": 0}
                session.set_state(announce=False, lane_count=100_000,
                                  lanes={str(k): dict(lane) for k in range(1, 100_001)})
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def time_process(root: Path, repeat: int) -> float:
    argv = [sys.executable, "-m", "avo_tui", "--sessions-dir", str(root), "sessions", "list"]
    env = os.environ | {"COLUMNS": "120"}
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"avo sessions list failed: {done.stderr.strip()}")
        best = min(best, time.perf_counter() - t)
    return best


def time_reads(root: Path) -> tuple[float, float]:
    """The listing's reads alone: every summary; and the slowest single one."""
    catalog = SessionCatalog(root)
    slowest, t0 = 0.0, time.perf_counter()
    for name in catalog.names():
        t = time.perf_counter()
        catalog.summary(name)
        slowest = max(slowest, time.perf_counter() - t)
    return time.perf_counter() - t0, slowest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--versions", type=int, default=100, help="per session")
    parser.add_argument("--events", type=int, default=10, help="per version")
    parser.add_argument("--damaged", action="store_true",
                        help="one session holds the state of --lanes 100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="avo-list-bench-"))
    try:
        t = time.perf_counter()
        size = build(workdir / "sessions", args.sessions, args.versions, args.events,
                     args.damaged)
        built_s = time.perf_counter() - t
        reads_s, slowest_s = time_reads(workdir / "sessions")
        result = {"sessions": args.sessions, "versions_each": args.versions,
                  "events_each": args.versions * args.events, "damaged": args.damaged,
                  "cores": os.cpu_count(), "folder_mb": round(size / 1e6, 1),
                  "build_s": round(built_s, 1),
                  "list_process_s": round(time_process(workdir / "sessions", args.repeat), 3),
                  "list_reads_s": round(reads_s, 3), "slowest_summary_s": round(slowest_s, 3)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
