"""The app at 80x24, as over SSH: every pane shows its essentials, and the output pane keeps
following the run. Driven by Pilot over real sessions; what is checked is what the terminal
would show (the screen as the compositor renders it)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static
from tui_helpers import branched_session, opened, settled, until

from avo_tui.engine.client import RunClient
from avo_tui.store import Session
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.screens.dialogs import ChoiceDialog
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.output import OutputPane, wrap
from avo_tui.tui.widgets.status import StatusBar, StatusFacts, status_text

pytestmark = pytest.mark.anyio
SMALL = (80, 24)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def browsed(tmp_path: Path) -> Path:
    branched_session(tmp_path / "branched").close()
    return tmp_path / "branched"


def screen_lines(app: AvoApp) -> list[str]:
    """The screen as the terminal shows it, one string per row."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def shown_in(app: AvoApp, region: Region) -> str:
    """The text shown in ``region`` of the screen, its rows joined by spaces."""
    rows = screen_lines(app)[region.y:region.bottom]
    return " ".join(" ".join(row[region.x:region.right].split()) for row in rows)


def content(widget: Widget) -> Region:
    return widget.content_region


async def test_at_80x24_every_pane_shows_its_essentials(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        left = app.query_one("#left")
        assert left.region.width <= 34  # not half of the screen: the right side needs it
        tree = app.query_one(LineageTree)
        assert "v7 ◀ 53.2 1.33x op" in shown_in(app, content(tree))  # the mark first: never cut
        tree.reveal("v6")  # the best, on a side branch: its row is indented by the guides
        await settled(pilot, app)
        assert "v6 ★ 63.5 1.59x" in shown_in(app, content(tree))
        tree.reveal("v7")
        await settled(pilot, app)
        status = app.query_one(StatusBar)
        assert status.region.height == 1
        bar = shown_in(app, status.region)
        assert "branched" in bar and "stopped" in bar and "step 9" in bar
        assert "best v6 63.5 GFLOP/s 1.587x" in bar
        diff = shown_in(app, content(app.query_one("#diff")))
        # the change itself, not only the file and hunk headers
        assert "- /* tile of BLOCK rows, unrolled UNROLL times */" in diff
        assert "+ /* tile of BLOCK rows, unrolled UNROLL times */ // hand-tuned prefetch" in diff
        output = app.query_one(OutputPane)
        assert output.one_line  # a short terminal: one line per event, cut at a word
        assert "commit v7 from v4 by operator: 53.2 …" in shown_in(app, content(output))
        await pilot.press("w")
        await settled(pilot, app)
        shown = shown_in(app, content(output))
        # the last lines whole, wrapped rather than cut at the pane's edge
        assert ("commit v7 from v4 by operator: 53.2 GFLOP/s edited by hand on top of v4"
                in shown)
        assert "plan 1. try BLOCK 128 with UNROLL 4 2. prefetch the next K tile" in shown
        plan = app.query_one("#plan")
        assert "step 9" in str(plan.border_subtitle)  # the status bar's number


async def test_at_80x24_a_dialog_shows_its_whole_question(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        app.query_one(LineageTree).reveal("v1")
        await settled(pilot, app)
        await pilot.press("r")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.pause()
        question = app.screen.query_one("#question", Static)
        assert question.region.right <= 80
        assert shown_in(app, content(question)) == (
            "Roll the head back from v7 to v1? Nothing is deleted; the next versions branch "
            "from it.")
        await pilot.press("escape")


def test_the_status_bar_keeps_to_one_line_dropping_the_least_useful_facts() -> None:
    facts = StatusFacts(session="mha-forward-long-name", target="mha", operator="agent",
                        state="running", step=1234, seconds=98765.0,
                        best="v1200 612.3 TFLOP/s 1.082x", tokens=12_345_678, cost_usd=123.45,
                        device="NVIDIA H200", attached=True)
    wide = status_text(facts).plain
    assert "NVIDIA H200" in wide and "mha · agent (attached)" in wide and "12.35M tok" in wide
    narrow = status_text(facts, 80).plain
    assert len(narrow) <= 80
    for essential in ("mha-forward-long-name", "running", "step 1234",
                      "best v1200 612.3 TFLOP/s 1.082x"):
        assert essential in narrow
    assert "NVIDIA H200" not in narrow  # the device leaves first


def test_output_lines_wrap_under_their_message() -> None:
    rows = wrap("commit   v7 from v4 by operator: 53.2 GFLOP/s  BLOCK_K 64->32", 30)
    assert rows == ["commit   v7 from v4 by", "         operator: 53.2",
                    "         GFLOP/s  BLOCK_K", "         64->32"]
    assert all(len(row) <= 30 for row in rows)


async def test_the_output_pane_follows_the_run_when_the_panes_change_height(
    browsed: Path,
) -> None:
    """Plans of different lengths arrive while events stream: the plan pane grows and
    shrinks, the output pane with it, and the output pane must stay at the end (it used to
    stop following for good at the first change of height)."""
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        output = app.query_one(OutputPane)
        heights = set()
        with Session.open(browsed) as writer:
            for n in range(60):
                writer.append_event("tool_call", tool="evaluate", input=f"#{n}",
                                    result=f"PASS {n} GFLOP/s, BLOCK_K 64->32 UNROLL 2->4")
                if n % 10 == 0:
                    writer.append_event("plan", text="one line" if n % 20 else
                                        "1. a plan\n2. of\n3. four lines\n4. at least")
                    seq = writer.last_seq

                    def polled(seq: int = seq) -> bool:
                        return app.client is not None and app.client.cursor >= seq

                    await until(pilot, polled)
                    await settled(pilot, app)
                    heights.add(output.size.height)
            last = writer.last_seq
        await until(pilot, lambda: app.client is not None and app.client.cursor >= last)
        await settled(pilot, app)
        assert len(heights) > 1  # the pane did change height under the stream
        assert output.following and output.scroll_offset.y == output.max_scroll_y
        assert "#59" in shown_in(app, content(output))


async def test_the_output_pane_stays_where_the_user_scrolled_back_to(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        output = app.query_one(OutputPane)
        output.focus()
        await pilot.press("home")
        assert not output.following and output.scroll_offset.y == 0
        with Session.open(browsed) as writer:
            writer.append_event("hint", action="received", text="a new line")
            last = writer.last_seq
        await until(pilot, lambda: app.client is not None and app.client.cursor >= last)
        await settled(pilot, app)
        assert output.scroll_offset.y == 0  # left where the user is reading
        await pilot.press("end")
        assert output.following
        with Session.open(browsed) as writer:
            writer.append_event("hint", action="received", text="and another")
            last = writer.last_seq
        await until(pilot, lambda: app.client is not None and app.client.cursor >= last)
        await settled(pilot, app)
        assert output.scroll_offset.y == output.max_scroll_y
        assert "and another" in shown_in(app, content(output))


async def test_at_80x24_the_log_screens_footer_is_whole(browsed: Path) -> None:
    from avo_tui.tui.screens.log import LogScreen

    app = make_app(RunClient(browsed))
    async with app.run_test(size=SMALL) as pilot:
        await opened(pilot, app)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        await pilot.pause()
        footer = screen_lines(app)[-1].rstrip()
        assert "esc close" in footer and footer.endswith("? help"), footer


async def test_the_score_chart_spreads_a_few_versions_over_its_width() -> None:
    from textual.app import App

    from avo_tui.tui.widgets.chart import ChartData, ScoreChart

    class One(App[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield ScoreChart()

    app = One()
    async with app.run_test(size=(88, 10)) as pilot:
        chart = app.query_one(ScoreChart)
        chart.data = ChartData((("v0", 10.0), ("v1", 20.0)), {"cudnn": 15.0}, "TFLOP/s")
        await pilot.pause()
        bottom = str(chart.render()).splitlines()[-2]  # the lowest row of bars
        bars = bottom[8:]
        assert len(bars) == 80 and bars.count("█") == 80, bottom  # both bars, 40 columns each
