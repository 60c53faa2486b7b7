"""The Textual app: live panes over one session, and the controls that steer its run.

It reads the session through a :class:`~avo_tui.engine.client.RunClient` and changes nothing
itself: every control becomes an engine command, and what the screen shows afterwards comes
from the events the engine wrote. So a view attached to a headless run and a view whose
engine runs in this process behave the same, and two views of one run agree.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import shlex
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from textual import events, on
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Tree

from ..engine import (
    Approve,
    Guidance,
    Hint,
    OperatorEdit,
    Pause,
    Reject,
    Resume,
    Rollback,
    Stop,
)
from ..engine.client import RunClient
from ..engine.commands import Command
from ..engine.event_lines import payload_line, plain
from ..store import (
    ErrorPayload,
    Event,
    EventKind,
    PlanPayload,
    StoreError,
    ToolCallPayload,
    Version,
    payload_of,
)
from .scores import score_sheet
from .screens.detail import CompareScreen, VersionDetail
from .screens.dialogs import ChoiceDialog, InputDialog, SuspectsDialog, TextDialog
from .screens.info import HelpScreen, ScoresScreen
from .screens.log import LogScreen
from .widgets.chart import ScoreChart
from .widgets.diff import MODES, DiffPane, candidate_diff, version_diff
from .widgets.lineage import Entry, LineageTree, Marks
from .widgets.output import OutputPane
from .widgets.plan import PlanPane
from .widgets.status import StatusBar, StatusFacts
from .widgets.suspects import SuspectBanner

P = ParamSpec("P")
T = TypeVar("T")
POLL_S = 0.25
BACKLOG_EVENTS = 400  # events shown in the output pane when a session opens
PLAN_LOOKBACK = 5000  # how far back the opening view looks for the current plan
CHART_POINTS = 500
NARROW = 120  # columns below which the chart leaves the main screen (key s shows it)
GC_YOUNG = 20_000  # allocations between young collections (Python's default: 700)


def while_shown(handler: Callable[P, None]) -> Callable[P, None]:
    """Ignore a timer tick or message that arrives while the app is closing and its widgets
    are already gone (the engine thread and the poll timer do not know it is closing)."""

    @functools.wraps(handler)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        with contextlib.suppress(NoMatches):
            handler(*args, **kwargs)

    return guarded


@dataclass
class Progress(Message):
    """An evaluation phase reported by the in-process engine (not stored)."""

    text: str


@dataclass
class RunEnded(Message):
    reason: str


@dataclass
class RunFailed(Message):
    error: BaseException


class AvoApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "avo"
    BINDINGS = [
        Binding("p", "pause", "pause", tooltip="pause the run, or resume it"),
        Binding("h", "hint", "hint", tooltip="a one-off hint for the operator's next turn"),
        Binding("g", "guidance", "guide", tooltip="edit the standing guidance"),
        Binding("r", "rollback", "roll", tooltip="roll the head back to the highlighted "
                "version; the next versions branch from it"),
        Binding("e", "edit", "edit", tooltip="edit the head in $EDITOR; evaluated and "
                "committed if correct"),
        Binding("a", "suspects", "review", show=False, tooltip="review the suspects: results "
                "flagged as implausible, held until you approve or reject them"),
        Binding("d", "detail", "info", show=False, tooltip="the highlighted version (or enter): "
                "message, scores, diff, agent transcript"),
        Binding("c", "compare", "cmp", tooltip="compare the highlighted version with "
                "another"),
        Binding("m", "diff_mode", "diff", tooltip="diff against the parent, the best, the "
                "head, or show the candidate in flight"),
        Binding("s", "scores", "chart", tooltip="the score chart and per-configuration "
                "figures"),
        Binding("o", "full_log", "log", tooltip="the session's whole output log"),
        Binding("question_mark", "help", "help", key_display="?", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="quit (a headless run you attached to can go on)"),
    ]

    def __init__(self, client: RunClient) -> None:
        super().__init__()
        self.client = client
        self.session = client.session
        self.unit = ""
        self.diff_mode = MODES[0]
        self.quitting = 0  # quit presses while the in-process engine winds down
        self.engine_error: str | None = None
        self._shown_versions = -1
        self._shown_head = ""
        self._in_flight: str | None = None
        self._baselines: dict[str, float] = {}
        self._gc_threshold = gc.get_threshold()

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
        yield SuspectBanner(id="suspects")
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = f"avo · {self.session.name}"
        best = self.session.best()
        self.unit = best.score.unit if best and best.score else ""
        for pane_id, title in (("lineage", "lineage"), ("chart", "score"), ("plan", "plan"),
                               ("diff", "diff"), ("output", "output")):
            self.query_one(f"#{pane_id}").border_title = title
        self._open_backlog()
        self._refresh_lineage()
        self._refresh_status()
        self.query_one(LineageTree).focus()
        self._apply_width(self.size.width)
        if self.client.engine is not None:
            self.client.engine.on_progress(self._post(Progress))
            self.client.start_engine(self._post(RunEnded), self._post(RunFailed))
        self.set_interval(POLL_S, self.poll)
        # Textual's objects and the loaded lineage live as long as the app: out of the
        # collector's reach, and with rarer collections, full collections no longer pause
        # keys by 70-120 ms several times a minute (benchmarks/tui_scale.py).
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 20, 50)

    def _post(self, message: Callable[[T], Message]) -> Callable[[T], None]:
        """A callback for the engine's thread that posts ``message(value)`` to the app."""

        def post(value: T) -> None:
            self.post_message(message(value))

        return post

    def on_unmount(self) -> None:
        gc.unfreeze()  # the process goes on (the run's wind-down, other apps in tests)
        gc.set_threshold(*self._gc_threshold)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_width(event.size.width)  # self.size follows a moment later

    def _apply_width(self, width: int) -> None:
        self.set_class(width < NARROW, "narrow")

    # -- following the run --------------------------------------------------------------------

    def _open_backlog(self) -> None:
        """Show the tail of the story so far, and the plan in force."""
        last = self.session.last_seq
        plans = [p for e in self.session.events(after=max(0, last - PLAN_LOOKBACK))
                 if isinstance(p := payload_of(e), PlanPayload)]
        plan = self.query_one(PlanPane)
        plan.set_progress(self.client.run_state().step, "")
        if plans:
            plan.set_plan(plans[-1].text)
        self.client.skip_to(last - BACKLOG_EVENTS)

    @while_shown
    def poll(self) -> None:
        try:
            events = self.client.poll()
        except StoreError as error:
            self._fail(f"cannot read the session: {error}")
            return
        self._take(events)
        self._refresh_status()
        if self.diff_mode == "candidate":
            self._show_candidate()

    def _take(self, events: list[Event]) -> None:
        output = self.query_one(OutputPane)
        plan = self.query_one(PlanPane)
        lineage_moved = False
        lines = []
        last_plan: PlanPayload | None = None  # a batch may hold thousands: show the latest
        last_tool: ToolCallPayload | None = None
        for event in events:
            payload = payload_of(event)
            line = payload_line(payload, self.unit)
            if line:
                lines.append(plain(line))
            match payload:
                case PlanPayload():
                    last_plan = payload
                case ToolCallPayload():
                    last_tool = payload
                case ErrorPayload(message=message):
                    self.notify(message, severity="error", timeout=8)
            # the lineage is reread even when a commit or rollback event does not parse
            lineage_moved |= event.kind in (EventKind.COMMIT, EventKind.ROLLBACK)
        if last_plan is not None:
            plan.set_plan(last_plan.text)
        if last_tool is not None:
            plan.set_progress(self.client.run_state().step, last_tool.tool)
        if lines:
            # follow the end unless the user is reading back through the pane
            following = not output.has_focus or output.is_vertical_scroll_end
            output.write_lines(lines, scroll_end=following)
        if lineage_moved:
            self._refresh_lineage()

    def _refresh_lineage(self) -> None:
        lineage = self.session.lineage
        head = self.client.run_state().head
        if len(lineage) == self._shown_versions and head == self._shown_head:
            return
        best = lineage.best()
        if best is not None and best.score:
            self.unit = best.score.unit
            sheet = score_sheet(self.session, best)
            self._baselines = sheet.baselines if sheet else {}
        tree = self.query_one(LineageTree)
        # the cursor follows the head, unless the user has moved it elsewhere to browse
        following = tree.selected_version in (None, self._shown_head)
        self._shown_versions, self._shown_head = len(lineage), head
        tree.load(lineage, Marks(head, best.id if best else None),
                  reveal=head if following else None)
        self.query_one(ScoreChart).set_data(self._points(), self._baselines, self.unit)

    def _points(self) -> list[tuple[str, float]]:
        versions = list(self.session.lineage)[-CHART_POINTS:]
        return [(v.id, v.score.gmean) for v in versions if v.score]

    def _refresh_status(self) -> None:
        state = self.client.run_state()
        best = self.session.best()
        best_text = "-"
        if best and best.score:
            ratio = f" {best.score.ratio:.3f}x" if best.score.ratio else ""
            best_text = f"{best.id} {best.score.gmean:.4g} {best.score.unit}{ratio}"
        host = self.session.meta.get("host") or {}
        run = self.client.run_status()
        facts = StatusFacts(
            session=self.session.name,
            target=str(self.session.meta.get("target", "?")),
            operator=str(self.session.meta.get("operator", "?")),
            state="error" if self.engine_error else run.name,
            step=state.step,
            seconds=state.usage_figure("seconds"),
            best=best_text,
            tokens=int(state.usage_figure("tokens")),
            cost_usd=state.usage_figure("cost_usd"),
            device=str(host.get("gpu") or host.get("cpu") or host.get("device") or "?"),
            attached=self.client.attached,
        )
        self.query_one(StatusBar).show(facts)
        self.query_one(SuspectBanner).show(self.session.suspects())

    @while_shown
    def on_progress(self, message: Progress) -> None:
        self.query_one(PlanPane).set_progress(self.client.run_state().step, message.text)

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

    # -- the diff pane ------------------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    @while_shown
    def _highlighted(self, event: Tree.NodeHighlighted[Entry]) -> None:
        if self.diff_mode != "candidate":
            self._show_diff()

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[Entry]) -> None:
        entry = event.node.data
        if entry is not None and not entry.run:
            self.action_detail()

    def _show_diff(self) -> None:
        vid = self.query_one(LineageTree).selected_version
        pane = self.query_one(DiffPane)
        if vid is None:
            pane.show("highlight a version to see its diff", "")
            return
        try:
            pane.show(*version_diff(self.session, vid, self.diff_mode))
        except StoreError as error:
            pane.show_error(error)

    def _show_candidate(self) -> None:
        pending = self.client.run_state().in_flight
        key = str(pending)
        if key == self._in_flight:
            return
        self._in_flight = key
        pane = self.query_one(DiffPane)
        if pending is None:
            pane.show("no candidate is being evaluated now", "")
            return
        try:
            pane.show(*candidate_diff(self.session, pending))
        except StoreError as error:  # a base or blob that is not there (a damaged state)
            pane.show_error(error)

    def action_diff_mode(self) -> None:
        modes = [*MODES, "candidate"]
        self.diff_mode = modes[(modes.index(self.diff_mode) + 1) % len(modes)]
        self.query_one(DiffPane).border_title = f"diff vs {self.diff_mode}"
        self._in_flight = None
        if self.diff_mode == "candidate":
            self._show_candidate()
        else:
            self._show_diff()

    # -- controls -----------------------------------------------------------------------------

    def _send(self, command: Command, done: str) -> None:
        self.client.send(command)
        if self.client.attached and not self.client.live():
            done += " (no run is live: it applies when the session runs again)"
        self.notify(done)

    def action_pause(self) -> None:
        if self.client.run_state().status == "paused":
            self._send(Resume(), "resume sent")
        else:
            self._send(Pause(), "pause sent: it takes effect at the next safe point")

    def action_hint(self) -> None:
        def sent(text: str | None) -> None:
            if text and text.strip():
                self._send(Hint(text.strip()), "hint sent: the operator reads it at its next turn")

        self.push_screen(TextDialog("Hint", "A one-off suggestion for the next turn."), sent)

    def action_guidance(self) -> None:
        current = self.client.run_state().guidance or ""

        def sent(text: str | None) -> None:
            if text is not None and text.strip() != current:
                self._send(Guidance(text.strip() or None),
                           "guidance set" if text.strip() else "guidance cleared")

        self.push_screen(TextDialog("Standing guidance", "Holds for every step until changed; "
                                    "empty clears it.", current), sent)

    def _highlighted_version(self) -> Version | None:
        vid = self.query_one(LineageTree).selected_version
        if vid is None:
            self.notify("highlight a version in the lineage first", severity="warning")
            return None
        return self.session.version(vid)

    def action_rollback(self) -> None:
        version = self._highlighted_version()
        if version is None:
            return
        head = self.client.run_state().head
        if version.id == head:
            self.notify(f"{version.id} is already the head")
            return

        def answer(choice: str | None) -> None:
            if choice == "rollback":
                self._send(Rollback(version.id), f"rollback to {version.id} sent")

        self.push_screen(ChoiceDialog(
            f"Roll the head back from {head} to {version.id}? Nothing is deleted; the next "
            "versions branch from it.", {"rollback": "Roll back"}), answer)

    def action_edit(self) -> None:
        head = self.session.head
        files = self.session.read_files(head)
        folder = Path(tempfile.mkdtemp(prefix=f"avo-edit-{self.session.name}-"))
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
            self._send(OperatorEdit(edited, f"edited by hand on top of {head.id}"),
                       "your edit is sent: it is evaluated, and committed if correct")
        self.refresh()

    def action_suspects(self) -> None:
        suspects = self.session.suspects()
        if not suspects:
            self.notify("no suspect is waiting for review")
            return

        def decided(answer: str | None) -> None:
            action, _, ref = (answer or "").partition(" ")
            if action == "approve":
                self._send(Approve(ref), f"approval of {ref} sent: it is committed at the next "
                           "safe point")
            elif action == "reject":
                self._send(Reject(ref), f"rejection of {ref} sent")

        self.push_screen(SuspectsDialog(suspects), decided)

    def action_detail(self) -> None:
        version = self._highlighted_version()
        if version is not None:
            self.push_screen(VersionDetail(self.session, version))

    def action_compare(self) -> None:
        version = self._highlighted_version()
        if version is None:
            return
        best = self.session.best()
        default = version.parent if best is None or best.id == version.id else best.id

        def chosen(ref: str | None) -> None:
            if not ref:
                return
            try:
                other = self.session.version(ref)
            except StoreError as error:
                self.notify(str(error), severity="error")
                return
            self.push_screen(CompareScreen(self.session, other, version))

        self.push_screen(InputDialog(f"Compare {version.id} with (a version id, best or head)",
                                     default or ""), chosen)

    def action_scores(self) -> None:
        vid = self.query_one(LineageTree).selected_version
        version = self.session.version(vid) if vid else self.session.best()
        sheet = score_sheet(self.session, version) if version else None
        self.push_screen(ScoresScreen(self._points(), sheet))

    def action_full_log(self) -> None:
        if not self.client.output_log.exists():
            self.notify("no output log yet: it starts when the session runs", severity="warning")
            return
        self.push_screen(LogScreen(self.client.output_log))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(list(self.BINDINGS)))

    async def action_quit(self) -> None:
        if self.client.engine is None:
            if not self.client.live():
                self.exit()
                return

            def answer(choice: str | None) -> None:
                if choice == "stop":
                    self.client.send(Stop("stopped from the app"))
                if choice in ("stop", "detach"):
                    self.exit()

            self.push_screen(ChoiceDialog(
                "Leave this view. The run is headless: detach and let it go on, or stop it?",
                {"detach": "Detach", "stop": "Stop the run"}), answer)
            return
        self.quitting += 1
        if not self.client.live():
            self.exit()
        elif self.quitting == 1:
            self.client.send(Stop("quit from the app"))
            self.notify("stopping at the next safe point; q again to cut the evaluation short",
                        timeout=30)
        elif self.quitting == 2:
            self.client.abandon_evaluation()
            self.notify("cutting the evaluation short; q again to leave at once", timeout=30)
        else:
            self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action != "quit":
                key = binding.key_display or binding.key
                yield SystemCommand(binding.tooltip.capitalize(), f"key {key}",
                                    self._action_callback(binding.action))

    def _action_callback(self, action: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.run_action(action)

        return run


def make_app(client: RunClient) -> AvoApp:
    """The app over a session: shared by the CLI and the tests."""
    return AvoApp(client)
