"""Dialogs obey the keys people expect (issue 87): the leave dialog focused Detach and bound
no arrow keys, so Right then Enter detached, and the newcomer who meant "Stop the run" was
left with a run in the background. The arrows and Tab move between the buttons, the one Enter
presses is marked, and a dialog whose default leaves a run going says so."""

from __future__ import annotations

import html
import re

import pytest
from textual.app import App
from textual.widgets import Button

from avo_tui.tui.screens.dialogs import ChoiceDialog

pytestmark = pytest.mark.anyio

LEAVE = {"detach": "Detach", "stop": "Stop the run"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


class Host(App[None]):
    """An app that asks one question and keeps the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(ChoiceDialog("Leave this view?", LEAVE), self.answers.append)


def marked(app: Host) -> list[str]:
    """The labels of the buttons marked as the one Enter presses."""
    return [str(b.label) for b in app.screen.query(Button)
            if str(b.label).startswith(ChoiceDialog.MARK)]


def shown(app: Host) -> str:
    """The screen's text as drawn (cut where it does not fit)."""
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


@pytest.mark.parametrize(("keys", "answer"), [
    (("enter",), "detach"),
    (("right", "enter"), "stop"),
    (("down", "enter"), "stop"),
    (("tab", "enter"), "stop"),
    (("right", "right", "enter"), None),  # Cancel
    (("right", "left", "enter"), "detach"),
    (("left", "enter"), None),  # round to the last: Cancel
])
async def test_arrows_and_tab_move_and_enter_does_what_the_marked_button_says(
    keys: tuple[str, ...], answer: str | None
) -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert marked(app) == ["▶ Detach"]
        await pilot.press(*keys[:-1])
        await pilot.pause()
        [label] = marked(app)
        focused = app.screen.focused
        assert isinstance(focused, Button) and str(focused.label) == label
        # shown whole: at 80x24 the marked "Stop the run" was cut to "▶ Stop the"
        assert label in shown(app), (label, shown(app))
        await pilot.press(keys[-1])
        await pilot.pause()
        assert app.answers == [answer]
        assert not isinstance(app.screen, ChoiceDialog)


async def test_the_marked_button_stands_out() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right")
        buttons = {str(b.label): b for b in app.screen.query(Button)}
        marked_one, other = buttons["▶ Stop the run"], buttons["Detach"]
        assert marked_one.styles.background != other.styles.background
        assert marked_one.styles.text_style.reverse and not other.styles.text_style.reverse
