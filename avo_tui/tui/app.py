"""The Textual app: live panes over one session, and the controls that steer its run.

It reads the session through a :class:`~avo_tui.engine.client.RunClient` and changes nothing
itself: every control becomes an engine command (:mod:`.controls`), and what the screen shows
afterwards comes from the events the engine wrote. So a view attached to a headless run and a
view whose engine runs in this process behave the same, and two views of one run agree.

The event loop never waits on the disk: every read of the session runs on a worker thread
(:mod:`.reads`, :mod:`.reading`) and comes back as a message. The handlers only set the app's
reactive attributes; the panes are bound to them (``data_bind``) and redraw when, and only
when, what they show has changed. A new session can open the app before it exists
(``prepare``): the seed is scored on a thread while the app shows how far it has got.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import io
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from rich.console import Console
from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Tree
from textual.worker import Worker, WorkerState

from ..engine.client import RunClient
from ..store import StoreError
from ..views.ratios import RatioColumn
from .controls import Controls
from .diff_cache import DiffCache
from .lane_controls import next_lane, scope
from .messages import (
    PreparationFailed,
    Prepared,
    Preparing,
    ProgressReported,
    RunEnded,
    RunFailed,
)
from .read_only import STEERING
from .reading import DiffRead, Polled, SessionReader
from .reads import DIFF, POLL, Reads
from .run_clock import TICKING, RunClock
from .screens.info import HelpScreen
from .widgets.chart import ChartData, ScoreChart
from .widgets.diff import MODES, DiffContent, DiffPane, compared_with
from .widgets.lanes import LanesStrip
from .widgets.lineage import Entry, LineageTree, LineageView, Marks
from .widgets.output import OutputPane, WholeLine
from .widgets.plan import PlanPane
from .widgets.status import StatusBar, StatusFacts
from .widgets.suspects import SuspectBanner

P = ParamSpec("P")
W = TypeVar("W", bound=Widget)
POLL_S = 0.25
CLOCK_S = 1.0  # the status bar's running time moves this often while a run is live
NARROW = 120  # columns below which the chart leaves the main screen (key s shows it)
SHORT = 36  # rows below which the plan is kept short and the output gets the most room
ONE_LINE = 30  # rows below which the output pane starts with one line per event (key w)
# What the app says as the run it holds starts: it goes on by itself, and how to stop it.
RUN_STARTED = ("the run goes on step after step until a budget or a stop: x stops it, p pauses "
               "it, q leaves (asking whether to detach or stop); ? lists the keys")
FOCUS_HINTS = {"lineage": "↑↓ versions · tab: diff",
               "diff": "↑↓ scroll the diff · esc: lineage",
               "output": "↑↓ scroll the output · esc: lineage"}
PREPARING_DIFF = DiffContent("diff", empty="no session yet: it is being prepared (see the "
                             "output)")


Preparation = Callable[[Console], RunClient]
"""Opens (or creates, scoring the seed) the session on a thread, printing how far it has got
to the console it is given (its lines show in the app); returns the client the app watches."""


class _Lines(io.StringIO):
    """A console's file that hands each complete line to ``report``."""

    def __init__(self, report: Callable[[str], None]) -> None:
        super().__init__()
        self.report = report
        self.partial = ""

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.report(line)
        return len(text)


def while_shown(handler: Callable[P, None]) -> Callable[P, None]:
    """Ignore a timer tick or message that arrives while the app is closing and its widgets
    are already gone (the engine thread and the poll timer do not know it is closing)."""

    @functools.wraps(handler)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        with contextlib.suppress(NoMatches):
            handler(*args, **kwargs)

    return guarded


class AvoApp(Controls):
    CSS_PATH = "app.tcss"
    TITLE = "avo"
    BINDINGS = [
        Binding("p", "pause", "pause", tooltip="pause the run, or resume it"),
        Binding("h", "hint", "hint", tooltip="a one-off hint for the operator's next turn"),
        Binding("g", "guidance", "guide", tooltip="edit the standing guidance"),
        Binding("x", "stop", "stop", show=False, tooltip="stop the run, or the selected lane "
                "alone, at its next safe point, after a confirmation"),
        Binding("l", "lane", "lane", show=False, tooltip="in a run of several lanes, the lane "
                "that p, h, g and x act on: every lane, then each in turn"),
        Binding("r", "rollback", "roll", tooltip="roll the head back to the highlighted "
                "version; the next versions branch from it"),
        Binding("R", "restart", "again", show=False, tooltip="start the run again once it has "
                "stopped or finished, as avo run resumes it: in this app's process, or, "
                "attached, in a headless process of its own; after a confirmation"),
        Binding("f", "fork", "fork", show=False, tooltip="a new session from the highlighted "
                "version: its files become the new session's seed (avo run --session NAME "
                "then runs it)"),
        Binding("e", "edit", "edit", show=False, tooltip="edit the head in $VISUAL or $EDITOR "
                "(vi when neither is set); evaluated and committed if correct"),
        Binding("a", "suspects", "review", show=False, tooltip="review the suspects: results "
                "flagged as implausible, held until you approve or reject them"),
        Binding("d", "detail", "info", show=False, tooltip="the highlighted version (or enter): "
                "message, scores, diff, agent transcript"),
        Binding("c", "compare", "cmp", show=False, tooltip="compare the highlighted version with "
                "another"),
        Binding("m", "diff_mode", "diff", tooltip="diff against the parent, the best, the "
                "head, or show the candidate in flight"),
        Binding("t", "attempts", "tries", tooltip="every attempt, committed or not (f: only "
                "the failed ones), each with its log and diff"),
        Binding("s", "scores", "chart", tooltip="the score chart and per-configuration "
                "figures"),
        Binding("o", "full_log", "log", tooltip="the session's whole output log"),
        Binding("w", "one_line", "wrap", tooltip="the output pane: one line per event (cut at "
                "a word), or each event wrapped whole"),
        Binding("escape", "to_lineage", "lineage", show=False, tooltip="back to the lineage: "
                "up and down move through the versions again"),
        Binding("question_mark", "help", "help", key_display="?", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="leave: detach (the run goes on) or stop the run"),
    ]

    def __init__(self, client: RunClient | None = None, *, prepare: Preparation | None = None,
                 name: str = "", read_only: bool = False) -> None:
        if (client is None) == (prepare is None):
            raise ValueError("give the app a client, or a preparation that makes one")
        super().__init__(client, name)
        self.read_only = read_only  # no key that steers the run (read_only.py)
        self._prepare = prepare
        self.preparation_error: BaseException | None = None
        self._poll_worker: Worker[None] | None = None  # the poll under way; one at a time
        self._poll_again = False
        self._started = time.monotonic()
        self._preparing_clock: Timer | None = None
        self._one_line_chosen = False  # the user pressed w: the terminal's size no longer says
        self._read_facts: StatusFacts | None = None  # as the last poll read them
        self._run_clock = RunClock()
        self._diffs = DiffCache()  # the diffs shown, by version, mode and what against

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield titled(LineageTree(id="lineage"), "lineage").data_bind(
                    view=AvoApp.lineage_view, compact=AvoApp.narrow)
                yield titled(ScoreChart(id="chart"), "score").data_bind(data=AvoApp.chart)
            with Vertical(id="right"):
                yield titled(PlanPane(id="plan"), "plan").data_bind(view=AvoApp.plan)
                yield titled(DiffPane(id="diff"), "diff").data_bind(
                    content=AvoApp.diff, mode=AvoApp.diff_mode)
                yield titled(OutputPane(id="output"), "output").data_bind(
                    one_line=AvoApp.one_line)
        yield LanesStrip(id="lanes").data_bind(
            lanes=AvoApp.lanes, selected=AvoApp.lane, activity=AvoApp.lane_activity,
            max_rows=AvoApp.lane_rows)
        yield SuspectBanner(id="suspects").data_bind(suspects=AvoApp.suspects)
        yield StatusBar(id="status").data_bind(facts=AvoApp.status)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals: Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.on_hang_up)
        self.title = self._title()
        self.query_one(LineageTree).focus()
        self._apply_size(self.size.width, self.size.height)
        if self.client is not None:
            self._start(self.client)
        else:
            self._show_preparing("preparing")
            self._preparing_clock = self.set_interval(1.0, self._tick_preparing)
            threading.Thread(target=self._run_preparation, name="avo-prepare",
                             daemon=True).start()

    def _start(self, client: RunClient) -> None:
        self.client = client
        self.reads = Reads(self, SessionReader(client))
        self.prepared = True
        self.session_name = client.session.name
        self.title = self._title()
        if client.engine is not None:
            self.run_engine(client)
            self.query_one(OutputPane).write_line(WholeLine(RUN_STARTED))
            self.notify(f"this run goes on without this screen: q detaches it (or stops it), and "
                        f"so does a dropped connection; come back with avo attach "
                        f"{self.session_name}", timeout=12)
        self.poll()
        self.set_interval(POLL_S, self.poll)
        self.set_interval(CLOCK_S, self._show_facts)

    def _title(self) -> str:
        return f"avo · {self.session_name}" + (" · read-only" if self.read_only else "")

    def on_unmount(self) -> None:
        gc.unfreeze()  # the process goes on: a run's wind-down, other apps in tests

    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)  # self.size follows later

    def _apply_size(self, width: int, height: int) -> None:
        self.narrow, self.short = width < NARROW, height < SHORT
        if not self._one_line_chosen:
            self.one_line = height < ONE_LINE
        self.set_class(self.narrow, "narrow")
        self.set_class(self.short, "short")

    # -- preparing a new session --------------------------------------------------------------

    def _run_preparation(self) -> None:
        """On a daemon thread, as the engine: a quit must not wait for the seed's scoring."""
        assert self._prepare is not None
        lines = Console(file=_Lines(self._post(Preparing)), width=200, color_system=None,
                        highlight=False, soft_wrap=True)
        try:
            client = self._prepare(lines)
        except BaseException as error:  # shown in the app, and raised again when it ends
            self.post_message(PreparationFailed(error))
        else:
            self.post_message(Prepared(client))

    @while_shown
    def on_preparing(self, message: Preparing) -> None:
        self.query_one(OutputPane).write_line(WholeLine(message.line))
        self.activity = {None: message.line.strip()}

    def _tick_preparing(self) -> None:
        if self.client is None and self.preparation_error is None:
            self._show_preparing("preparing")

    def on_prepared(self, message: Prepared) -> None:
        if self._preparing_clock is not None:
            self._preparing_clock.stop()
        if self.quitting:  # the user left while it was being prepared
            message.client.close()
            self.exit()
            return
        self._start(message.client)
        self.activity = {}

    @while_shown
    def on_preparation_failed(self, message: PreparationFailed) -> None:
        self.preparation_error = message.error
        text = str(message.error) or repr(message.error)
        self.query_one(OutputPane).write_lines([f"error    {text}", "         q leaves the app"])
        self.notify(text, severity="error", timeout=60)
        self._show_preparing("failed")

    def _show_preparing(self, state: str) -> None:
        self.facts = StatusFacts(
            session=self.session_name, target="", operator="", state=state, step=0,
            seconds=time.monotonic() - self._started, best="-", tokens=0, cost_usd=0.0,
            device="", attached=False)
        self.diff = PREPARING_DIFF

    # -- following the run --------------------------------------------------------------------

    def poll(self) -> None:
        """Start a read of what is new, unless one is still under way."""
        if self.reads is None or self._poll_worker is not None or not self.is_running:
            return
        self._poll_worker = self.reads.poll(self.diff_mode == "candidate", self.lane)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed read is reported: the app stays up, and reads go on."""
        worker = event.worker
        if worker is self._poll_worker and worker.is_finished:
            self._poll_worker = None
            if self._poll_again:  # the last batch was full: more is waiting
                self._poll_again = False
                self.poll()
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        text = str(error) if isinstance(error, StoreError) else repr(error)
        if worker.group == POLL:
            self.fail(f"cannot read the session: {text}")
        elif worker.group == DIFF:
            self.diff = DiffContent(f"cannot diff: {text}")
        else:
            self.notify(f"cannot read the session: {text}", severity="error", timeout=15)

    @while_shown
    def on_polled(self, polled: Polled) -> None:
        self.state, self.live = polled.state, polled.live
        self.suspects = tuple(polled.suspects)
        if polled.plan is not None:
            self.latest_plan = (polled.plan_lane, polled.plan)
        if polled.tools:
            self.activity = {**self.activity, **polled.tools}
        self.lanes = polled.lanes
        for message in polled.errors:
            self.notify(message, severity="error", timeout=8)
        self.query_one(OutputPane).write_lines(polled.lines)
        if polled.alerts:  # a new best, a held result, a stop, a stall, an error
            self.bell()
        if polled.lineage is not None:
            self.lineage = polled.lineage
        for version in polled.versions:
            self.lineage.add(version)
        if not self.has_class("laned") and (polled.lanes or any(
                v.lane is not None for v in (polled.lineage or polled.versions))):
            self.add_class("laned")  # lane marks in the lineage: its column is wider
        best = self.lineage.best()
        unit = best.score.unit if best and best.score else self.chart.unit
        if polled.lineage_moved or polled.points is not None or polled.baselines is not None:
            self.chart = ChartData(
                tuple(polled.points) if polled.points is not None else self.chart.points,
                polled.baselines if polled.baselines is not None else self.chart.baselines,
                unit)
        if polled.lineage_moved or polled.ratios is not None:  # the ratios: new baselines
            view = self.lineage_view
            self.lineage_view = LineageView(
                self.lineage, Marks(self.state.head, best.id if best else None),
                view.revision + 1 if view else 0,
                polled.ratios or (view.ratios if view else RatioColumn()))
        self._read_facts = polled.facts
        self._show_facts()
        if polled.candidate is not None and self.diff_mode == "candidate":
            self.diff = DiffContent(*polled.candidate, (self.lane, "candidate"))
        if not self.opened:
            self.opened = True
            self.show_diff()
            self._freeze_what_is_loaded()
        self._poll_again = polled.more

    def _show_facts(self) -> None:
        """The facts last read, with the running time counted on while the run is live."""
        read = self._read_facts
        if read is not None:
            ticking = bool(self.live) and read.state in TICKING
            seconds = self._run_clock.seconds(read.seconds, read.counted_at, ticking, time.time())
            self.facts = dataclasses.replace(read, seconds=seconds)

    def _freeze_what_is_loaded(self) -> None:
        # The session, its lineage and the widgets now live as long as the view. Kept in the
        # collector's generations, each full collection walks them all, holding the GIL for
        # 30-90 ms at 7,000 versions: a key pressed then waits (benchmarks/tui_scale.py).
        # Frozen, they are left out; what becomes garbage among them is still freed by its
        # reference count, and unfreeze() on unmount hands them back.
        gc.collect()
        gc.freeze()

    @while_shown
    def on_progress_reported(self, message: ProgressReported) -> None:
        progress = message.progress
        self.activity = {**self.activity, progress.lane: progress.text}

    def on_run_ended(self, message: RunEnded) -> None:
        if self.quitting:
            self.exit()
            return
        self.poll()
        self.notify(f"the run ended: {message.reason}", timeout=10)
        self.report_untaken()

    @while_shown
    def on_run_failed(self, message: RunFailed) -> None:
        if self.quitting:
            self.exit()
            return
        self.fail(f"the run stopped on an error: {message.error!r}")
        self.report_untaken()

    def fail(self, text: str) -> None:
        if text != self.engine_error:
            self.engine_error = text
            self.notify(text, severity="error", timeout=30)
            self.query_one(OutputPane).write_line(f"error    {text}")

    # -- focus and the output's form --------------------------------------------------------

    @on(events.DescendantFocus)
    @on(events.DescendantBlur)
    def _focus_moved(self) -> None:
        """The focused pane says what its keys do, in its bottom border (and its border is
        heavy, app.tcss): after tab, up and down scroll that pane, not the lineage."""
        if not self.screen_stack:  # the app is closing: self.focused would raise
            return
        focused = self.focused
        for pane, hint in FOCUS_HINTS.items():
            with contextlib.suppress(NoMatches):
                widget = self.query_one(f"#{pane}")
                widget.border_subtitle = hint if widget is focused else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main screen's own keys are left out of other screens (and their footers); a
        read-only view has no key that steers (hidden, and refused if called)."""
        if self.read_only and action in STEERING:
            return False
        stack = self.screen_stack  # empty while the app closes: self.screen would raise
        if action in ("one_line", "to_lineage") and (not stack or stack[-1] is not stack[0]):
            return False
        return super().check_action(action, parameters)

    def shown_bindings(self) -> list[BindingType]:
        """The keys this view has: in a read-only one, none that steers."""
        return [b for b in self.BINDINGS
                if not (self.read_only and isinstance(b, Binding) and b.action in STEERING)]

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.shown_bindings(), steers=not self.read_only))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette's lines (controls.py), less the steering keys when read-only."""
        shown = {f"key {b.key_display or b.key}" for b in self.shown_bindings()
                 if isinstance(b, Binding)}
        steering = {f"key {b.key_display or b.key}" for b in self.BINDINGS
                    if isinstance(b, Binding)} - shown
        return [c for c in super().get_system_commands(screen) if c.help not in steering]

    async def action_quit(self) -> None:
        if self.read_only:  # it only leaves: stopping the run is a control
            self.exit()
            return
        await super().action_quit()

    def action_to_lineage(self) -> None:
        self.query_one(LineageTree).focus()

    def action_one_line(self) -> None:
        self._one_line_chosen = True
        self.one_line = not self.one_line

    # -- the diff pane ------------------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[Entry]) -> None:
        if self.diff_mode != "candidate":
            self.show_diff()

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[Entry]) -> None:
        entry = event.node.data
        if entry is not None and entry.run:
            event.node.toggle()
        elif entry is not None:
            self.action_detail()

    @while_shown
    def show_diff(self) -> None:
        if self.reads is None:
            return
        mode = self.diff_mode
        vid = None if mode == "candidate" else self.selected_version()
        if vid is not None and vid in self.lineage:  # shown before: at once (diff_cache.py)
            best = self.lineage.best()
            against = compared_with(self.lineage.get(vid), mode, self.state.head,
                                    best.id if best else None)
            if (shown := self._diffs.get(vid, mode, against)) is not None:
                self.reads.cancel_diff()  # a read under way for the last key is stale
                self.diff = shown
                return
        self.reads.diff(vid, mode, self.lane)

    @while_shown
    def on_diff_read(self, message: DiffRead) -> None:
        vid = self.selected_version()
        wanted = (self.lane if self.diff_mode == "candidate" else vid, self.diff_mode)
        if message.key == wanted:  # else the cursor has moved on: a newer read is coming
            self.diff = DiffContent(message.title, message.text, message.key)
            self._diffs.keep(message, self.diff)

    def action_diff_mode(self) -> None:
        modes = [*MODES, "candidate"]
        self.diff_mode = modes[(modes.index(self.diff_mode) + 1) % len(modes)]
        self.show_diff()

    # -- lanes --------------------------------------------------------------------------------

    def action_lane(self) -> None:
        if not self.lanes:
            self.notify("this run has one lane: the controls act on it")
            return
        self.lane = next_lane(self.lane, len(self.lanes))
        if self.diff_mode == "candidate":
            self.show_diff()
        self.notify(f"p, h, g and x now act on {scope(self.lane, len(self.lanes))}")


def titled(widget: W, title: str) -> W:
    """``widget`` with its border's title."""
    widget.border_title = title
    return widget


def make_app(client: RunClient, read_only: bool = False) -> AvoApp:
    """The app over a session: shared by the CLI and the tests."""
    return AvoApp(client, read_only=read_only)


def make_preparing_app(name: str, prepare: Preparation) -> AvoApp:
    """The app shown at once while ``prepare`` opens or creates the session ``name``."""
    return AvoApp(prepare=prepare, name=name)
