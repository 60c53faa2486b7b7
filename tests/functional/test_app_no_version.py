"""The app on a session with no version yet (a target with no seed, before the agent's first
commit, issue 56): it opens, its lineage says that the agent writes v0, and a hand edit, which
needs a kernel to start from, says why there is none. Driven by Pilot over a real session."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app_layout import content, shown_in
from tui_helpers import opened, settled

from avo_tui.engine.client import RunClient
from avo_tui.store import NO_VERSION_YET, Session
from avo_tui.tui import make_app
from avo_tui.tui.widgets.lineage import LineageTree

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_app_opens_a_session_with_no_version_and_says_the_agent_writes_v0(
    tmp_path: Path,
) -> None:
    Session.create(tmp_path / "none-yet", target="cpu-attention", operator="agent",
                   seed_files=None).close()
    app = make_app(RunClient(tmp_path / "none-yet"))
    async with app.run_test(size=(160, 30), notifications=True) as pilot:
        await opened(pilot, app)
        tree = app.query_one(LineageTree)
        assert NO_VERSION_YET in shown_in(app, content(tree))
        await pilot.press("e")  # a hand edit starts from the head's files: there are none
        await settled(pilot, app)
        assert [n.message for n in app._notifications][-1].startswith(
            f"{NO_VERSION_YET}: there is no kernel to edit")
