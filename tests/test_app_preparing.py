"""A new session's app opens at once and shows the seed being scored, rather than leaving the
terminal on plain text for the 10-50 s it takes. The preparation here stands in for
``prepare_run`` (commands/run.py): it prints what it does, waits until the test lets it go
on, then creates a real session on disk."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from rich.console import Console
from tui_helpers import branched_session, settled, until

from avo_tui.engine.client import RunClient
from avo_tui.store import StoreError
from avo_tui.tui import make_preparing_app
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
