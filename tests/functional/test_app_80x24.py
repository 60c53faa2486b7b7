"""At 80x24 the output has the bottom right of the screen: a notification goes to the top
right corner, never over it, and says in words what a key did. ``p`` with no run live says
the pause was queued for the next run (the view of a session nobody runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._toast import Toast
from tui_helpers import branched_session, opened, until

from avo_tui.engine.client import RunClient
from avo_tui.tui import make_app
from avo_tui.tui.widgets.output import OutputPane

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


async def test_a_notification_at_80x24_leaves_the_output_uncovered(tmp_path: Path) -> None:
    branched_session(tmp_path / "demo").close()
    app = make_app(RunClient(tmp_path / "demo"))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await opened(pilot, app)
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query(Toast))
        toast = app.screen.query_one(Toast)
        assert "pause queued: no run is live" in str(toast.render())
        output = app.query_one(OutputPane).region
        await until(pilot, lambda: toast.region.height > 0)
        assert not toast.region.overlaps(output), (toast.region, output)
        assert toast.region.y < output.y and toast.region.right >= 80 - 2  # the top right corner
