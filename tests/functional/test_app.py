"""The app, driven by Pilot over real sessions: every control reaches the engine, and the
screen shows what the engine did."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import TARGET
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static
from tui_helpers import branched_session, opened, settled, stop_and_leave, until

from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.engine.alerts import STOPPED, alert_of
from avo_tui.engine.client import RunClient
from avo_tui.engine.inbox import INBOX
from avo_tui.evaluation import Worker
from avo_tui.operators import Operator, Tuner
from avo_tui.operators.protocol import StepContext, StepResult
from avo_tui.store import Event, EventKind, Session
from avo_tui.tui import AvoApp, make_app
from avo_tui.tui.screens.detail import CompareScreen, VersionDetail
from avo_tui.tui.screens.dialogs import ChoiceDialog, InputDialog, TextDialog
from avo_tui.tui.screens.info import HelpScreen, ScoresScreen
from avo_tui.tui.screens.log import FileLog, LogScreen
from avo_tui.tui.widgets.diff import DiffPane
from avo_tui.tui.widgets.lineage import LineageTree
from avo_tui.tui.widgets.output import OutputPane
from avo_tui.tui.widgets.status import StatusBar
from avo_tui.tui.widgets.status import status_text as widget_status_text

SIZE = (120, 36)
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio


def text_of(app: AvoApp, selector: str, main: bool = False) -> str:
    """What a Static shows, as plain text (its content may be any Rich renderable); on the
    screen on top, or with ``main`` on the app's own screen."""
    screen = app.screen_stack[0] if main else app.screen
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


def full_status(app: AvoApp) -> str:
    return widget_status_text(app.status).plain if app.status else ""


def output_text(app: AvoApp) -> str:
    return "\n".join(app.query_one(OutputPane).lines)


def status_text(app: AvoApp) -> str:
    return app.query_one(StatusBar).render().plain


def diff_title(app: AvoApp) -> str:
    return app.query_one(DiffPane).title


def notified(app: AvoApp, text: str) -> bool:
    """Whether the app has told the user ``text`` (every command it sends is announced)."""
    return any(text in n.message for n in app._notifications)


@asynccontextmanager
async def running_app(session: Session, worker: Worker, operator: Operator | None = None,
                      ) -> AsyncIterator[tuple[AvoApp, Pilot[None]]]:
    """The app with the engine in-process (as ``avo`` runs it), on a real session."""
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, operator or Tuner(1), evaluator, budgets=Budgets(max_steps=500))
    app = make_app(RunClient(session.directory, engine))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.opened)
        yield app, pilot
        while len(app.screen_stack) > 1:  # a dialog left open would take the q as text
            app.pop_screen()
        if engine.stop_reason is None and app.is_running and engine_alive(app):
            await stop_and_leave(pilot, app)  # stop, and cut the evaluation in flight short
            await until(pilot, lambda: not engine_alive(app))


def engine_alive(app: AvoApp) -> bool:
    return app.client is not None and app.client.live()


@asynccontextmanager
async def browsing(directory: Path) -> AsyncIterator[tuple[AvoApp, Pilot[None]]]:
    """The app attached to a session nobody runs, settled after opening."""
    app = make_app(RunClient(directory))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot, app)
        yield app, pilot


def second_version(session: Session) -> None:
    files = session.read_files("v0")
    name = next(iter(files))
    session.commit({name: files[name] + "// by hand\n"}, author="operator", message="by hand",
                   score=session.version("head").score)


@pytest.fixture
def browsed(tmp_path: Path) -> Iterator[Path]:
    """A stopped session with a branched lineage, opened by an attached (engine-less) app."""
    branched_session(tmp_path / "branched").close()
    yield tmp_path / "branched"


# -- controls that reach a live engine --------------------------------------------------------


async def test_pause_then_resume(session: Session, worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):
        await until(pilot, lambda: "running" in status_text(app))
        await pilot.press("p")
        await until(pilot, lambda: session.state.get("status") == "paused")
        await until(pilot, lambda: " paused " in status_text(app) and "paused" in output_text(app))
        await pilot.press("p")
        await until(pilot, lambda: session.state.get("status") == "running")
        await until(pilot, lambda: "resumed" in output_text(app))


async def test_a_multi_line_hint_reaches_the_engine(session: Session, worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):
        await pilot.press("h")
        assert isinstance(app.screen, TextDialog)
        await pilot.press(*"BLOCK_Q=32", "enter", *"then UNROLL", "ctrl+s")
        await until(pilot, lambda: any(
            e.kind == "hint" for e in session.events(after=session.last_seq - 30)))
        hint = next(e for e in session.events() if e.kind == "hint")
        assert hint.data["action"] == "received" and hint.data["text"] == "BLOCK_Q=32\nthen UNROLL"
        await until(pilot, lambda: "hint     received BLOCK_Q=32" in output_text(app))


async def test_after_the_run_stops_a_hint_or_pause_is_queued_and_said_to_be(
    session: Session, worker: Worker
) -> None:
    """The in-process engine reads no commands once it has stopped: the app puts them in the
    session's inbox for its next run and says so, never "sent"."""
    from avo_tui.engine.inbox import queued

    async with running_app(session, worker) as (app, pilot):
        await until(pilot, lambda: session.state.get("status") == "running")
        await pilot.press("x")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")
        await until(pilot, lambda: session.state.get("status") == "stopped", timeout=120)
        await until(pilot, lambda: not engine_alive(app))
        await pilot.press("h", *"try BLOCK_Q=32", "ctrl+s")
        await pilot.press("p")
        assert notified(app, "hint queued: no run is live, so it applies when the session runs "
                             "again")
        assert notified(app, "pause queued: no run is live")
        assert not notified(app, "hint sent") and not notified(app, "pause sent")
        assert [type(q.command).__name__ for q in queued(session.directory)] == ["Hint", "Pause"]


async def test_escape_sends_no_hint(session: Session, worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):
        await pilot.press("h")
        assert isinstance(app.screen, TextDialog)
        await pilot.press(*"nothing", "escape")
        assert not isinstance(app.screen, TextDialog)  # dismissed: its callback has run
        assert not notified(app, "hint sent")
        assert not [e for e in session.events() if e.kind == "hint"]


async def test_guidance_is_set_and_shown_for_editing(session: Session, worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):
        await pilot.press("g", *"vary BLOCK_K only", "ctrl+s")
        # said at once: the notification goes after seconds, sooner than a busy engine's next
        # safe point, where the guidance is set
        await until(pilot, lambda: notified(app, "guidance sent"))
        await until(pilot, lambda: session.state.get("guidance") == "vary BLOCK_K only")
        await until(pilot, lambda: "guidance set vary BLOCK_K only" in output_text(app))
        # shown above the plan while it holds
        await until(pilot, lambda: "guidance vary BLOCK_K only" in text_of(app, "#plan"))
        await pilot.press("g")
        assert app.screen.query_one("TextArea").text == "vary BLOCK_K only"  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert not isinstance(app.screen, TextDialog)


async def test_rollback_after_confirmation_moves_the_head(session: Session,
                                                          worker: Worker) -> None:
    second_version(session)
    async with running_app(session, worker) as (app, pilot):
        await pilot.press("p")
        await until(pilot, lambda: session.state.get("status") == "paused")
        tree = app.query_one(LineageTree)
        tree.reveal("v0")
        await pilot.pause()
        await pilot.press("r")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("escape")  # cancelled: nothing sent
        assert not isinstance(app.screen, ChoiceDialog) and not notified(app, "rollback to")
        assert session.state["head"] == "v1"
        await pilot.press("r", "r")
        await until(pilot, lambda: session.state["head"] == "v0")
        await until(pilot, lambda: tree.marks.head == "v0")
        assert "rollback head v1 -> v0" in output_text(app)
        assert "◀ head" in str(tree.cursor_node.label)


async def test_an_edit_in_the_editor_is_evaluated_and_committed(
    session: Session, worker: Worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new kernel: a comment alone compiles to the head's, which is no new version.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nfor f in \"$@\"; do sed -i 's/^#define THREADS 1 /#define "
                      "THREADS 2 /' \"$f\"; echo '// tuned by a person' >> \"$f\"; done\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    async with running_app(session, worker) as (app, pilot):
        await pilot.press("p")
        await until(pilot, lambda: session.state.get("status") == "paused")
        await pilot.press("e")
        await until(pilot, lambda: any(v.author == "operator" for v in session.lineage),
                    timeout=120)
        version = next(v for v in session.lineage if v.author == "operator")
        source = next(iter(session.read_files(version).values()))
        assert "// tuned by a person" in source and "#define THREADS 2 " in source
        assert version.score is not None  # a version always has one (issue 71)
        await until(pilot, lambda: f"commit   {version.id}" in output_text(app))
        tree = app.query_one(LineageTree)
        await until(pilot, lambda: version.id in str(tree.cursor_node.label))  # type: ignore[union-attr]


async def test_an_unchanged_edit_sends_nothing(session: Session, worker: Worker,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", "true")
    async with running_app(session, worker) as (app, pilot):
        await pilot.press("e")  # the head's files are read on a worker, then the editor runs
        await until(pilot, lambda: notified(app, "no change; nothing sent"))
        assert not notified(app, "your edit")
        assert not [a for a in session.recent_attempts(50) if a.author == "operator"]


async def test_quit_says_which_evaluation_it_waits_for(session: Session, worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):
        await until(pilot, lambda: app.state.in_flight is not None)  # as the app last read it
        await pilot.press("q", "s")  # leave, stopping the run
        assert notified(app, "stopping at the next safe point, after the evaluation in flight "
                             "(a candidate on v")
        assert any(" s so far" in n.message for n in app._notifications)
        await until(pilot, lambda: not app.is_running, timeout=120)


async def test_quit_stops_the_in_process_run_at_a_safe_point(session: Session,
                                                             worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):
        await until(pilot, lambda: session.state.get("status") == "running")
        await pilot.press("q", "s")  # leave, stopping the run (detach is the other answer)
        await until(pilot, lambda: not app.is_running, timeout=120)
    assert session.state["status"] == "stopped"
    assert session.state["reason"] == "quit from the app"
    assert alert_of(last_status(session), lambda: None) == STOPPED


def last_status(session: Session) -> Event:
    return [e for e in session.events() if e.kind == EventKind.STATUS][-1]


async def test_a_live_run_shows_its_budget_and_when_it_ends(session: Session,
                                                            worker: Worker) -> None:
    async with running_app(session, worker) as (app, pilot):  # a budget of 500 steps
        # every fact, as a bar wide enough shows it (a short bar drops these first)
        await until(pilot, lambda: "ends in ~" in full_status(app), timeout=120)
        assert "step " in full_status(app) and "/500" in full_status(app)


async def test_quit_can_detach_the_run_which_stops_to_be_handed_on_with_no_alert(
    session: Session, worker: Worker
) -> None:
    # The app leaves once the run has stopped at its safe point; `avo run` then starts the
    # run's successor (tests/functional/test_app_handoff.py follows a hand-over through to
    # it). The run
    # goes on there, so its stop here is no `stopped` alert (issue 71: Detach sent one).
    async with running_app(session, worker) as (app, pilot):
        await until(pilot, lambda: session.state.get("status") == "running")
        await pilot.press("q")
        assert isinstance(app.screen, ChoiceDialog)
        assert "Detach: the run goes on in a process of its own" in str(app.screen.question)
        await pilot.press("d")
        await until(pilot, lambda: not app.is_running, timeout=120)
    assert app.handing_off
    assert session.state["reason"] == "handed to a process of its own (detached from the app)"
    handed = last_status(session)
    assert handed.data["status"] == "stopped" and alert_of(handed, lambda: None) is None


class Broken:
    """An operator with a bug: each of its steps fails."""

    name = "tuner"

    def step(self, ctx: StepContext) -> StepResult:
        raise RuntimeError("the operator fell over")

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


class EngineFault(BaseException):
    """Stands for a fault in the engine itself, which nothing inside the run catches."""


class Fatal(Broken):
    def step(self, ctx: StepContext) -> StepResult:
        raise EngineFault("the engine fell over")


async def test_a_failing_operator_is_shown_and_the_run_pauses(session: Session,
                                                             worker: Worker) -> None:
    async with running_app(session, worker, Broken()) as (app, pilot):
        await until(pilot, lambda: " paused " in status_text(app))  # after a few failed steps
        assert "RuntimeError('the operator fell over')" in output_text(app)
        assert app.engine_error is None and app.is_running


async def test_a_failed_run_shows_an_error_and_the_app_stays(session: Session,
                                                             worker: Worker) -> None:
    async with running_app(session, worker, Fatal()) as (app, pilot):
        await until(pilot, lambda: app.engine_error is not None)
        assert "the engine fell over" in app.engine_error  # type: ignore[operator]
        await until(pilot, lambda: " error " in status_text(app))
        await pilot.press("d")  # still answering keys
        assert isinstance(app.screen, VersionDetail)
        assert app.is_running


# -- browsing ---------------------------------------------------------------------------------


async def test_the_lineage_shows_branches_head_and_best(browsed: Path) -> None:
    async with browsing(browsed) as (app, pilot):
        tree = app.query_one(LineageTree)
        assert tree.selected_version == "v7"  # the head, revealed
        labels = [str(n.label).split()[0] for n in tree.root.children]
        assert labels == ["v0", "v1", "v2", "v3", "v4", "v7"]  # the line the search went on
        v2 = tree.root.children[2]
        assert "⑂1" in str(v2.label) and not v2.children  # built only when expanded
        v2.expand()
        await pilot.pause()
        assert [str(n.label) for n in v2.children] == ["v5 … v6  2 versions ★ v6"]
        head = str(tree.cursor_node.label)  # type: ignore[union-attr]
        assert head.split() == ["v7", "53.2", "1.33x", "+1/-1", "operator", "◀", "head"]
        assert "1. try BLOCK 128" in text_of(app, "PlanPane")
        await until(pilot, lambda: "v7 against parent v4: +1/-1" in diff_title(app))


async def test_a_resize_moves_the_chart_off_narrow_screens(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart")
        assert chart.display and chart.size.height > 0
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not chart.display and app.size.width == 80
        assert app.query_one(LineageTree).selected_version == "v7"  # nothing lost
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert chart.display


async def test_diff_mode_cycles_parent_best_head_candidate(browsed: Path) -> None:
    async with browsing(browsed) as (app, pilot):
        for title in ("v7 against best v6: +3/-3", "v7 is the head",
                      "no candidate is being evaluated now", "v7 against parent v4: +1/-1"):
            await pilot.press("m")

            def titled(title: str = title) -> bool:
                return diff_title(app) == title

            await until(pilot, titled)


async def test_detail_shows_message_scores_diff_and_transcript(browsed: Path) -> None:
    app = make_app(RunClient(browsed))
    async with app.run_test(size=SIZE) as pilot:
        # Once the lineage is in: a reveal before it finds no v6 and leaves the cursor on the
        # head the app selects (seen under load: the detail of v7 opened).
        await opened(pilot, app)
        tree = app.query_one(LineageTree)
        tree.reveal("v6")
        await settled(pilot, app)
        assert tree.selected_version == "v6"
        await pilot.press("enter")
        assert isinstance(app.screen, VersionDetail)
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        summary = text_of(app, "#tab-summary Static")
        assert "keep the K tile in registers" in summary
        assert "B1-S1024" in summary and "reference" in summary and "63.5" in summary
        diff = text_of(app, "#tab-diff Static")
        assert "+    /* tile of BLOCK rows, unrolled UNROLL times */ // K tile in registers" in diff
        transcript = text_of(app, "#tab-transcript Static")
        assert "Doubling BLOCK should halve" in transcript and "→ evaluate" in transcript
        await pilot.press("escape")
        assert not isinstance(app.screen, VersionDetail)


async def test_detail_shows_a_version_read_back_to_back(tmp_path: Path) -> None:
    """avo run --sustained: a version whose score holds its ratios back to back at the power
    limit shows them in its detail, beside the interleaved geomean."""
    with branched_session(tmp_path / "read") as session:
        head = session.version("head")
        assert head.score is not None
        session.commit(session.read_files(head.id), author="tuner", message="read at power",
                       score=replace(head.score, sustained={"reference": 0.987}))
    async with browsing(tmp_path / "read") as (app, pilot):
        assert app.query_one(LineageTree).selected_version == "v8"
        await pilot.press("enter")
        assert isinstance(app.screen, VersionDetail)
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        summary = text_of(app, "#tab-summary Static")
        assert "back to back at the power limit: 0.987x reference" in summary
        assert "geomean 53.2 GFLOP/s" in summary


async def test_compare_two_versions(browsed: Path) -> None:
    async with browsing(browsed) as (app, pilot):
        await pilot.press("c")
        assert isinstance(app.screen, InputDialog)
        assert app.screen.query_one("Input").value == "v6"  # type: ignore[attr-defined]
        await pilot.press("ctrl+a", "ctrl+k", *"v1", "enter")
        assert isinstance(app.screen, CompareScreen)
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        text = text_of(app, "CompareScreen Static")
        assert "v7 against v1: +3/-3" in text
        assert "1.298x" in text  # v7 over v1 on the first configuration: 53.2/41.0


async def test_compare_with_an_unknown_version_is_a_clear_message(browsed: Path) -> None:
    async with browsing(browsed) as (app, pilot):
        await pilot.press("c", "ctrl+a", "ctrl+k", *"v99", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert any("v99" in n.message for n in app._notifications)


async def test_scores_help_and_full_log(browsed: Path) -> None:
    (browsed / "output.log").write_text("".join(f"line {n}\n" for n in range(5000)))
    async with browsing(browsed) as (app, pilot):
        await pilot.press("s")
        assert isinstance(app.screen, ScoresScreen)
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        text = text_of(app, "ScoresScreen #figures")
        assert "per configuration, v7" in text and "B4-S256" in text
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "roll the head back to the highlighted version" in text_of(app, "HelpScreen Static")
        await pilot.press("escape", "o")
        assert isinstance(app.screen, LogScreen)
        log = app.screen.query_one(FileLog)
        await until(pilot, lambda: log.line_count == 5000 and 4999 in log.cache)
        assert log.cache[4999] == "line 4999"
        assert log.scroll_offset.y == log.max_scroll_y  # opens at the end
        with (browsed / "output.log").open("a") as more:  # and follows it as it grows
            more.write("line 5000\n")
        await until(pilot, lambda: log.line_count == 5001 and log.cache.get(5000) == "line 5000")
        assert log.scroll_offset.y == log.max_scroll_y
        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)


async def test_the_log_screen_says_when_there_is_no_log_yet(browsed: Path) -> None:
    async with browsing(browsed) as (app, pilot):
        await pilot.press("o")
        log = app.screen.query_one(FileLog)
        await until(pilot, lambda: log.missing)
        assert "no output log yet" in log.render_line(0).text


async def test_every_control_is_in_the_command_palette(browsed: Path) -> None:
    async with browsing(browsed) as (app, _pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for action in ("Pause the run", "A one-off hint", "Edit the standing guidance",
                       "Roll the head back", "Edit the head in $VISUAL or $EDITOR", "Compare",
                       "The session's whole output log", "The score chart", "This help"):
            assert any(t.startswith(action) for t in titles), action


# -- records that do not read ----------------------------------------------------------------


async def test_unreadable_events_show_as_generic_lines(tmp_path: Path) -> None:
    """A writer's bug (a plan under the wrong key, an error without its message, a tool call
    with a number for a name) or a kind from a newer avo: the app opens, shows a generic line
    for each, and keeps the last plan that reads."""
    with branched_session(tmp_path / "hurt") as session:
        session.append_event("plan", txt="3. a plan under the wrong key")
        session.append_event("error", msg="no message")
        session.append_event("tool_call", tool=5)
        session.append_event("lane_started", lane=2)
    async with browsing(tmp_path / "hurt") as (app, pilot):
        await until(pilot, lambda: "lane_started" in output_text(app))  # the first poll
        output = output_text(app)
        assert "plan     (unreadable event: PlanPayload: no 'text')" in output
        assert "error    (unreadable event: ErrorPayload: no 'message')" in output
        assert "tool_call (unreadable event: ToolCallPayload: 'tool': 5 is not str)" in output
        assert "lane_started (unreadable event: a kind this avo does not know)" in output
        assert "1. try BLOCK 128" in text_of(app, "PlanPane")  # the last plan that reads
        with Session.open(tmp_path / "hurt") as writer:  # and one arriving while it is open
            writer.append_event("commit", version="v8")
        await until(pilot, lambda: "commit   (unreadable event" in output_text(app))
        assert app.is_running and app.query_one(LineageTree).selected_version == "v7"


async def test_the_bell_rings_on_news_from_afar_not_on_the_backlog(tmp_path: Path) -> None:
    branched_session(tmp_path / "news").close()  # its backlog holds commits and a best
    async with browsing(tmp_path / "news") as (app, pilot):
        rung: list[str] = []
        app.bell = lambda: rung.append("bell")  # type: ignore[method-assign]
        await settled(pilot, app)
        assert rung == []  # what happened before it opened is no news
        with Session.open(tmp_path / "news") as writer:
            writer.append_event("error", message="the API is down")
        await until(pilot, lambda: rung == ["bell"])


async def test_f_forks_a_new_session_from_the_highlighted_version(tmp_path: Path) -> None:
    branched_session(tmp_path / "old").close()
    async with browsing(tmp_path / "old") as (app, pilot):
        tree = app.query_one(LineageTree)
        tree.reveal("v2")
        await pilot.pause()
        await pilot.press("f")
        assert isinstance(app.screen, InputDialog)
        await pilot.press("ctrl+a", "ctrl+k", *"young", "enter")
        await until(pilot, lambda: notified(app, "session young made from old's v2"),
                    timeout=120)
    with Session.open(tmp_path / "old", writable=False) as old, \
            Session.open(tmp_path / "young", writable=False) as young:
        assert young.read_files("v0") == old.read_files("v2")
        assert young.meta["target"] == old.meta["target"]
        assert "forked from old:v2" in young.lineage.get("v0").message
    async with browsing(tmp_path / "old") as (app, pilot):  # a name taken: one line, no fork
        app.query_one(LineageTree).reveal("v2")
        await pilot.pause()
        await pilot.press("f", "ctrl+a", "ctrl+k", *"young", "enter")
        await until(pilot, lambda: any("cannot fork v2" in n.message
                                       for n in app._notifications), timeout=120)


async def test_a_damaged_run_state_does_not_stop_the_app(tmp_path: Path) -> None:
    with branched_session(tmp_path / "hurt") as session:
        wrong: dict[str, Any] = {  # every field of the wrong type, past set_state's types
            "status": ["stopped"], "step": "nine", "usage": "lots", "guidance": 5,
            "lanes": {"1": {"in_flight": {"base": 7}}}}
        session.set_state(announce=False, **wrong)
    async with browsing(tmp_path / "hurt") as (app, pilot):
        assert " unknown " in status_text(app) and "step 0 · 0m00s" in status_text(app)
        await pilot.press("m", "m", "m")  # the candidate in flight: none that reads
        await until(pilot, lambda: diff_title(app) == "no candidate is being evaluated now")
        with Session.open(tmp_path / "hurt") as writer:  # one that reads, on a missing base
            writer.set_state(announce=False, lanes={"1": {"in_flight": {
                "base": "v99", "author": "agent", "files": {}, "started": 1.0}}})
        await until(pilot, lambda: "cannot diff" in diff_title(app))
        await pilot.press("g")
        assert isinstance(app.screen, TextDialog)
        assert app.screen.query_one("TextArea").text == ""  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert app.is_running


# -- attached to a run in another process -----------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from avo_tui.store import Event, EventKind, Session
    session = Session.open(Path(sys.argv[1]))
    session.set_state(status="running")
    print("holding", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def headless(browsed: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process writing the session, as avo run --headless does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(browsed)], stdout=subprocess.PIPE,
                            text=True, env=os.environ | {"PYTHONPATH": os.getcwd()})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    yield proc
    proc.kill()
    proc.wait()


def inbox(directory: Path) -> list[str]:
    return [p.read_text() for p in sorted((directory / INBOX).glob("*.json"))]


@pytest.mark.parametrize(("key", "stays", "sent"),
                         [("d", True, []), ("s", True, ['{"command": "stop", "reason": '
                                                        '"stopped from the app"}'])])
async def test_quitting_an_attached_view_asks_detach_or_stop(
    browsed: Path, headless: subprocess.Popen[str], key: str, stays: bool, sent: list[str]
) -> None:
    async with browsing(browsed) as (app, pilot):
        assert "(attached)" in status_text(app) and " running " in status_text(app)
        await pilot.press("p")  # commands go to the run's inbox
        assert inbox(browsed) == ['{"command": "pause"}']
        (browsed / INBOX / os.listdir(browsed / INBOX)[0]).unlink()
        await pilot.press("q")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press(key)
        await until(pilot, lambda: not app.is_running)
    assert headless.poll() is None  # the run's process is untouched either way
    assert inbox(browsed) == sent


async def test_two_viewers_of_one_run_agree(session: Session, worker: Worker) -> None:
    second_version(session)
    viewer = make_app(RunClient(session.directory))
    async with running_app(session, worker) as (app, pilot), viewer.run_test(size=SIZE) as other:
        # keys sent before the viewer has read the session find no client (3 runs in 8 lost
        # the hint so, and waited out the minute for it)
        await until(other, lambda: viewer.opened)
        await other.press("h", *"try BLOCK_Q=16", "ctrl+s")  # through the inbox
        await until(pilot, lambda: "try BLOCK_Q=16" in output_text(app))
        await until(other, lambda: "try BLOCK_Q=16" in output_text(viewer))
        await pilot.press("p")
        await until(other, lambda: " paused " in status_text(viewer))
        app.query_one(LineageTree).reveal("v0")
        await pilot.pause()
        await pilot.press("r", "r")
        for view, driver in ((viewer, other), (app, pilot)):  # each sees it at its next poll

            def rolled_back(view: AvoApp = view) -> bool:
                return view.query_one(LineageTree).marks.head == "v0"

            await until(driver, rolled_back)
        assert app.query_one(LineageTree).marks == viewer.query_one(LineageTree).marks



async def test_a_session_that_stops_reading_is_reported_and_the_app_stays(browsed: Path) -> None:
    """The one handler for failed reads: a poll that fails (the session file damaged under the
    view) is shown in the status bar and the output, and the app goes on answering keys."""
    async with browsing(browsed) as (app, pilot):
        (browsed / "session.json").write_text("not json")  # a new base: the reader reloads it
        await until(pilot, lambda: app.engine_error is not None)
        assert "cannot read the session" in app.engine_error  # type: ignore[operator]
        assert "session.json" in app.engine_error  # type: ignore[operator]
        await until(pilot, lambda: " error " in status_text(app))
        assert "cannot read the session" in output_text(app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert app.is_running


# -- what the app promises about each command ---------------------------------------------------

# control -> (keys, how the app names it, the command that reaches the inbox)
CONTROLS = {
    "pause": (["p"], "pause", "Pause"),
    "hint": (["h", *"try BLOCK_Q=32", "ctrl+s"], "hint", "Hint"),
    "guidance": (["g", *"only BLOCK_Q", "ctrl+s"], "guidance", "Guidance"),
    "stop": (["x", "enter"], "stop", "Stop"),
}


@pytest.mark.parametrize("control", sorted(CONTROLS))
async def test_attached_to_a_live_run_each_control_is_sent_through_the_inbox(
    browsed: Path, headless: subprocess.Popen[str], control: str
) -> None:
    from avo_tui.engine.inbox import queued

    keys, what, command = CONTROLS[control]
    async with browsing(browsed) as (app, pilot):
        assert " running " in status_text(app)
        await pilot.press(*keys)
        await until(pilot, lambda: notified(app, f"{what} sent"))
        assert not notified(app, "queued")
    assert [type(q.command).__name__ for q in queued(browsed)] == [command]


@pytest.mark.parametrize("control", sorted(CONTROLS))
async def test_with_no_run_live_each_control_says_it_waits_for_the_next_run(
    browsed: Path, control: str
) -> None:
    """Detached (nobody runs the session): a command is queued for its next run and the app
    says so; a stop would end that run as it starts, so there is nothing to stop."""
    from avo_tui.engine.inbox import queued

    keys, what, command = CONTROLS[control]
    async with browsing(browsed) as (app, pilot):
        await pilot.press(*keys)
        if control == "stop":
            assert notified(app, "no run is live: there is nothing to stop")
        else:
            await until(pilot, lambda: notified(
                app, f"{what} queued: no run is live, so it applies when the session runs again"))
        assert not notified(app, f"{what} sent")
    assert [type(q.command).__name__ for q in queued(browsed)] == (
        [] if control == "stop" else [command])


async def test_enter_on_a_branch_point_opens_it_and_leaves_the_tree_as_it_was(
    browsed: Path,
) -> None:
    async with browsing(browsed) as (app, pilot):
        tree = app.query_one(LineageTree)
        tree.reveal("v2")  # v2 has a side branch (v5, v6)
        await settled(pilot, app)
        node = tree.cursor_node
        assert node is not None and node.data is not None and node.data.version == "v2"
        await pilot.press("space")
        assert node.is_expanded
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, VersionDetail))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, VersionDetail))
        assert node.is_expanded  # Enter opened the detail and folded nothing


def test_the_seeds_detail_shows_the_baselines_it_was_scored_against(
    session: Session,
) -> None:
    """v0 is scored before the session has attempts, so no evaluation log holds its
    baselines: the detail view takes them from the timings the session stores."""
    from avo_tui.views.scores import score_sheet

    sheet = score_sheet(session, session.version("v0"))
    assert sheet is not None and sheet.configs
    assert all(c.baselines.get("torch-sdpa-cpu") for c in sheet.configs)
    assert set(sheet.baselines) == {"torch-sdpa-cpu"}


async def test_on_attaching_an_old_error_is_shown_but_not_raised_as_news(
    browsed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from avo_tui.store import ErrorPayload

    real = time.time
    with Session.open(browsed) as session:
        monkeypatch.setattr(time, "time", lambda: real() - 18 * 60)
        session.append(ErrorPayload("an error of 18 minutes ago"))
        monkeypatch.setattr(time, "time", real)
        session.append(ErrorPayload("an error of just now"))
    async with browsing(browsed) as (app, pilot):
        await until(pilot, lambda: "an error of just now" in output_text(app))
        assert "an error of 18 minutes ago" in output_text(app)
        assert notified(app, "an error of just now")
        assert not notified(app, "an error of 18 minutes ago")


async def test_the_hint_and_guidance_dialogs_name_the_heads_knobs(browsed: Path) -> None:
    async with browsing(browsed) as (app, pilot):
        for key in ("h", "g"):
            await pilot.press(key)
            assert isinstance(app.screen, TextDialog)
            knobs = app.screen.query_one("#knobs", Static)

            def marked(knobs: Static = knobs) -> bool:
                return "(* now)" in str(knobs.render())

            await until(pilot, marked)
            shown = str(knobs.render())
            # v7, the head: BLOCK 64 of 16|32|64|128, UNROLL 4 (tests/tui_helpers.py)
            assert "BLOCK 16|32|64*|128" in shown and "UNROLL 1|2|4*" in shown, shown
            await pilot.press("escape")


async def test_quit_right_then_enter_stops_the_run_as_its_marked_button_says(
    session: Session, worker: Worker
) -> None:
    """Issue 87: the leave dialog focused Detach and bound no arrows, so Right then Enter
    detached a run the newcomer meant to stop. Right marks "Stop the run"; Enter does it."""
    async with running_app(session, worker) as (app, pilot):
        await until(pilot, lambda: session.state.get("status") == "running")
        await pilot.press("q")
        assert isinstance(app.screen, ChoiceDialog)
        assert "Detach is marked: Enter leaves the run going." in str(app.screen.question)
        await pilot.press("right", "enter")
        await until(pilot, lambda: session.state.get("status") == "stopped", timeout=120)
        assert not app.handing_off
        assert session.state["reason"] == "quit from the app"
