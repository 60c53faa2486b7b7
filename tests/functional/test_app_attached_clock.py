"""Attached to a run mid-step, then pausing it (issue 87): the clock restarted from the last
stored figure on attaching and on a pause, then jumped at the step's end (-29 s, +41 s, +73 s
seen), and nothing but the clock showed progress within a step. The clock is now the run's
own and never goes back, and the step's phase (compile, check, time) is on the main screen,
read from the run's output.log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from engine_helpers import start
from tui_helpers import until

from avo_tui.engine import Engine
from avo_tui.engine.client import OUTPUT_LOG, RunClient
from avo_tui.engine.commands import Stop
from avo_tui.engine.progress import Progress
from avo_tui.evaluation import Worker
from avo_tui.store import Session
from avo_tui.tui import make_app
from avo_tui.tui.widgets.plan import PlanPane
from avo_tui.views.output_log import OutputLog, ProgressTail

pytestmark = pytest.mark.anyio
PHASES = ("compile", "check", "time", "anchor", "back to back", "incumbent")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


async def test_attached_mid_step_and_paused_the_clock_never_goes_back_and_the_phase_shows(
    session: Session, worker: Worker
) -> None:
    log = OutputLog(session.directory, "GFLOP/s")

    def as_headless(engine: Engine) -> None:  # what avo run --headless writes
        engine.subscribe(log)
        engine.on_progress(log.progress)

    live = start(session, worker, max_steps=500, before=as_headless)
    try:
        live.wait(lambda: live.evaluating.is_set())  # mid-step: its candidate is being checked
        app = make_app(RunClient(session.directory))  # attached: the run is another's
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.opened and app.facts is not None, timeout=60)
            plan = app.query_one(PlanPane)
            await until(pilot, lambda: any(f"· {p}" in plan.progress for p in PHASES),
                        timeout=60)
            # the run's own time at attaching, not the figure its last step end stored
            stored = session.run_state.usage_figure("seconds")
            assert app.facts is not None and app.facts.seconds >= stored
            shown: list[float] = []

            async def sample(until_true: Callable[[], bool], at_least: int) -> None:
                deadline = time.monotonic() + 60
                while not (until_true() and len(shown) >= at_least):
                    assert time.monotonic() < deadline, shown
                    await asyncio.sleep(0.2)
                    await pilot.pause()
                    assert app.facts is not None
                    shown.append(app.facts.seconds)

            await sample(lambda: True, 10)
            # pause in the middle of a step: a check begins, so the pause applies at the safe
            # point after the evaluation, long after the figure the last step end stored
            live.evaluating.clear()
            await sample(live.evaluating.is_set, 0)
            await pilot.press("p")
            await sample(lambda: session.state.get("status") == "paused", len(shown) + 10)
            backs = [(a, b) for a, b in pairwise(shown) if b < a]
            assert not backs, shown
            assert shown[-1] - shown[0] > 0.5  # it ticked while the run ran
    finally:
        live.engine.submit(Stop("the test is over"))
        live.engine.abandon_evaluation()
        live.finish()
        log.close()


def test_the_progress_tail_reads_each_lane_s_latest_phase_as_the_log_grows(
    tmp_path: Path,
) -> None:
    log = OutputLog(tmp_path, "GFLOP/s")
    tail = ProgressTail(tmp_path)
    log.progress(Progress("compile kernel.c"))
    log.progress(Progress("check B1-S128", 2))
    log.progress(Progress("time sweep 3: +1.2%"))
    assert tail.read() == {None: "time sweep 3: +1.2%", 2: "check B1-S128"}
    assert tail.read() == {}  # nothing new
    with open(tmp_path / OUTPUT_LOG, "a", encoding="utf-8") as file:
        file.write("11-28 07:00:00    time sweep 4")  # a line being written: not yet read
        file.flush()
        assert tail.read() == {}
        file.write(": +0.9%\n")
    assert tail.read() == {None: "time sweep 4: +0.9%"}
    log.close()
