"""Browsing the attempts in the app (t): every candidate evaluated, committed or not, newest
first; f shows only the failed ones; enter opens one with its log and its diff."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from test_app_layout import screen_lines
from textual.widgets import OptionList, Static
from tui_helpers import branched_session, kernel, opened, until

from avo_tui.engine.client import RunClient
from avo_tui.store import Score, Session
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.screens.attempts import AttemptDetail, AttemptsScreen
from avo_tui.tui.screens.info import HelpScreen
from avo_tui.views.attempts import attempt_cells

pytestmark = pytest.mark.anyio
COMPILER_LOG = json.dumps({"outcome": "compile_error",
                           "log": "kernel.c:4: error: 'UNROL' undeclared"})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def browsed(tmp_path: Path) -> Path:
    """The branched session (a1..a14, none failed), then a compile error and a slower one."""
    with branched_session(tmp_path / "branched") as session:
        session.record_attempt({"kernel.c": kernel(64, 4, " UNROL")}, base="v7",
                               author="tuner", outcome="compile_error",
                               detail="kernel.c:4: error: 'UNROL' undeclared", log=COMPILER_LOG)
        session.record_attempt({"kernel.c": kernel(16, 4)}, base="v7", author="tuner",
                               outcome="slower", detail="within noise of the best")
    return tmp_path / "branched"


def shown(app: AvoApp, selector: str) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


def listed(app: AvoApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]


def lines(app: AvoApp) -> dict[str, str]:
    """Each listed attempt's line, as plain text."""
    options = app.screen.query_one(OptionList)
    found = (options.get_option_at_index(i) for i in range(options.option_count))
    return {str(o.id): o.prompt.plain for o in found if isinstance(o.prompt, Text)}


async def test_attempts_are_listed_filtered_and_opened(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("t")
        assert isinstance(app.screen, AttemptsScreen)
        screen = app.screen
        await until(pilot, lambda: screen.loaded)
        assert listed(app) == [f"a{n}" for n in range(16, 0, -1)]  # newest first
        assert lines(app)["a16"].startswith("a16    v7    slower")  # one lane: no lane column
        assert "16 attempts of 16" in shown(app, "#attempts-title")
        assert "within noise of the best" in shown(app, "#attempt-detail")  # a16's detail
        await pilot.press("f")
        await until(pilot, lambda: screen.loaded and listed(app) == ["a15"])
        assert "1 failed attempts of 16" in shown(app, "#attempts-title")
        await pilot.press("enter")
        assert isinstance(app.screen, AttemptDetail)
        detail = app.screen
        await until(pilot, lambda: detail.loaded)
        assert "compile_error" in shown(app, "#tab-summary Static")
        assert "'UNROL' undeclared" in shown(app, "#tab-log Static")
        diff = shown(app, "#tab-diff Static")
        assert "a15 against v7: +1/-1" in diff and "UNROL" in diff
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("f")  # back to all of them
        await until(pilot, lambda: screen.loaded and len(listed(app)) == 16)
        await pilot.press("escape")
        assert not isinstance(app.screen, AttemptsScreen)


async def test_the_attempts_key_is_in_the_help_and_the_palette(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any(t.startswith("Every attempt, committed or not") for t in titles)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "every attempt, committed or not" in shown(app, "HelpScreen Static")


async def test_an_attempt_without_a_log_says_so(tmp_path: Path) -> None:
    with Session.create(tmp_path / "plain", target="cpu-attention", operator="tuner",
                        seed_files={"kernel.c": kernel(16, 1)}) as session:
        session.record_attempt({"kernel.c": kernel(32, 1)}, base="v0", author="tuner",
                               outcome="interrupted", detail="cut short by the operator")
    app = make_app(RunClient(tmp_path / "plain"))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("t")
        screen = app.screen
        await until(pilot, lambda: getattr(screen, "loaded", False))
        await pilot.press("enter")
        detail = app.screen
        await until(pilot, lambda: getattr(detail, "loaded", False))
        assert "no log was kept" in shown(app, "#tab-log Static")


async def test_in_a_session_of_several_lanes_each_attempt_shows_its_lane(browsed: Path) -> None:
    """Lanes 1 and 2 and a hand edit (no lane) tried a kernel each: every line says which lane
    tried it, in a column of its own that leaves the line as wide as before, so at 80 columns
    the time still shows on the line's first row; the attempt in full names its lane too."""
    with Session.open(browsed) as session:
        for lane, author in ((1, "tuner"), (2, "tuner"), (None, "operator")):
            session.record_attempt({"kernel.c": kernel(16, 2 + (lane or 0))}, base="v7",
                                   author=author, outcome="slower", lane=lane,
                                   score=Score(412.3, unit="GFLOP/s", ratio=1.285),
                                   detail="slower than v7 by 3.2%")
        session.set_state(announce=False, lane_count=2)
        attempts = {f"a{n}": session.attempt(f"a{n}") for n in (17, 18, 19)}
    app = make_app(RunClient(browsed))
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("t")
        screen = app.screen
        await until(pilot, lambda: getattr(screen, "loaded", False))
        shown_lines = lines(app)
        assert shown_lines["a17"].startswith("a17    L1 v7    slower")
        assert shown_lines["a18"].startswith("a18    L2 v7    slower")
        assert shown_lines["a19"].startswith("a19       v7    slower")
        assert shown_lines["a16"].startswith("a16       v7    slower")  # before lanes: none
        rows = screen_lines(app)
        for attempt_id, attempt in attempts.items():
            [row] = [r for r in rows if f" {attempt_id} " in r]
            assert attempt_cells(attempt).when in row, row  # not pushed onto a second row
        await pilot.press("down")  # a18, lane 2's
        await pilot.press("enter")
        detail = app.screen
        await until(pilot, lambda: getattr(detail, "loaded", False))
        assert "a18 from v7 by tuner in lane 2" in shown(app, "#tab-summary Static")
