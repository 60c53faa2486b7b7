"""A session with a branched lineage, scores, logs and a transcript, built on disk through
the real store, for the app's tests and snapshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot

from avo_tui.store import Score, Session

CONFIGS = ("B2-S512", "B1-S1024", "B4-S256")
BASELINE = {"B2-S512": 40.0, "B1-S1024": 38.0, "B4-S256": 42.0}
HOST = {"device": "cpu", "cpu": "Test CPU 8-core", "cores": 8}


def kernel(block: int, unroll: int, extra: str = "") -> str:
    return (f"#define BLOCK {block} // avo:knob 16 32 64 128\n"
            f"#define UNROLL {unroll} // avo:knob 1 2 4\n"
            "void attention(const float* q, const float* k, float* o) {\n"
            f"    /* tile of BLOCK rows, unrolled UNROLL times */{extra}\n"
            "}\n")


def _log(gmean: float) -> str:
    configs = [{"name": n, "edge": False, "throughput": gmean * (0.9 + 0.1 * i),
                "baselines": {"reference": BASELINE[n]}} for i, n in enumerate(CONFIGS)]
    return json.dumps({"unit": "GFLOP/s", "configs": configs})


def _score(gmean: float) -> Score:
    per_config = {n: round(gmean * (0.9 + 0.1 * i), 3) for i, n in enumerate(CONFIGS)}
    return Score(gmean, per_config, ratio=round(gmean / 40.0, 4), baseline="reference",
                 unit="GFLOP/s")


def commit(session: Session, files: dict[str, str], author: str, message: str, gmean: float,
           transcript: str | None = None) -> str:
    base = session.version("head").id
    first = session.record_attempt(files, base=base, author=author, outcome="promising",
                                   detail="first look", score=_score(gmean), log=_log(gmean))
    version = session.commit(files, author=author, message=message, score=_score(gmean),
                             attempt=first.id)
    session.record_attempt(files, base=base, author=author, outcome="committed",
                           detail=f"re-evaluation of {first.id}", score=_score(gmean),
                           log=_log(gmean), transcript=transcript, version=version.id)
    return version.id


TRANSCRIPT = json.dumps({
    "model": "claude-opus-4-7", "turns": 2, "cost_usd": 0.42, "ended": "committed",
    "messages": [
        {"role": "user", "content": "Step brief: best v2 at 50 GFLOP/s."},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Doubling BLOCK should halve the K/V reloads."},
            {"type": "tool_use", "id": "t1", "name": "evaluate", "input": {"quick": True}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "PASS 61 GFLOP/s"}]},
    ],
})


def branched_session(directory: Path) -> Session:
    """v0 → v1 → v2 → v3 → v4 (tuner); from v2 a branch v5 → v6 (agent); from v4 an
    operator edit v7, the head. Closed and reopened by the caller as it likes."""
    session = Session.create(directory, target="cpu-attention", operator="agent",
                             seed_files={"kernel.c": kernel(16, 1)}, score=_score(30.0),
                             host=HOST)
    commit(session, {"kernel.c": kernel(32, 1)}, "tuner", "BLOCK 16 -> 32", 41.0)
    commit(session, {"kernel.c": kernel(32, 2)}, "tuner", "UNROLL 1 -> 2", 50.0)
    commit(session, {"kernel.c": kernel(64, 2)}, "tuner", "BLOCK 32 -> 64", 52.5)
    commit(session, {"kernel.c": kernel(64, 4)}, "tuner", "UNROLL 2 -> 4", 53.0)
    session.rollback("v2")
    commit(session, {"kernel.c": kernel(128, 2)}, "agent",
           "BLOCK 128: fewer K/V reloads per query tile", 61.0, TRANSCRIPT)
    commit(session, {"kernel.c": kernel(128, 2, " // K tile in registers")}, "agent",
           "keep the K tile in registers", 63.5, TRANSCRIPT)
    session.rollback("v4")
    commit(session, {"kernel.c": kernel(64, 4, " // hand-tuned prefetch")}, "operator",
           "edited by hand on top of v4", 53.2)
    session.append_event("plan", text="1. try BLOCK 128 with UNROLL 4\n2. prefetch the next "
                         "K tile")
    session.set_state(announce=False, status="stopped", step=9,
                      usage={"steps": 9, "seconds": 4242.0, "cost_usd": 1.25, "tokens": 345678})
    return session


async def until(pilot: Pilot[None], predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Wait, letting the app run, until ``predicate()`` holds; fail after ``timeout`` s."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out waiting for the app")


async def opened(pilot: Pilot[None], app: App[None]) -> None:
    """Wait until the app shows its session: the first poll and the highlighted version's
    diff have come back from their worker threads."""
    await until(pilot, lambda: getattr(app, "opened", False))
    await settled(pilot, app)


async def settled(pilot: Pilot[None], app: App[None]) -> None:
    """Wait for the reads under way, then for the app to handle what they posted."""
    await until(pilot, lambda: all(worker.is_finished for worker in app.workers))
    await pilot.pause()


async def stop_and_leave(pilot: Pilot[None], app: App[None], cut_short: bool = True) -> None:
    """``q`` on an app running its engine: answer "Stop the run" where it asks detach or stop
    (a live run that is not already stopping), then ``q`` again to cut the evaluation in
    flight short, unless not ``cut_short``."""
    from avo_tui.tui.screens.dialogs import ChoiceDialog

    await pilot.press("q")
    await pilot.pause()
    if isinstance(app.screen, ChoiceDialog):
        await pilot.press("s")
    if cut_short:
        await pilot.press("q")
