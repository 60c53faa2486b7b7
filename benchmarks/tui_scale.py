#!/usr/bin/env python3
"""How the app copes with a long run: a big lineage, a fast output stream, many lines.

    python benchmarks/tui_scale.py --json            # 5,000-version line + 2,000 branches
    python benchmarks/tui_scale.py --quick           # 500 + 200, 10,000 lines

It builds a session through the real store (a line of 5,000 versions, then 2,000 side branches
off random versions of it), then drives the real app headless with Pilot:

    open_s                   from creating the view (opening the session) to the screen showing
                             it (the first poll, read on a worker thread, applied)
    reveal_deepest_ms        moving the cursor to the deepest version of the line
    key_to_render_p50/p99_ms a key (cursor down, diff mode) pressed while another thread
                             writes 1,000 output events per second into the session, until
                             the first frame that painted the app's answer (the moved cursor,
                             the new mode) was written
    key_to_diff_p50/p99_ms   the same keys, until the first frame that painted the diff they
                             ask for (read on a worker thread)
    key_to_*_over_100ms      how many of those keys took longer than 100 ms (a p99 of 300
                             keys is the third slowest: three stalls set it)
    rss_mb_after_1e5_lines   the process's resident memory after 100,000 events streamed
                             through the output pane (the pane keeps a bounded tail)
    rss_mb_before_stream     the same, before the stream
    writer_events_per_s      how fast that stream was written (as fast as the store goes)
    reader_events_per_s      how fast the app read it: from the stream's start until the app's
                             reader had read its last event
    reader_lag_s             how long after the writer's last event the reader had read it

Every wait is bounded (WAIT_S): where the app does not answer in time, the figures so far are
printed with ``unfinished`` saying what it was waiting for, and the exit status is 1.

The writer is a thread of the same process with its session opened before the app, as the
engine is when `avo run` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from avo_tui.engine.client import RunClient
from avo_tui.store import Score, Session
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.widgets.diff import DiffKey, DiffPane
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.output import OutputPane

WAIT_S = 120.0  # the longest wait for any one answer of the app, on a loaded 2-core machine


class Unfinished(Exception):
    """The app did not answer within WAIT_S: the reason the benchmark ends without a figure."""


async def until(holds: Callable[[], bool], what: str, poll_s: float = 0.0005) -> None:
    deadline = time.perf_counter() + WAIT_S
    while not holds():
        if time.perf_counter() > deadline:
            raise Unfinished(f"no {what} within {WAIT_S:.0f} s")
        await asyncio.sleep(poll_s)


SOURCE = "".join(f"    acc[{i}] = fmaf(q[{i}], k[{i}], acc[{i}]);\n" for i in range(80))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(directory: Path, line: int, branches: int, progress: bool) -> None:
    rng = random.Random(7)
    session = Session.create(directory, target="cpu-attention", operator="tuner",
                             seed_files={"kernel.c": SOURCE}, score=Score(1.0, ratio=0.1),
                             sync=False)
    with session:
        for n in range(1, line + branches):
            if n == line:
                tip = session.version("head").id
            if n >= line:
                session.rollback(f"v{rng.randrange(0, line - 1)}")  # the tip stays a leaf
            text = SOURCE + f"// version {n}\n"
            gmean = 1.0 + n / 1000
            session.commit({"kernel.c": text}, author="tuner", message=f"step {n}",
                           score=Score(gmean, ratio=gmean / 10))
            if progress and n % 500 == 0:
                print(f"  built {n} versions", file=sys.stderr)
        session.rollback(tip)  # the head is the deepest version of the line


def stream(writer: Session, per_second: int, total: int, stop: threading.Event) -> None:
    """Append ``total`` tool-call events at ``per_second`` (as fast as possible if 0)."""
    start = time.perf_counter()
    for n in range(total):
        if stop.is_set():
            return
        writer.append_event("tool_call", tool="evaluate", input=f"#{n}",
                            result=f"PASS {n} GFLOP/s, line {n} of the compiler output")
        if per_second:
            delay = start + (n + 1) / per_second - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


KEYS = ("m", "up", "up", "up", "m", "down", "down", "down")  # the cursor stays in range


@dataclass(frozen=True)
class Frame:
    """A frame the app wrote to its (headless) terminal, and what it showed of the keys' work:
    the lineage's cursor line, the diff pane's mode and the diff it holds, each as that widget
    last painted it."""

    at: float
    cursor: int
    mode: str
    diff: DiffKey | None


FRAMES: list[Frame] = []


def record_frames(app: AvoApp) -> None:
    # Pilot's idle detection watches process CPU time, which the writer thread keeps busy, so
    # the frames themselves are timed: Textual writes each one through App._display. Each
    # frame carries what the two widgets last painted (their render_lines, called while the
    # frame is composed): a frame written before the timing loop next looks at the app is
    # still the frame that showed the key.
    tree, pane = app.query_one(LineageTree), app.query_one(DiffPane)
    painted = Frame(0.0, tree.cursor_line, pane.mode, pane.key)  # its time is unused

    def remember(**shown: Any) -> None:
        nonlocal painted
        painted = replace(painted, **shown)

    def paints(widget: Widget, note: Callable[[], None]) -> None:
        render_lines = widget.render_lines

        def painting(crop: Region) -> list[Strip]:
            note()
            return render_lines(crop)

        widget.render_lines = painting  # type: ignore[method-assign]

    paints(tree, lambda: remember(cursor=tree.cursor_line))
    paints(pane, lambda: remember(mode=pane.mode, diff=pane.key))
    display = app._display

    def timed(screen: Screen[object], renderable: RenderableType | None) -> None:
        display(screen, renderable)
        FRAMES.append(replace(painted, at=time.perf_counter()))

    app._display = timed  # type: ignore[method-assign]


async def first_frame(after: int, shows: Callable[[Frame], bool]) -> float:
    """When the first frame from ``FRAMES[after]`` on that ``shows`` what is awaited was
    written (waiting for it if need be)."""
    deadline = time.perf_counter() + WAIT_S
    while time.perf_counter() < deadline:
        for frame in FRAMES[after:]:
            if shows(frame):
                return frame.at
        after = len(FRAMES)
        await asyncio.sleep(0.0005)
    raise Unfinished(f"no frame showing a key's answer within {WAIT_S:.0f} s")


async def key_to_render(app: AvoApp, key: str) -> tuple[float, float]:
    """ms from a key press to the first frame showing the app's answer to it (the cursor moved
    or the diff's mode changed), and to the first frame showing the diff it asked for."""
    tree = app.query_one(LineageTree)
    before = (tree.cursor_line, app.diff_mode)
    seen = len(FRAMES)
    start = time.perf_counter()
    app.simulate_key(key)
    await until(lambda: (tree.cursor_line, app.diff_mode) != before, f"answer to key {key}")
    cursor, mode = tree.cursor_line, app.diff_mode
    wanted = (None if mode == "candidate" else tree.selected_version, mode)
    rendered = await first_frame(seen, lambda f: (f.cursor, f.mode) == (cursor, mode))
    diffed = await first_frame(seen, lambda f: f.diff == wanted)
    await asyncio.sleep(0.02)  # keys a person types are not back to back
    return (rendered - start) * 1e3, (diffed - start) * 1e3


async def measure(directory: Path, keys: int, lines: int,
                  figures: dict[str, Any]) -> None:
    """Adds the figures to ``figures`` as they come (they stand if a later wait fails)."""
    # the engine's session is open before the app, as in `avo run`
    with Session.open(directory, sync=False) as writer:
        await measure_with(writer, keys, lines, figures)


async def measure_with(writer: Session, keys: int, lines: int,
                       figures: dict[str, Any]) -> None:
    start = time.perf_counter()
    client = RunClient(writer.directory)
    app = make_app(client)
    async with app.run_test(size=(160, 48)) as pilot:
        record_frames(app)
        await until(lambda: app.opened, "first poll shown", 0.001)  # read on a worker
        figures["open_s"] = time.perf_counter() - start
        tree = app.query_one(LineageTree)
        assert tree.selected_version == app.state.head

        deepest = app.lineage.line("v0")[-1]
        tree.reveal("v0")
        start = time.perf_counter()
        tree.reveal(deepest)
        await pilot.pause()
        figures["reveal_deepest_ms"] = (time.perf_counter() - start) * 1e3

        stop = threading.Event()
        streamer = threading.Thread(target=stream, args=(writer, 1000, 10**9, stop))
        streamer.start()
        await asyncio.sleep(1.0)
        try:
            timed = [await key_to_render(app, KEYS[n % len(KEYS)]) for n in range(keys)]
        finally:
            stop.set()
            streamer.join()
        for name, latencies in (("render", sorted(t[0] for t in timed)),
                                ("diff", sorted(t[1] for t in timed))):
            figures[f"key_to_{name}_p50_ms"] = statistics.median(latencies)
            figures[f"key_to_{name}_p99_ms"] = latencies[min(len(latencies) - 1,
                                                             int(0.99 * len(latencies)))]
            figures[f"key_to_{name}_over_100ms"] = sum(t > 100 for t in latencies)

        figures["rss_mb_before_stream"] = rss_mb()
        target = client.cursor + lines
        stop = threading.Event()
        streamer = threading.Thread(target=stream, args=(writer, 0, lines, stop))
        began = time.perf_counter()
        streamer.start()
        written = 0.0

        def read_all() -> bool:
            nonlocal written
            if not written and not streamer.is_alive():
                written = time.perf_counter()
            return client.cursor >= target

        try:  # the reader catches up with the writer within WAIT_S of its last event
            while not written:
                await until(read_all, "end of the stream, written and read", 0.01)
                read_all()
            figures["writer_events_per_s"] = lines / (written - began)
            await until(read_all, "stream read to its end by the app", 0.01)
        finally:
            stop.set()
            streamer.join()
        read = time.perf_counter()
        figures["reader_events_per_s"] = lines / (read - began)
        figures["reader_lag_s"] = read - written
        await asyncio.sleep(0.5)
        figures["rss_mb_after_1e5_lines" if lines == 10**5 else "rss_mb_after_lines"] = rss_mb()
        figures["output_pane_lines"] = app.query_one(OutputPane).line_count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 + 200 versions, 10,000 lines")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keys", type=int, default=200, help="keys to time (default 200)")
    args = parser.parse_args()
    line, branches, lines = (500, 200, 10**4) if args.quick else (5000, 2000, 10**5)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "scale"
        start = time.perf_counter()
        build(directory, line, branches, progress=not args.json)
        built = time.perf_counter() - start
        figures: dict[str, Any] = {"versions": line + branches, "line": line,
                                   "branches": branches, "build_s": built}
        try:
            asyncio.run(measure(directory, args.keys, lines, figures))
        except Unfinished as reason:
            figures["unfinished"] = str(reason)
    if args.json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                          for k, v in figures.items()}))
    else:
        for key, value in figures.items():
            print(f"{key:<28} {value:>10.3f}" if isinstance(value, float)
                  else f"{key:<28} {value:>10}")
    return 1 if "unfinished" in figures else 0


if __name__ == "__main__":
    sys.exit(main())
