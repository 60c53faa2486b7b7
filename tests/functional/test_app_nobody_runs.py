"""A session that nobody runs says so (issue 71): its plan pane's title says no process runs
the session and that the plan is the last one, and its bottom border how to resume it; once a
process runs it (it holds the session's lock, as every writer does: store/lock.py) both go,
and they come back when that process lets go. Checked on the 80x24 screen itself, where the
plan keeps every row it had."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app_layout import content, shown_in
from tui_helpers import branched_session, opened, until

from avo_tui.engine.client import RunClient
from avo_tui.store.lock import SessionLock
from avo_tui.tui import make_app
from avo_tui.tui.widgets.plan import PlanPane

pytestmark = pytest.mark.anyio
NOBODY = "last plan · nobody runs this session"
RESUME = "step 9 · avo run --session idle resumes it"
PLAN = "1. try BLOCK 128 with UNROLL 4 2. prefetch the next K tile"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


async def test_the_plan_of_a_session_nobody_runs_says_so_until_a_process_runs_it(
    tmp_path: Path,
) -> None:
    branched_session(tmp_path / "idle").close()
    app = make_app(RunClient(tmp_path / "idle"))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        plan = app.query_one(PlanPane)

        def shown() -> str:  # the pane, its borders included
            return shown_in(app, plan.region)

        await until(pilot, lambda: NOBODY in shown() and RESUME in shown())
        assert shown_in(app, content(plan)) == PLAN  # shown whole

        lock = SessionLock(tmp_path / "idle")
        lock.acquire()  # a process runs the session now
        try:
            await until(pilot, lambda: "nobody runs" not in shown())
            assert "resumes it" not in shown() and "step 10" in shown()  # the step in hand
            assert shown_in(app, content(plan)) == PLAN
        finally:
            lock.release()
        await until(pilot, lambda: NOBODY in shown() and RESUME in shown())
