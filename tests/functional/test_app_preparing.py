"""A new session's app opens at once and shows the seed being scored, rather than leaving the
terminal on plain text for the 10-50 s it takes. The preparation here stands in for
``prepare_run`` (commands/run.py): it prints what it does, waits until the test lets it go
on, then creates a real session on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from engine_helpers import TARGET
from rich.console import Console
from tui_helpers import branched_session, settled, stop_and_leave, until

from avo_tui.commands.prepare import operator_line, seed_twice_line
from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.engine.client import RunClient
from avo_tui.evaluation import Worker
from avo_tui.operators import Tuner
from avo_tui.store import Session, StoreError
from avo_tui.tui import make_preparing_app
from avo_tui.tui.app import RUN_STARTED
from avo_tui.tui.widgets.diff import DiffPane
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.output import OutputPane
from avo_tui.tui.widgets.status import StatusBar

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def status(app: object) -> str:
    return app.query_one(StatusBar).render().plain  # type: ignore[attr-defined,no-any-return]


def output(app: object) -> str:
    return "\n".join(app.query_one(OutputPane).lines)  # type: ignore[attr-defined]


async def test_the_app_shows_the_seed_being_scored_then_the_session(tmp_path: Path) -> None:
    go_on = threading.Event()

    def prepare(lines: Console) -> RunClient:
        lines.print("scoring the seed (kernel.c) on cpu-attention twice ...")
        lines.print("  seed: [green]PASS[/] 30.0 GFLOP/s")
        assert go_on.wait(timeout=120), "the test never let the preparation go on"
        branched_session(tmp_path / "branched").close()
        lines.print("created session 'branched'")
        return RunClient(tmp_path / "branched")

    app = make_preparing_app("branched", prepare)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "seed: PASS 30.0 GFLOP/s" in output(app))
        assert "branched" in status(app) and "preparing" in status(app)
        assert "preparing" in str(app.query_one("#plan").border_subtitle)
        assert "being prepared" in app.query_one(DiffPane).empty
        await pilot.press("p")  # a control before there is a run: a word, not a crash
        assert any("still being prepared" in n.message for n in app._notifications)
        go_on.set()
        await until(pilot, lambda: app.opened)
        await settled(pilot, app)
        assert app.query_one(LineageTree).selected_version == "v7"
        assert "stopped" in status(app) and "step 9" in status(app)
        assert "created session 'branched'" in output(app)
        assert "scoring the seed" in output(app)  # what it showed while preparing stays


async def test_a_seed_that_fails_is_shown_and_raised_after_the_app(tmp_path: Path) -> None:
    def prepare(lines: Console) -> RunClient:
        lines.print("scoring the seed (kernel.c) on cpu-attention twice ...")
        raise StoreError("the seed kernel fails on cpu-attention: incorrect")

    app = make_preparing_app("bad", prepare)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.preparation_error is not None)
        assert "the seed kernel fails on cpu-attention: incorrect" in output(app)
        await until(pilot, lambda: "failed" in status(app))
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert isinstance(app.preparation_error, StoreError)


async def test_the_first_screen_at_80x24_says_whole_who_operates_why_the_seed_twice_and_how_to_stop(
    session: Session, worker: Worker
) -> None:
    """Issue 87, a newcomer at 80x24: the line telling how to get the agent was cut at 80
    columns, the seed was scored twice with no word of why, and nothing said the run had
    started or how to stop it. In the pane's one-line mode too, these lines show whole."""
    said = [operator_line("tuner", None), seed_twice_line(["attention.c"], "cpu-attention")]
    engine = Engine(session, Tuner(1), Evaluator(TARGET, worker, quick=True),
                    budgets=Budgets(max_steps=500))

    def prepare(lines: Console) -> RunClient:
        for line in said:
            lines.print(line)
        return RunClient(session.directory, engine)

    app = make_preparing_app(session.name, prepare)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.opened)
        pane = app.query_one(OutputPane)
        assert pane.one_line  # the mode that cuts an event's line at the pane's width
        await until(pilot, lambda: any("x stops it" in row for row in pane.rows))
        shown = " ".join(" ".join(row.split()) for row in pane.rows)
        for line in [*said, RUN_STARTED]:
            assert " ".join(line.split()) in shown, (line, pane.rows)
        assert "set it, or give --operator agent with a key, to get the agent" in said[0]
        assert "first measure of this machine's noise" in said[1]
        # No row of these lines is cut. The run's own attempt lines may be (the one-line
        # mode cuts them by design), and a loaded machine's run reaches its first attempt
        # before this look at times.
        first_screen = " ".join(" ".join(line.split()) for line in [*said, RUN_STARTED])
        cut = [row for row in pane.rows
               if row.endswith("…") and " ".join(row.removesuffix("…").split()) in first_screen]
        assert not cut, pane.rows
        await stop_and_leave(pilot, app)
        await until(pilot, lambda: not (app.client and app.client.live()), timeout=120)
