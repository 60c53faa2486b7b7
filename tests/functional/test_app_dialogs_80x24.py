"""Every dialog fits 80x24 (issue 71): opened as the app opens it, each button, text field and
list of each dialog lies on the screen and shows whole: every row of it is what the screen
shows there, never clipped by its dialog nor under something else. The guidance dialog is
checked also with a long text the tuner refuses, where the refusal stands under the text."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from tui_helpers import _score, branched_session, kernel, opened, settled, until

from avo_tui.engine.client import Restarted, RunClient
from avo_tui.store import Session, Suspect
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.screens.dialogs import ChoiceDialog, Dialog, SuspectsDialog, TextDialog

pytestmark = pytest.mark.anyio
SIZE = (80, 24)
PARTS = (Button, Input, TextArea, OptionList)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


def hidden_parts(screen: Screen[object]) -> list[str]:
    """The buttons, fields and lists of ``screen`` that do not show whole on an 80x24
    screen: off it, clipped, or covered (a row where the screen shows something else)."""
    whole = Region(0, 0, *SIZE)
    hidden = []
    for part in [w for w in screen.query("*") if isinstance(w, PARTS)]:
        region = part.region
        if not region or not whole.contains_region(region):
            hidden.append(f"{part!r} at {region}")
            continue
        for y in range(region.y, region.bottom):
            for x in (region.x, region.right - 1):
                shown, _ = screen.get_widget_at(x, y)
                if shown is not part and part not in shown.ancestors:
                    hidden.append(f"{part!r} row {y} col {x} shows {shown!r}")
                    break
    return hidden


async def opened_dialog(pilot: Pilot[None], app: AvoApp, key: str) -> Screen[object]:
    main = app.screen_stack[0]
    await pilot.press(key)
    await until(pilot, lambda: app.screen is not main and isinstance(app.screen, Dialog))
    await settled(pilot, app)
    return app.screen


async def closed(pilot: Pilot[None], app: AvoApp) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    await pilot.pause()


async def test_every_dialog_of_a_session_fits_80x24(tmp_path: Path) -> None:
    branched_session(tmp_path / "fit").close()
    app = make_app(RunClient(tmp_path / "fit", restart=lambda: Restarted("not called")))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        hidden: dict[str, list[str]] = {}
        await pilot.press("up")  # v4, not the head: r asks
        for key, what in (("h", "hint"), ("g", "guidance"), ("r", "rollback"), ("f", "fork"),
                          ("c", "compare"), ("R", "start again")):
            screen = await opened_dialog(pilot, app, key)
            if what == "hint":  # a long hint: the text field keeps its size
                await pilot.press(*("try a wider tile, then unroll twice; " * 12))
                await pilot.pause()
            hidden[what] = hidden_parts(screen)
            await closed(pilot, app)

        # the dialogs that need a live run or a held result, as the controls open them
        flags = tuple(f"{n}: {'beyond the hardware peak by far, ' * 3}" for n in range(6))
        suspects = [Suspect(f"a{n}", "v4", "agent", "a faster tile " * 20, flags, 900.0 + n)
                    for n in range(9)]
        for what, dialog in (
            ("suspects", SuspectsDialog(suspects)),
            ("quit", ChoiceDialog(
                "Leave this view. Detach: the run goes on in a process of its own, from its "
                "next safe point (come back with avo attach fit). Or stop it?",
                {"detach": "Detach", "stop": "Stop the run"})),
            ("stop", ChoiceDialog("Stop the run at its next safe point? The app stays open for "
                                  "browsing (q leaves).", {"stop": "Stop the run"})),
        ):
            await app.push_screen(dialog)
            await settled(pilot, app)
            hidden[what] = hidden_parts(app.screen)
            await closed(pilot, app)
        assert not any(hidden.values()), {k: v for k, v in hidden.items() if v}


async def test_the_guidance_dialog_fits_80x24_with_a_refusal_under_the_text(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "tuned"
    with Session.create(directory, target="cpu-attention", operator="tuner",
                        seed_files={"kernel.c": kernel(64, 4)}, score=_score(30.0)):
        pass
    app = make_app(RunClient(directory))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        for key in ("g", "h"):
            dialog = await opened_dialog(pilot, app, key)
            assert isinstance(dialog, TextDialog)
            reading = dialog.query_one("#reading", Static)

            def knobs_read(dialog: TextDialog = dialog) -> bool:
                return bool(dialog.choices)

            def refused(reading: Static = reading) -> bool:
                return "Not sent as it is" in str(reading.render())

            await until(pilot, knobs_read)  # the tuner's knobs are read
            await pilot.press(*("make it faster please, " * 6), "enter",
                              *"and then some more", "enter", *"and more", "ctrl+s")
            await until(pilot, refused)
            await pilot.pause()
            assert app.screen is dialog  # refused: the dialog stays, with the refusal
            assert reading.region.height >= 2  # the refusal, whole, under the text
            assert hidden_parts(dialog) == []
            await closed(pilot, app)
