"""A read-only view (``avo attach --read-only``, ``avo serve --read-only``) of a real session:
no key that steers is shown or works, from the keyboard, the help or the command palette;
browsing still works; ``q`` only leaves. The same keys in a view that is not read-only queue
their commands, so each assertion fails if read-only mode is taken away."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette
from tui_helpers import branched_session, opened

from avo_tui.engine.client import RunClient
from avo_tui.engine.inbox import queued
from avo_tui.tui import make_app
from avo_tui.tui.read_only import STEERING
from avo_tui.tui.screens.detail import VersionDetail
from avo_tui.tui.screens.dialogs import ChoiceDialog, InputDialog

pytestmark = pytest.mark.anyio
SIZE = (120, 36)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    branched_session(tmp_path / "demo").close()
    return tmp_path / "demo"


async def test_no_key_that_steers_is_shown_or_works(demo: Path) -> None:
    app = make_app(RunClient(demo), read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        shown = {active.binding.action for active in app.active_bindings.values()
                 if active.binding.show}
        assert shown and not shown & STEERING and "attempts" in shown
        for action in STEERING:
            assert app.check_action(action, ()) is False, action
        await pilot.press("p", "h", "g", "r", "x", "f", "a", "R", "l")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # no dialog opened
        assert queued(demo) == []
        palette = [command.title for command in app.get_system_commands(app.screen)]
        assert palette and not any(t.startswith(("Pause", "Roll", "Stop", "Edit", "A one-off"))
                                   for t in palette)
        await pilot.press("enter")  # browsing goes on: the highlighted version's detail
        await pilot.pause()
        assert isinstance(app.screen, VersionDetail)


async def test_the_same_keys_steer_a_view_that_is_not_read_only(demo: Path) -> None:
    app = make_app(RunClient(demo))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("p")
        await pilot.pause()
        assert [type(q.command).__name__ for q in queued(demo)] == ["Pause"]
        await pilot.press("f")  # a fork asks the new session's name
        await pilot.pause()
        assert isinstance(app.screen, InputDialog)
        assert any(t.startswith("Pause") for t in
                   (c.title for c in app.get_system_commands(app.screen_stack[0])))


async def test_q_only_leaves_a_read_only_view(demo: Path) -> None:
    app = make_app(RunClient(demo), read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, ChoiceDialog | CommandPalette)
    assert app.return_code == 0
