#!/usr/bin/env python3
"""How the session store scales: build a session of many versions and events, timing every write.

    python benchmarks/store_scale.py --json              # 10,000 versions, 100,000 events
    python benchmarks/store_scale.py --quick --json      # 1,000 versions, 10,000 events
    python benchmarks/store_scale.py --quick --storage tinydb-json   # TinyDB's own JSONStorage

Each version is committed after ten events, as in a run where every step logs its tool calls.
A commit stores the kernel source (about 8 KB) as a blob and adds the version; events are small
JSON records. Prints one JSON object (--json) or a table:

    open_s                          reopening the finished session
    append_event_p50_ms/_p99_ms     over the last 10% of event appends
    append_event_p99_ms_first_10pct over the first 10%
    commit_p50_ms/_p99_ms           over all commits
    file_bytes                      the database files (blobs are reported apart)

``--storage tinydb-json`` runs the same operations on TinyDB's default storage, which rewrites the
whole file on every write; ``--prefill F`` writes the first fraction F of the records in one go,
untimed, so its cost at full size can be measured without waiting hours.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common.figures import print_figures

from tinydb import TinyDB

from avo_tui.store import BlobStore, Score, Session

EVENTS_PER_VERSION = 10
SOURCE = "".join(f"    acc[{i}] = fmaf(q[{i}], k[{i}], acc[{i}]);  // unroll\n" for i in range(160))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1e3


def event_data(step: int, n: int) -> dict[str, object]:
    return {"tool": "evaluate", "step": step, "n": n, "args": {"quick": True}, "ms": 12.5}


def score(step: int) -> Score:
    per_config = {f"S{s}-{c}": 500.0 + step * 1e-3 for s in (4, 8, 16, 32) for c in ("c", "nc")}
    return Score(500.0 + step * 1e-3, per_config, 1.01, "cudnn")


def dir_bytes(path: Path, *, exclude: str = "blobs") -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and exclude not in p.parts)


class Progress:
    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.last = total, label, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if sys.stderr.isatty() and (now - self.last > 0.5 or done == self.total):
            self.last = now
            print(f"\r{self.label}: {done}/{self.total}", end="", file=sys.stderr, flush=True)
            if done == self.total:
                print(file=sys.stderr)


def bench_avo(directory: Path, versions: int, prefill: float) -> dict[str, object]:
    session = Session.create(
        directory / "bench", target="mha", operator="agent", seed_files={"attn.cu": SOURCE}
    )
    event_times: list[float] = []
    commit_times: list[float] = []
    untimed = int(versions * prefill)
    progress = Progress(versions, "avo storage")
    for step in range(1, versions + 1):
        for n in range(EVENTS_PER_VERSION):
            t = time.perf_counter()
            session.append_event("tool_call", **event_data(step, n))
            if step > untimed:
                event_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        session.commit(
            {"attn.cu": SOURCE + f"// step {step}\n"}, author="agent",
            message=f"step {step}: retile the KV loop", score=score(step),
        )
        if step > untimed:
            commit_times.append(time.perf_counter() - t)
        progress(step)
    session.close()
    t = time.perf_counter()
    reopened = Session.open(directory / "bench")
    open_s = time.perf_counter() - t
    assert len(reopened.lineage) == versions + 1
    reopened.close()
    return finish(event_times, commit_times, open_s, directory / "bench", prefill > 0)


def bench_tinydb_json(directory: Path, versions: int, prefill: float) -> dict[str, object]:
    """The same records through TinyDB's default JSONStorage."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench.json"
    blobs = BlobStore(directory)
    db = TinyDB(path)
    untimed = int(versions * prefill)
    if untimed:
        db.table("events").insert_multiple(
            {"seq": s * EVENTS_PER_VERSION + n, "kind": "tool_call", "data": event_data(s, n)}
            for s in range(1, untimed + 1) for n in range(EVENTS_PER_VERSION)
        )
        db.table("versions").insert_multiple(
            {"id": f"v{s}", "files": {"attn.cu": blobs.put(SOURCE + f"// step {s}\n")},
             "score": score(s).to_doc(), "message": f"step {s}"} for s in range(1, untimed + 1)
        )
    event_times: list[float] = []
    commit_times: list[float] = []
    progress = Progress(versions, "tinydb JSONStorage")
    for step in range(untimed + 1, versions + 1):
        for n in range(EVENTS_PER_VERSION):
            t = time.perf_counter()
            db.table("events").insert(
                {"seq": step * EVENTS_PER_VERSION + n, "kind": "tool_call",
                 "data": event_data(step, n)}
            )
            event_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        files = {"attn.cu": blobs.put(SOURCE + f"// step {step}\n")}
        db.table("versions").insert(
            {"id": f"v{step}", "files": files, "score": score(step).to_doc(),
             "message": f"step {step}: retile the KV loop"}
        )
        db.table("state").upsert({"head": f"v{step}"}, lambda doc: True)
        commit_times.append(time.perf_counter() - t)
        progress(step)
    db.close()
    t = time.perf_counter()
    TinyDB(path).table("versions").all()
    open_s = time.perf_counter() - t
    return finish(event_times, commit_times, open_s, directory, untimed > 0, db_file=path)


def finish(
    event_times: list[float], commit_times: list[float], open_s: float, folder: Path,
    prefilled: bool, db_file: Path | None = None,
) -> dict[str, object]:
    tenth = max(1, len(event_times) // 10)
    return {
        "open_s": round(open_s, 4),
        "append_event_p50_ms": round(percentile(event_times[-tenth:], 0.5), 3),
        "append_event_p99_ms": round(percentile(event_times[-tenth:], 0.99), 3),
        "append_event_p99_ms_first_10pct": None if prefilled
        else round(percentile(event_times[:tenth], 0.99), 3),
        "append_event_mean_ms": round(statistics.fmean(event_times) * 1e3, 3),
        "commit_p50_ms": round(percentile(commit_times, 0.5), 3),
        "commit_p99_ms": round(percentile(commit_times, 0.99), 3),
        "file_bytes": db_file.stat().st_size if db_file else dir_bytes(folder),
        "blob_bytes": dir_bytes(folder / "blobs", exclude="\0"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 versions, 10,000 events")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--storage", choices=("avo", "tinydb-json"), default="avo")
    parser.add_argument("--prefill", type=float, default=0.0, metavar="F",
                        help="write this fraction of the records untimed first (0 to 0.99)")
    parser.add_argument("--dir", type=Path, help="where to build (default: a temp folder)")
    args = parser.parse_args()
    if not 0.0 <= args.prefill < 1.0:
        parser.error("--prefill must be at least 0 and below 1")
    versions = 1_000 if args.quick else 10_000
    workdir = Path(tempfile.mkdtemp(prefix="avo-store-bench-", dir=args.dir))
    try:
        bench = bench_avo if args.storage == "avo" else bench_tinydb_json
        result = {"storage": args.storage, "versions": versions,
                  "events": versions * EVENTS_PER_VERSION, "prefill": args.prefill,
                  **bench(workdir, versions, args.prefill)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
