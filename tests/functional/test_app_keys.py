"""Every key is in the footer or the ``?`` help (issue 71): each binding the app has, on the
main screen with each pane focused and on each screen and dialog it opens, found by asking
Textual which bindings are active there, is named in that screen's footer or in the help's
text. The one exception is a text field's editing keys (Textual's TextArea and Input: the
usual ones, ctrl+z, ctrl+w ...), which the help names as a whole."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea
from textual.widgets._footer import FooterKey
from tui_helpers import branched_session, opened, settled, until

from avo_tui.engine.client import RunClient
from avo_tui.store import Suspect
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.screens.dialogs import ChoiceDialog, SuspectsDialog
from avo_tui.tui.screens.info import HelpScreen

pytestmark = pytest.mark.anyio
EDITING = (TextArea, Input)  # a text field's own keys: named as a whole in the help


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


def words(text: str) -> set[str]:
    return set(re.split(r"[\s,;:()·]+", text))


def rendered(static: Static) -> str:
    console = Console(width=300, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


def unnamed(app: AvoApp, screen: Screen[object], help_words: set[str]) -> list[str]:
    """The keys active on ``screen`` (as focused now) that neither its footer nor the help
    names, each with the widget it belongs to and its action."""
    footer = {k.key for k in screen.query(FooterKey)} | {
        k.key_display for k in screen.query(FooterKey)}
    missing = []
    for key, active in screen.active_bindings.items():
        if isinstance(active.node, EDITING):
            continue
        named = {key, app.get_key_display(active.binding)}
        if not named & (footer | help_words):
            missing.append(f"{key} ({type(active.node).__name__}.{active.binding.action})")
    return missing


async def help_words(app: AvoApp, pilot: Pilot[None]) -> set[str]:
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen))
    text = rendered(app.screen.query_one(Static))
    app.pop_screen()
    return words(text)


async def test_every_key_is_in_the_footer_or_the_help(tmp_path: Path) -> None:
    branched_session(tmp_path / "keys").close()
    app = make_app(RunClient(tmp_path / "keys"))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        helped = await help_words(app, pilot)
        assert {"space", "shift+space", "ctrl+p"} <= helped  # the keys issue 71 found missing
        missing: dict[str, list[str]] = {}
        main = app.screen
        for pane in ("#lineage", "#diff", "#output"):
            app.query_one(pane).focus()
            await pilot.pause()
            missing[f"main, {pane} focused"] = unnamed(app, main, helped)

        app.query_one("#lineage").focus()
        await pilot.press("up")  # v4, which is not the head: r asks
        opens = {"?": "help", "s": "scores", "o": "full log", "t": "attempts", "d": "detail",
                 "h": "hint", "g": "guidance", "f": "fork", "c": "compare", "r": "rollback"}
        for key, what in opens.items():
            await pilot.press("question_mark" if key == "?" else key)
            await until(pilot, lambda: app.screen is not main)
            await settled(pilot, app)
            missing[what] = unnamed(app, app.screen, helped)
            if what == "compare":  # and the comparison it opens
                await pilot.press("enter")
                await until(pilot, lambda: len(app.screen_stack) == 2
                            and not app.screen.query(Input))
                missing["comparison"] = unnamed(app, app.screen, helped)
            while len(app.screen_stack) > 1:
                app.pop_screen()
            await pilot.pause()

        # dialogs that need a live run or a held result: opened as the controls open them
        suspect = Suspect("a9", "v7", "agent", "faster than the peak", ("beyond the peak",),
                          900.0)
        for what, dialog in (("suspects", SuspectsDialog([suspect])),
                             ("quit", ChoiceDialog("Leave this view?",
                                                   {"detach": "Detach", "stop": "Stop"}))):
            await app.push_screen(dialog)
            await pilot.pause()
            missing[what] = unnamed(app, app.screen, helped)
            app.pop_screen()
            await pilot.pause()
        assert not any(missing.values()), {k: v for k, v in missing.items() if v}
