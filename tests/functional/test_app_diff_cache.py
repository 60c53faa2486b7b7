"""A diff shown once shows at once when the cursor comes back (tui/diff_cache.py): the pane
has it as the key is handled, with no read on a worker thread; a new best names another
version, so the diff against the best is read again, never taken stale from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import _score, branched_session, kernel, opened, settled, until

from avo_tui.engine.client import RunClient
from avo_tui.store import Session
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.widgets.diff import DiffPane
from avo_tui.tui.widgets.lineage import LineageTree

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


def counting_reads(app: AvoApp) -> list[tuple[str | None, str]]:
    """The diff reads the app starts from now on, each as (version, mode)."""
    assert app.reads is not None
    started: list[tuple[str | None, str]] = []
    read = app.reads.diff

    def diff(vid: str | None, mode: str, lane: int | None) -> None:
        started.append((vid, mode))
        read(vid, mode, lane)

    app.reads.diff = diff  # type: ignore[method-assign]
    return started


async def test_a_diff_seen_before_shows_at_once_and_a_new_best_is_read_again(
    tmp_path: Path,
) -> None:
    branched_session(tmp_path / "cached").close()
    app = make_app(RunClient(tmp_path / "cached"))
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot, app)
        pane = app.query_one(DiffPane)
        await pilot.press("up")  # v4: read
        await until(pilot, lambda: pane.title == "v4 against parent v3: +1/-1")
        await pilot.press("down")  # v7, shown at the opening
        await until(pilot, lambda: pane.title == "v7 against parent v4: +1/-1")
        await settled(pilot, app)

        started = counting_reads(app)
        await pilot.press("up")
        assert pane.title == "v4 against parent v3: +1/-1"  # as the key was handled
        await pilot.press("down", "m")
        await until(pilot, lambda: pane.title == "v7 against best v6: +3/-3")
        assert started == [("v7", "best")]  # v7 and v4 against their parents: no read

        with Session.open(tmp_path / "cached") as writer:  # a new best: v8
            writer.commit({"kernel.c": kernel(128, 4)}, author="tuner", message="v8",
                          score=_score(70.0))
        await until(pilot, lambda: "v8" in app.lineage and app.lineage.best() is not None
                    and app.lineage.best().id == "v8")  # type: ignore[union-attr]
        await settled(pilot, app)
        app.query_one(LineageTree).reveal("v7")  # v7 against the best again: now v8, read
        await until(pilot, lambda: pane.title.startswith("v7 against best v8"))
        assert started.count(("v7", "best")) == 2
