"""The Textual app: live panes over one session, and the controls that steer its run.

It reads the session through a :class:`~avo_tui.engine.client.RunClient` and changes nothing
itself: every control becomes an engine command, and what the screen shows afterwards comes
from the events the engine wrote. So a view attached to a headless run and a view whose
engine runs in this process behave the same, and two views of one run agree.

The event loop never waits on the disk: every read of the session runs on a worker thread
(:mod:`.reading`) and comes back as a message, and one handler reports the reads that fail.
A new session can open the app before it exists (``prepare``): the seed is scored on a thread
while the app shows how far it has got.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import io
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from rich.console import Console
from textual import events, on, work
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Tree
from textual.worker import Worker, WorkerState, get_current_worker

from ..engine import (
    Approve,
    Guidance,
    Hint,
    OperatorEdit,
    Pause,
    Progress,
    Reject,
    Resume,
    Rollback,
    Stop,
)
from ..engine.client import RunClient
from ..engine.commands import Command, too_long
from ..store import Lineage, RunState, StoreError, Suspect, Version
from .lane_controls import lane_choice, next_lane, scope
from .lane_facts import LaneFacts
from .reading import DiffRead, Job, Polled, SessionReader
from .screens.attempts import AttemptsScreen
from .screens.detail import CompareScreen, VersionDetail
from .screens.dialogs import (
    ChoiceDialog,
    InputDialog,
    KnobsRead,
    SuspectsDialog,
    TextDialog,
    knobs_line,
)
from .screens.info import HelpScreen, ScoresScreen
from .screens.log import LogScreen
from .widgets.chart import ScoreChart
from .widgets.diff import MODES, DiffPane
from .widgets.lanes import LanesStrip
from .widgets.lineage import Entry, LineageTree, Marks
from .widgets.output import OutputPane
from .widgets.plan import PlanPane
from .widgets.status import StatusBar, StatusFacts
from .widgets.suspects import SuspectBanner

P = ParamSpec("P")
T = TypeVar("T")
POLL_S = 0.25
NARROW = 120  # columns below which the chart leaves the main screen (key s shows it)
SHORT = 36  # rows below which the plan is kept short and the output gets the most room
LANE_ROWS, LANE_ROWS_SHORT = 8, 4  # lanes shown at once in the lanes strip


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


@dataclass
class ProgressReported(Message):
    """An evaluation phase reported by the in-process engine (not stored), with its lane."""

    progress: Progress


@dataclass
class RunEnded(Message):
    reason: str


@dataclass
class RunFailed(Message):
    error: BaseException


@dataclass
class Preparing(Message):
    """A line from the preparation (opening the session, scoring the seed)."""

    line: str


@dataclass
class Prepared(Message):
    client: RunClient


@dataclass
class PreparationFailed(Message):
    error: BaseException


@dataclass
class HeadFiles(Message):
    """The head's files, read for the editor."""

    head: str
    files: dict[str, str]


class AvoApp(App[None]):
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
        Binding("e", "edit", "edit", tooltip="edit the head in $VISUAL or $EDITOR (vi when "
                "neither is set); evaluated and committed if correct"),
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
        Binding("question_mark", "help", "help", key_display="?", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="quit (a headless run you attached to can go on)"),
    ]

    def __init__(self, client: RunClient | None = None, *, prepare: Preparation | None = None,
                 name: str = "") -> None:
        super().__init__()
        if (client is None) == (prepare is None):
            raise ValueError("give the app a client, or a preparation that makes one")
        self.client: RunClient | None = client
        self.reader: SessionReader | None = None
        self._prepare = prepare
        self.session_name = client.session.name if client else name
        self.preparation_error: BaseException | None = None
        self.diff_mode = MODES[0]
        self.quitting = 0  # quit presses while the in-process engine winds down
        self.engine_error: str | None = None
        self.opened = False  # the first poll has been shown
        self.lineage = Lineage()  # the view's own copy (reading.py)
        self.state = RunState()
        self.suspects: list[Suspect] = []
        self.live = False
        self.lanes: tuple[LaneFacts, ...] = ()  # in a run of several lanes, one per lane
        self.lane: int | None = None  # the lane the controls act on; None: every lane
        self._latest_plan: tuple[int | None, str] = (None, "")  # any lane's, and its lane
        # Each lane's latest progress or tool call, by lane (None: the lane of a run of one).
        self._activity: dict[int | None, str] = {}
        self._facts: StatusFacts | None = None
        self._poll_worker: Worker[None] | None = None  # the poll under way; one at a time
        self._poll_again = False
        self._points: list[tuple[str, float]] = []
        self._baselines: dict[str, float] = {}
        self._unit = ""
        self._started = time.monotonic()
        self._preparing_clock: Timer | None = None

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield LineageTree(id="lineage")
                yield ScoreChart(id="chart")
            with Vertical(id="right"):
                yield PlanPane(id="plan")
                yield DiffPane(id="diff")
                yield OutputPane(id="output")
        yield LanesStrip(id="lanes")
        yield SuspectBanner(id="suspects")
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = f"avo · {self.session_name}"
        for pane_id, title in (("lineage", "lineage"), ("chart", "score"), ("plan", "plan"),
                               ("diff", "diff"), ("output", "output")):
            self.query_one(f"#{pane_id}").border_title = title
        self.query_one(LineageTree).focus()
        self._apply_size(self.size.width, self.size.height)
        if self.client is not None:
            self._start(self.client)
        else:
            self._show_status("preparing")
            self.query_one(DiffPane).show("diff", "", empty="no session yet: it is being "
                                          "prepared (see the output)")
            self._preparing_clock = self.set_interval(1.0, self._tick_preparing)
            threading.Thread(target=self._run_preparation, name="avo-prepare",
                             daemon=True).start()

    def _start(self, client: RunClient) -> None:
        self.client = client
        self.reader = SessionReader(client)
        self.session_name = client.session.name
        self.title = f"avo · {self.session_name}"
        if client.engine is not None:
            client.engine.on_progress(self._post(ProgressReported))
            client.start_engine(self._post(RunEnded), self._post(RunFailed))
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def on_unmount(self) -> None:
        gc.unfreeze()  # the process goes on: a run's wind-down, other apps in tests

    def _post(self, message: Callable[[T], Message]) -> Callable[[T], None]:
        """A callback for another thread that posts ``message(value)`` to the app."""

        def post(value: T) -> None:
            self.post_message(message(value))

        return post

    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)  # self.size follows later

    def _apply_size(self, width: int, height: int) -> None:
        self.set_class(width < NARROW, "narrow")
        self.set_class(height < SHORT, "short")
        self.query_one(LineageTree).compact = width < NARROW
        self.query_one(LanesStrip).set_max_rows(LANE_ROWS_SHORT if height < SHORT else LANE_ROWS)

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
        self.query_one(OutputPane).write_line(message.line)
        self.query_one(PlanPane).set_progress(-1, message.line.strip())

    @while_shown
    def _tick_preparing(self) -> None:
        if self.client is None and self.preparation_error is None:
            self._show_status("preparing")
            self.query_one(DiffPane).show("diff", "", empty="no session yet: it is being "
                                          "prepared (see the output)")

    def on_prepared(self, message: Prepared) -> None:
        if self._preparing_clock is not None:
            self._preparing_clock.stop()
        if self.quitting:  # the user left while it was being prepared
            message.client.close()
            self.exit()
            return
        self._start(message.client)

    @while_shown
    def on_preparation_failed(self, message: PreparationFailed) -> None:
        self.preparation_error = message.error
        text = str(message.error) or repr(message.error)
        self.query_one(OutputPane).write_line(f"error    {text}")
        self.query_one(OutputPane).write_line("         q leaves the app")
        self.notify(text, severity="error", timeout=60)
        self._show_status("failed")

    def _show_status(self, state: str) -> None:
        self.query_one(StatusBar).show(StatusFacts(
            session=self.session_name, target="", operator="", state=state, step=0,
            seconds=time.monotonic() - self._started, best="-", tokens=0, cost_usd=0.0,
            device="", attached=False))

    def _client_ready(self) -> RunClient | None:
        """The client, or None (with a word to the user) while the session is prepared."""
        if self.client is None or not self.opened:
            self.notify("the session is still being prepared", severity="warning")
            return None
        return self.client

    # -- reading off the event loop -----------------------------------------------------------

    def _read(self, job: Job, to: MessagePump, droppable: bool = True) -> None:
        """Run ``job`` holding the reader's lock and post its message to ``to``, unless the
        read was superseded (exclusive workers cancel the one before them) and ``droppable``."""
        reader = self.reader
        assert reader is not None
        with reader.lock:
            if droppable and get_current_worker().is_cancelled:
                return
            message = job(reader)
        if not (droppable and get_current_worker().is_cancelled):
            to.post_message(message)

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def _read_poll(self, want_candidate: bool, lane: int | None) -> None:
        # never dropped: a poll moves the reader past the events it hands over
        self._read(lambda reader: reader.poll(want_candidate, lane), self, droppable=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="diff")
    def _read_diff(self, vid: str | None, mode: str, lane: int | None) -> None:
        self._read(lambda reader: reader.diff(vid, mode, lane), self)

    @work(thread=True, exclusive=True, exit_on_error=False, group="view")
    def read_for(self, to: MessagePump, job: Job) -> None:
        """A screen's read (a version's detail, the attempts ...): its message goes to it."""
        self._read(job, to)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log")
    def read_log(self, to: MessagePump, job: Callable[[], Message]) -> None:
        """The log screen's scan of output.log (a file of its own: no session lock)."""
        message = job()
        if not get_current_worker().is_cancelled:
            to.post_message(message)

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
        if worker.group == "poll":
            self._fail(f"cannot read the session: {text}")
        elif worker.group == "diff":
            with contextlib.suppress(NoMatches):
                self.query_one(DiffPane).show(f"cannot diff: {text}", "")
        else:
            self.notify(f"cannot read the session: {text}", severity="error", timeout=15)

    # -- following the run --------------------------------------------------------------------

    @while_shown
    def poll(self) -> None:
        """Start a read of what is new, unless one is still under way."""
        if self.reader is None or self._poll_worker is not None:
            return
        self._poll_worker = self._read_poll(self.diff_mode == "candidate", self.lane)

    @while_shown
    def on_polled(self, polled: Polled) -> None:
        self.state, self.suspects, self.live = polled.state, polled.suspects, polled.live
        output = self.query_one(OutputPane)
        if polled.plan is not None:
            self._latest_plan = (polled.plan_lane, polled.plan)
        self._activity.update(polled.tools)
        self._show_lanes(polled.lanes)
        for message in polled.errors:
            self.notify(message, severity="error", timeout=8)
        output.write_lines(polled.lines)
        if polled.lineage is not None:
            self.lineage = polled.lineage
        for version in polled.versions:
            self.lineage.add(version)
        if not self.has_class("laned") and (polled.lanes or any(
                v.lane is not None for v in (polled.lineage or polled.versions))):
            self.add_class("laned")  # lane marks in the lineage: its column is wider
        if polled.baselines is not None:
            self._baselines = polled.baselines
        if polled.points is not None:
            self._points = polled.points
        best = self.lineage.best()
        self._unit = best.score.unit if best and best.score else self._unit
        if polled.lineage_moved:
            self._show_lineage()
        self._facts = polled.facts
        self._show_facts()
        self.query_one(SuspectBanner).show(polled.suspects)
        if polled.candidate is not None and self.diff_mode == "candidate":
            self.query_one(DiffPane).show(*polled.candidate, (self.lane, "candidate"))
        if not self.opened:
            self.opened = True
            self._show_diff()
            self._freeze_what_is_loaded()
        self._poll_again = polled.more

    def _freeze_what_is_loaded(self) -> None:
        # The session, its lineage and the widgets now live as long as the view. Kept in the
        # collector's generations, each full collection walks them all, holding the GIL for
        # 30-90 ms at 7,000 versions: a key pressed then waits (benchmarks/tui_scale.py).
        # Frozen, they are left out; what becomes garbage among them is still freed by its
        # reference count, and unfreeze() on unmount hands them back.
        gc.collect()
        gc.freeze()

    def _show_lineage(self) -> None:
        tree = self.query_one(LineageTree)
        best = self.lineage.best()
        # the cursor follows the head, unless the user has moved it elsewhere to browse
        following = tree.selected_version in (None, tree.marks.head)
        tree.load(self.lineage, Marks(self.state.head, best.id if best else None),
                  reveal=self.state.head if following else None)
        self.query_one(ScoreChart).set_data(self._points, self._baselines, self._unit)

    def _show_facts(self) -> None:
        if self._facts is not None:
            facts = self._facts
            if self.engine_error:
                facts = dataclasses.replace(facts, state="error")
            if self.lanes:
                facts = dataclasses.replace(facts, controls=f"L{self.lane}" if self.lane
                                            else "all")
            self.query_one(StatusBar).show(facts)

    # -- lanes --------------------------------------------------------------------------------

    def _show_lanes(self, lanes: tuple[LaneFacts, ...]) -> None:
        self.lanes = lanes
        if self.lane is not None and self.lane > len(lanes):
            self.lane = None  # the run has fewer lanes now
        self._show_strip()
        self._show_plan()

    def _show_strip(self) -> None:
        activity = {lane: text for lane, text in self._activity.items() if lane is not None}
        self.query_one(LanesStrip).show(self.lanes, self.lane, activity)

    def _lane_facts(self, lane: int | None) -> LaneFacts | None:
        return self.lanes[lane - 1] if lane is not None and lane <= len(self.lanes) else None

    def _plan_lane(self) -> int | None:
        """The lane the plan pane is about: the selected one; with every lane selected, the
        one that wrote the latest plan (lane 1 before any has); None in a run of one lane."""
        if not self.lanes:
            return None
        return self.lane or self._latest_plan[0] or 1

    def _show_plan(self) -> None:
        """One lane's plan, and that lane's latest progress under it (see _plan_lane)."""
        lane = self._plan_lane()
        facts = self._lane_facts(self.lane)
        plan = self.query_one(PlanPane)
        guidance = (facts.guidance if facts is not None else None) or self.state.guidance
        plan.set_plan(facts.plan if facts is not None else self._latest_plan[1], guidance)
        plan.set_progress(self.state.step, self._activity.get(lane, ""))
        title = f"plan · L{lane}" if lane else "plan"
        if plan.border_title != title:
            plan.border_title = title

    def action_lane(self) -> None:
        if not self.lanes:
            self.notify("this run has one lane: the controls act on it")
            return
        self.lane = next_lane(self.lane, len(self.lanes))
        self._show_strip()
        self._show_plan()
        self._show_facts()
        if self.diff_mode == "candidate":
            self._show_diff()
        self.notify(f"p, h, g and x now act on {scope(self.lane, len(self.lanes))}")

    @while_shown
    def on_progress_reported(self, message: ProgressReported) -> None:
        progress = message.progress
        self._activity[progress.lane] = progress.text
        self._show_plan()
        if progress.lane is not None:
            self._show_strip()

    def on_run_ended(self, message: RunEnded) -> None:
        if self.quitting:
            self.exit()
            return
        self.poll()
        self.notify(f"the run ended: {message.reason}", timeout=10)

    @while_shown
    def on_run_failed(self, message: RunFailed) -> None:
        if self.quitting:
            self.exit()
            return
        self._fail(f"the run stopped on an error: {message.error!r}")

    def _fail(self, text: str) -> None:
        if text != self.engine_error:
            self.engine_error = text
            self.notify(text, severity="error", timeout=30)
            self.query_one(OutputPane).write_line(f"error    {text}")
            self._show_facts()

    # -- the diff pane ------------------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    @while_shown
    def _highlighted(self, event: Tree.NodeHighlighted[Entry]) -> None:
        if self.diff_mode != "candidate":
            self._show_diff()

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[Entry]) -> None:
        entry = event.node.data
        if entry is not None and entry.run:
            event.node.toggle()
        elif entry is not None:
            self.action_detail()

    def _show_diff(self) -> None:
        if self.reader is None:
            return
        vid = None if self.diff_mode == "candidate" else self.query_one(
            LineageTree).selected_version
        self._read_diff(vid, self.diff_mode, self.lane)

    @while_shown
    def on_diff_read(self, message: DiffRead) -> None:
        vid = self.query_one(LineageTree).selected_version
        wanted = (self.lane if self.diff_mode == "candidate" else vid, self.diff_mode)
        if message.key == wanted:  # else the cursor has moved on: a newer read is coming
            self.query_one(DiffPane).show(message.title, message.text, message.key)

    def action_diff_mode(self) -> None:
        modes = [*MODES, "candidate"]
        self.diff_mode = modes[(modes.index(self.diff_mode) + 1) % len(modes)]
        self.query_one(DiffPane).border_title = f"diff vs {self.diff_mode}"
        self._show_diff()

    # -- controls -----------------------------------------------------------------------------

    def _send(self, command: Command, what: str, effect: str = "") -> None:
        """Deliver ``command`` and say what became of it: ``what`` sent (and its ``effect``)
        when a live run takes it, else queued for the session's next run."""
        client = self._client_ready()
        if client is None:
            return
        if client.send(command):
            self.notify(f"{what} sent{effect}")
        else:
            self.notify(f"{what} queued: no run is live, so it applies when the session runs "
                        "again")

    def action_pause(self) -> None:
        lane, to = self.lane, lane_choice(self.lane, len(self.lanes))
        facts = self._lane_facts(lane)
        status = facts.status if facts is not None else self.state.status
        if status == "paused":
            self._send(Resume(lane=lane), f"resume{to}")
        else:
            self._send(Pause(lane=lane), f"pause{to}", ": it takes effect at the next safe point")

    def action_hint(self) -> None:
        lane, to = self.lane, lane_choice(self.lane, len(self.lanes))

        def sent(text: str | None) -> None:
            if text and (why := too_long("hint", text.strip())):
                self.notify(why, severity="error")
            elif text and text.strip():
                self._send(Hint(text.strip(), lane=lane), f"hint{to}",
                           ": the operator reads it at its next turn")

        self._with_knobs(TextDialog(f"Hint{to}", "A one-off suggestion for the next turn.",
                                    knobs=True), sent)

    def action_guidance(self) -> None:
        lane, to = self.lane, lane_choice(self.lane, len(self.lanes))
        facts = self._lane_facts(lane)
        current = (facts.guidance if facts is not None else self.state.guidance) or ""
        if facts is not None:
            note = ("Holds for this lane's every step until changed, over the session's; "
                    "empty: the session's again.")
        elif self.lanes:
            note = ("Holds for every lane's steps until changed (the lanes' own guidance is "
                    "cleared); empty clears it.")
        else:
            note = "Holds for every step until changed; empty clears it."

        def sent(text: str | None) -> None:
            if text is not None and (why := too_long("guidance", text.strip())):
                self.notify(why, severity="error")
            elif text is not None and text.strip() != current:
                self._send(Guidance(text.strip() or None, lane=lane),
                           ("guidance" if text.strip() else "clearing of the guidance") + to)

        self._with_knobs(TextDialog(f"Standing guidance{to}", note, current, knobs=True), sent)

    def _with_knobs(self, dialog: TextDialog, sent: Callable[[str | None], None]) -> None:
        """Open ``dialog`` at once (keys typed next go to it) and name the head's knobs in it
        when they are read."""
        self.push_screen(dialog, sent)
        if self.reader is not None:
            self.read_for(dialog, lambda reader: KnobsRead(knobs_line(
                reader.session.read_files(reader.session.head))))

    def action_stop(self) -> None:
        lane = self.lane
        if lane is not None:
            question = (f"Stop lane {lane}? It ends at its next safe point; the other lanes go "
                        "on.")
        else:
            question = ("Stop the run at its next safe point? The app stays open for browsing "
                        "(q leaves).")

        client = self._client_ready()
        if client is None:
            return
        if not client.live():  # a stop queued for the next run would end it as it starts
            self.notify("no run is live: there is nothing to stop")
            return

        def answer(choice: str | None) -> None:
            if choice == "stop":
                self._send(Stop("stopped from the app", lane=lane),
                           f"stop{lane_choice(lane, len(self.lanes))}",
                           ": it takes effect at the next safe point")

        self.push_screen(ChoiceDialog(question, {"stop": f"Stop {scope(lane, 1)}"}), answer)

    def _highlighted_version(self) -> Version | None:
        vid = self.query_one(LineageTree).selected_version
        if vid is None or vid not in self.lineage:
            self.notify("highlight a version in the lineage first", severity="warning")
            return None
        return self.lineage.get(vid)

    def action_rollback(self) -> None:
        version = self._highlighted_version()
        if version is None:
            return
        head = self.state.head
        if version.id == head:
            self.notify(f"{version.id} is already the head")
            return

        def answer(choice: str | None) -> None:
            if choice == "rollback":
                self._send(Rollback(version.id), f"rollback to {version.id}")

        self.push_screen(ChoiceDialog(
            f"Roll the head back from {head} to {version.id}? Nothing is deleted; the next "
            "versions branch from it.", {"rollback": "Roll back"}), answer)

    def action_edit(self) -> None:
        if self._client_ready() is None:
            return
        self.read_for(self, lambda reader: HeadFiles(
            reader.session.head.id, reader.session.read_files(reader.session.head)))

    def on_head_files(self, message: HeadFiles) -> None:
        head, files = message.head, message.files
        folder = Path(tempfile.mkdtemp(prefix=f"avo-edit-{self.session_name}-"))
        paths = [folder / name for name in files]
        for path, text in zip(paths, files.values(), strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        try:
            try:
                with self.suspend():
                    code = subprocess.call([*editor, *map(str, paths)])
            except SuspendNotSupported:  # no terminal to hand over (tests, web)
                code = subprocess.call([*editor, *map(str, paths)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except OSError as error:
            self.notify(f"cannot start the editor {editor[0]}: {error.strerror}; set $EDITOR",
                        severity="error")
            return
        edited = {name: path.read_text() for name, path in zip(files, paths, strict=True)}
        if code != 0:
            self.notify(f"the editor exited with {code}; nothing sent", severity="warning")
        elif edited == files:
            self.notify("no change; nothing sent")
        else:
            self._send(OperatorEdit(edited, f"edited by hand on top of {head}"), "your edit",
                       ": it is evaluated, and committed if correct")
        self.refresh()

    def action_suspects(self) -> None:
        if not self.suspects:
            self.notify("no suspect is waiting for review")
            return

        def decided(answer: str | None) -> None:
            action, _, ref = (answer or "").partition(" ")
            if action == "approve":
                self._send(Approve(ref), f"approval of {ref}",
                           ": it is committed at the next safe point")
            elif action == "reject":
                self._send(Reject(ref), f"rejection of {ref}")

        self.push_screen(SuspectsDialog(self.suspects), decided)

    def action_detail(self) -> None:
        version = self._highlighted_version()
        if version is not None:
            self.push_screen(VersionDetail(version))

    def action_compare(self) -> None:
        version = self._highlighted_version()
        if version is None:
            return
        best = self.lineage.best()
        default = version.parent if best is None or best.id == version.id else best.id

        def chosen(ref: str | None) -> None:
            if not ref:
                return
            try:
                other = self._resolve(ref)
            except StoreError as error:
                self.notify(str(error), severity="error")
                return
            self.push_screen(CompareScreen(other, version))

        self.push_screen(InputDialog(f"Compare {version.id} with (a version id, best or head)",
                                     default or ""), chosen)

    def _resolve(self, ref: str) -> Version:
        """A version of the view's lineage by id, ``head`` or ``best``."""
        if ref == "best" and (best := self.lineage.best()) is not None:
            return best
        return self.lineage.get(self.state.head if ref == "head" else ref)

    def action_attempts(self) -> None:
        if self._client_ready() is not None:
            self.push_screen(AttemptsScreen())

    def action_scores(self) -> None:
        if self._client_ready() is None:
            return
        vid = self.query_one(LineageTree).selected_version
        version = self.lineage.get(vid) if vid and vid in self.lineage else self.lineage.best()
        self.push_screen(ScoresScreen(self._points, version))

    def action_full_log(self) -> None:
        client = self._client_ready()
        if client is not None:
            self.push_screen(LogScreen(client.output_log))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(list(self.BINDINGS)))

    async def action_quit(self) -> None:
        client = self.client
        if client is None:  # still preparing: leave now, the session is not made yet
            self.quitting += 1
            self.exit()
            return
        if client.engine is None:
            if not self.live:
                self.exit()
                return

            def answer(choice: str | None) -> None:
                if choice == "stop":
                    client.send(Stop("stopped from the app"))
                if choice in ("stop", "detach"):
                    self.exit()

            self.push_screen(ChoiceDialog(
                "Leave this view. The run is headless: detach and let it go on, or stop it?",
                {"detach": "Detach", "stop": "Stop the run"}), answer)
            return
        self.quitting += 1
        if not client.live():
            self.exit()
        elif self.quitting == 1:  # to this engine alone: an ended one must not stop the next run
            client.engine.submit(Stop("quit from the app"))
            self.notify(f"stopping at the next safe point{self._waiting_on()}; q again to cut "
                        "the evaluation short", timeout=30)
        elif self.quitting == 2:
            client.abandon_evaluation()
            self.notify("cutting the evaluation short; q again to leave at once", timeout=30)
        else:
            self.exit()

    def _waiting_on(self) -> str:
        """What a stop waits for: the evaluation in flight, its candidate's base and how long
        it has run, and what it is doing now; "" when nothing is in flight."""
        flight = self.state.in_flight
        if flight is None:
            return ""
        took = max(0.0, time.time() - flight.started)
        doing = self._activity.get(None, "")
        return (f", after the evaluation in flight (a candidate on {flight.base}, "
                f"{took:.0f} s so far{': ' + doing if doing else ''})")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":
                key = binding.key_display or binding.key
                title = binding.tooltip[:1].upper() + binding.tooltip[1:]  # "$EDITOR" stays
                yield SystemCommand(title, f"key {key}",
                                    self._action_callback(binding.action))

    def _action_callback(self, action: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.run_action(action)

        return run


def make_app(client: RunClient) -> AvoApp:
    """The app over a session: shared by the CLI and the tests."""
    return AvoApp(client)


def make_preparing_app(name: str, prepare: Preparation) -> AvoApp:
    """The app shown at once while ``prepare`` opens or creates the session ``name``."""
    return AvoApp(prepare=prepare, name=name)
