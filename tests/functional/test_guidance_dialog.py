"""The guidance dialog (issue 53): it says, as the text is typed, how the tuner will read it;
what the tuner cannot read is not sent; it opens with the cursor after the standing guidance,
and Clear empties it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static, TextArea
from tui_helpers import _score, kernel, opened, until

from avo_tui.engine.client import RunClient
from avo_tui.engine.inbox import queued
from avo_tui.store import Session
from avo_tui.tui import make_app
from avo_tui.tui.screens.dialogs import TextDialog

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


async def test_the_guidance_dialog_shows_how_the_tuner_reads_it_before_it_is_sent(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "tuned"
    with Session.create(directory, target="cpu-attention", operator="tuner",
                        seed_files={"kernel.c": kernel(64, 4)}, score=_score(30.0)) as s:
        s.set_state(announce=False, guidance="keep UNROLL at 2")
    app = make_app(RunClient(directory))
    async with app.run_test(size=(100, 30)) as pilot:
        await opened(pilot, app)
        await pilot.press("g")
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        reading = dialog.query_one("#reading", Static)

        def shown() -> str:
            return str(reading.render())

        await until(pilot, lambda: shown() == "read as: UNROLL=2")
        area = dialog.query_one(TextArea)
        assert area.cursor_location == area.document.end  # typing goes on after the guidance

        await pilot.click("#clear")
        assert area.text == "" and shown() == ""
        await pilot.press(*"never touch BLOCK")
        await until(pilot, lambda: shown() == "read as: BLOCK as it is")
        await pilot.click("#clear")
        await pilot.press(*"only vary UNROLL")
        await until(pilot, lambda: shown() == (
            "read as: vary UNROLL (the other knobs stay as they are)"))

        await pilot.click("#clear")
        await pilot.press(*"make it faster", "ctrl+s")
        await until(pilot, lambda: "the tuner cannot read it" in shown())
        assert "it names no knob of this kernel" in shown()
        assert "(this kernel's knobs: BLOCK, UNROLL)" in shown()
        assert shown().endswith("Not sent as it is.")
        assert app.screen is dialog and queued(directory) == []  # refused: not sent

        await pilot.click("#clear")
        await pilot.press(*"hold UNROLL at 4", "ctrl+s")
        await until(pilot, lambda: app.screen is not dialog)
        [waiting] = queued(directory)
        assert waiting.command.text == "hold UNROLL at 4"  # type: ignore[union-attr]
