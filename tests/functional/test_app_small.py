"""80x24 done right (issue 53): one line per event in the output pane, a full log without the
check lines and with long lines wrapped, notifications that leave the status bar alone, one
step number, and the focused pane shown plainly. Driven by Pilot over real sessions; what is
checked is what the terminal shows."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from engine_helpers import TARGET
from test_app_lanes import plan_pane, saying
from test_app_layout import content, screen_lines, shown_in
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets._toast import Toast
from tui_helpers import branched_session, opened, settled, until

from avo_tui.engine import Engine, Evaluator
from avo_tui.engine.client import RunClient
from avo_tui.evaluation import Worker
from avo_tui.store import Session
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.screens.log import FileLog, LogScreen
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.output import OutputPane
from avo_tui.tui.widgets.status import StatusBar

pytestmark = pytest.mark.anyio
SMALL, TALL = (80, 24), (80, 40)
VERDICT = ("BLOCK_K 64->32 UNROLL 2->4 measured against v7 on every configuration of the grid, "
           "interleaved and paired: +16.85% ± 4.96% on the long sequences, not above the bar "
           "of +0.17%")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def browsed(tmp_path: Path) -> Path:
    branched_session(tmp_path / "branched").close()
    return tmp_path / "branched"


async def with_verdict(pilot: Pilot[None], app: AvoApp, directory: Path) -> None:
    with Session.open(directory) as writer:
        writer.append_event("attempt", attempt="a99", outcome="rejected", detail=VERDICT)
        last = writer.last_seq
    await until(pilot, lambda: app.client is not None and app.client.cursor >= last)
    await settled(pilot, app)


async def test_at_80x24_each_event_is_one_row_cut_at_a_word_and_w_wraps_it(
    browsed: Path,
) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        await with_verdict(pilot, app, browsed)
        output = app.query_one(OutputPane)
        assert output.one_line and output.border_title == "output · one line each"
        assert output.virtual_size.height == output.line_count  # one row per event
        rows = shown_in(app, content(output))
        # the outcome and its gain first, then the detail, the only part cut
        assert "a99 rejected +16.85% ± 4.96% ·" in rows and "not above" not in rows
        row = next(r for r in screen_lines(app) if "a99" in r)
        cut = row[content(output).x:content(output).right].rstrip()
        assert cut.endswith("…")
        kept = " ".join(cut.removesuffix("…").split(" · ", 1)[1].split())
        words = VERDICT.split()
        assert kept == " ".join(words[:len(kept.split())])  # whole words: no number cut
        footer = screen_lines(app)[-1]
        assert "w wrap" in footer and "q quit" in footer
        await pilot.press("w")
        await settled(pilot, app)
        assert not output.one_line and output.virtual_size.height > output.line_count
        assert "not above the bar of +0.17%" in shown_in(app, content(output))
        await pilot.press("w")
        await settled(pilot, app)
        assert output.one_line and output.virtual_size.height == output.line_count


async def test_on_a_taller_terminal_events_are_wrapped_whole(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=TALL) as pilot:
        await opened(pilot, app)
        await with_verdict(pilot, app, browsed)
        output = app.query_one(OutputPane)
        assert not output.one_line and output.border_title == "output"
        assert "not above the bar of +0.17%" in shown_in(app, content(output))
        await pilot.resize_terminal(*SMALL)  # a smaller window: one line each
        await settled(pilot, app)
        assert output.one_line


def log_text(n_checks: int) -> str:
    lines = [f"11-25 08:09:{n % 60:02d} #{n} tool     evaluate quick" for n in range(40)]
    lines += [f"11-25 08:10:{n:02d}    check b1-h2-s{n}-d64-causal normal ({n + 1}/28)"
              for n in range(n_checks)]
    lines.append(f"11-25 08:11:00 #99 a99      rejected     {VERDICT}")
    lines += [f"11-25 08:11:01    L2 check b1-h2-s{n}-d64-full normal ({n + 1}/28)"
              for n in range(3)]
    return "".join(line + "\n" for line in lines)


async def test_the_full_log_hides_the_check_lines_until_c_and_wraps_long_lines(
    browsed: Path,
) -> None:
    (browsed / "output.log").write_text(log_text(28))
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        log = app.screen.query_one(FileLog)
        await until(pilot, lambda: "#99 a99" in "\n".join(screen_lines(app)))
        assert log.line_count == 72
        screen = "\n".join(screen_lines(app))
        assert "31 check lines hidden (c shows them)" in screen
        assert "check b1" not in screen
        assert "#99 a99" in screen and "bar of +0.17%" in screen  # wrapped whole
        assert all(len(row) <= 80 for row in screen_lines(app))
        footer = screen_lines(app)[-1]
        assert "c checks" in footer and "w wrap" not in footer  # the main screen's key
        await pilot.press("c")
        await until(pilot, lambda: "L2 check b1-h2-s2-d64-full normal (3/28)" in "\n".join(
            screen_lines(app)))
        assert "check lines hidden" not in screen_lines(app)[0]
        assert log.scroll_offset.y == log.max_scroll_y  # still at the end
        await pilot.press("c")
        await until(pilot, lambda: "check b1" not in "\n".join(screen_lines(app)))
        assert "#99 a99" in "\n".join(screen_lines(app))
        await pilot.press("home")  # scrolled back: it stops following, and shows from the top
        await until(pilot, lambda: "#0 tool" in screen_lines(app)[1])
        assert not log.following and log.scroll_offset.y == 0
        await pilot.press("end")
        assert log.following


async def test_a_notification_stands_above_the_status_bar(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await opened(pilot, app)
        app.notify("this run goes on without this screen: q detaches it (or stops it), and so "
                   "does a dropped connection; come back with avo attach branched", timeout=60)
        await until(pilot, lambda: bool(app.screen.query(Toast)))
        await pilot.pause()
        toast = app.screen.query_one(Toast).region
        status = app.query_one(StatusBar)
        assert toast.bottom <= status.region.y, (toast, status.region)
        assert "branched" in shown_in(app, status.region) and "step 9" in shown_in(
            app, status.region)


async def test_the_plan_pane_and_the_status_bar_give_one_step_number(
    session: Session, worker: Worker, browsed: Path,
) -> None:
    app = make_app(RunClient(browsed))  # nine steps done, stopped: the last step done
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        assert plan_pane(app).progress.split(" · ")[0] == "step 9"  # then how to resume it
        assert " step 9 " in shown_in(app, app.query_one(StatusBar).region)
    done = threading.Event()  # a live run: the step in hand, in both
    engine = Engine(session, saying("reading the lineage", done),
                    Evaluator(TARGET, worker, quick=True))
    app = make_app(RunClient(session.directory, engine))
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: plan_pane(app).progress == "step 1 · reading the lineage")
        await settled(pilot, app)
        assert " step 1 " in shown_in(app, app.query_one(StatusBar).region)
        done.set()
        await until(pilot, lambda: app.client is not None and not app.client.live(),
                    timeout=120)


def border(widget: Widget) -> str:
    return str(widget.styles.border_top[0])


async def test_the_focused_pane_is_plain_and_escape_gives_the_lineage_its_keys_back(
    browsed: Path,
) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        tree = app.query_one(LineageTree)
        assert app.focused is tree
        assert border(tree) == "heavy"  # the focused pane's border
        assert "↑↓ versions" in screen_lines(app)[tree.region.bottom - 1]
        await pilot.press("tab")
        diff = app.query_one("#diff")
        assert app.focused is diff
        assert border(diff) == "heavy" and border(tree) == "round"
        assert "↑↓ scroll the diff · esc: lineage" in screen_lines(app)[diff.region.bottom - 1]
        assert "↑↓ versions" not in screen_lines(app)[tree.region.bottom - 1]
        before = tree.cursor_line
        await pilot.press("down")  # the diff scrolls, as its border said
        assert tree.cursor_line == before
        await pilot.press("escape", "up")
        await settled(pilot, app)
        assert app.focused is tree and tree.cursor_line == before - 1
