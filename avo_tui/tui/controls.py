"""The app's controls: each key (and its line in the command palette) that steers the run or
opens a view.

A control that steers becomes an engine command, sent through the client, and the app says
what became of it, never more (:class:`~avo_tui.engine.client.Delivery`): "sent" when a live
run takes it at its next safe point; "queued" when no run is live, or this process's run is
stopping, and the session's inbox keeps it for the next run; a stop with no run to stop is
not sent. While the session is still being prepared nothing is sent, and the app says so.
``R`` sends no command: it starts the session's run again once it has ended, through the
client (:meth:`~avo_tui.engine.client.RunClient.start_again`), or says why not.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

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
from ..engine.client import Delivery, RunClient
from ..engine.commands import Command, hand_off, too_long
from ..engine.inbox import describe
from ..operators.hints import declared_knobs
from ..store import NO_VERSION_YET, StoreError, Version
from .fork import fork_session
from .lane_controls import lane_choice, scope
from .messages import (
    Forked,
    HeadFiles,
    HeadlessEnded,
    ProgressReported,
    RunEnded,
    RunFailed,
)
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
from .view_state import ViewState

NEXT_RUN = "so it applies when the session runs again"
T = TypeVar("T")



class Controls(ViewState):
    quitting = 0  # quit presses while the in-process engine winds down
    # The in-process run goes on in a process of its own once it has stopped at its next safe
    # point (avo run --headless, started by the command that showed the app: commands/run.py)
    handing_off = False
    hung_up = False  # the terminal went away (SIGHUP): nothing may be drawn or printed now

    def send(self, command: Command, what: str, effect: str = "") -> None:
        """Deliver ``command`` and say what became of it: ``what`` sent (and its ``effect``)
        when a live run takes it, else queued for the session's next run."""
        client = self.client_ready()
        if client is None:
            return
        delivery = client.send(command)
        if delivery is Delivery.SENT:
            self.notify(f"{what} sent{effect}")
        elif delivery is Delivery.STOPPING:
            self.notify(f"{what} queued: the run is stopping, {NEXT_RUN}")
        elif delivery is Delivery.QUEUED:
            self.notify(f"{what} queued: no run is live, {NEXT_RUN}")
        else:
            self.notify(f"{what} not sent: no run is live to take it")

    def report_untaken(self) -> None:
        """After this process's run has ended: the commands sent to it that it did not take
        (it ended first), which now wait for the session's next run."""
        if self.client is not None and (untaken := self.client.untaken()):
            self.notify("the run ended before it took: " + "; ".join(map(describe, untaken))
                        + f". They wait in the session's inbox, {NEXT_RUN}", timeout=30)

    def action_pause(self) -> None:
        lane, to = self.lane, lane_choice(self.lane, len(self.lanes))
        facts = self.lane_facts(lane)
        status = facts.status if facts is not None else self.state.status
        if status == "paused":
            self.send(Resume(lane=lane), f"resume{to}")
        else:
            self.send(Pause(lane=lane), f"pause{to}", ": it takes effect at the next safe point")

    def action_hint(self) -> None:
        lane, to = self.lane, lane_choice(self.lane, len(self.lanes))
        if self.client_ready() is None:
            return

        def sent(text: str | None) -> None:
            if text and (why := too_long("hint", text.strip())):
                self.notify(why, severity="error")
            elif text and text.strip():
                self.send(Hint(text.strip(), lane=lane), f"hint{to}",
                          ": the operator reads it at its next turn")

        self._with_knobs(TextDialog(f"Hint{to}", "A one-off suggestion for the next turn.",
                                    knobs=True), sent)

    def action_guidance(self) -> None:
        lane, to = self.lane, lane_choice(self.lane, len(self.lanes))
        if self.client_ready() is None:
            return
        facts = self.lane_facts(lane)
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
                self.send(Guidance(text.strip() or None, lane=lane),
                          ("guidance" if text.strip() else "clearing of the guidance") + to)

        self._with_knobs(TextDialog(f"Standing guidance{to}", note, current, knobs=True), sent)

    def _with_knobs(self, dialog: TextDialog, sent: Callable[[str | None], None]) -> None:
        """Open ``dialog`` at once (keys typed next go to it) and name the head's knobs in it
        when they are read."""
        self.push_screen(dialog, sent)
        if self.reads is not None:
            self.reads.for_view(dialog, lambda reader: _knobs_read(
                reader.session.read_files(head) if (head := reader.session.head) else {},
                reader.session.meta.get("operator") == "tuner"))

    def action_stop(self) -> None:
        lane = self.lane
        client = self.client_ready()
        if client is None:
            return
        if not client.live():  # a stop queued for the next run would end it as it starts
            self.notify("no run is live: there is nothing to stop")
            return
        if client.stopping:
            self.notify("the run is already stopping: it ends at its next safe point")
            return
        if lane is not None:
            question = (f"Stop lane {lane}? It ends at its next safe point; the other lanes go "
                        "on.")
        else:
            question = ("Stop the run at its next safe point? The app stays open for browsing "
                        "(q leaves).")

        def answer(choice: str | None) -> None:
            if choice == "stop":
                self.send(Stop("stopped from the app", lane=lane),
                          f"stop{lane_choice(lane, len(self.lanes))}",
                          ": it takes effect at the next safe point")

        self.push_screen(ChoiceDialog(question, {"stop": f"Stop {scope(lane, 1)}"}), answer)

    def _highlighted_version(self) -> Version | None:
        vid = self.selected_version()
        if vid is None or vid not in self.lineage:
            self.notify("highlight a version in the lineage first", severity="warning")
            return None
        return self.lineage.get(vid)

    def action_rollback(self) -> None:
        if self.client_ready() is None:
            return
        version = self._highlighted_version()
        if version is None:
            return
        head = self.state.head
        if version.id == head:
            self.notify(f"{version.id} is already the head")
            return

        def answer(choice: str | None) -> None:
            if choice == "rollback":
                self.send(Rollback(version.id), f"rollback to {version.id}")

        self.push_screen(ChoiceDialog(
            f"Roll the head back from {head} to {version.id}? Nothing is deleted; the next "
            "versions branch from it.", {"rollback": "Roll back"}), answer)

    def action_fork(self) -> None:
        if self.client_ready() is None or self.reads is None:
            return
        version = self._highlighted_version()
        if version is None:
            return
        vid, reads = version.id, self.reads

        def answer(name: str | None) -> None:
            if name and name.strip():
                reads.for_view(self, lambda reader: fork_session(reader.session, vid,
                                                                 name.strip()))

        self.push_screen(InputDialog(f"A new session from {vid} of {self.session_name}: its "
                                     "name", f"{self.session_name}-{vid}"), answer)

    def on_forked(self, message: Forked) -> None:
        self.notify(message.line, severity="information" if message.ok else "error",
                    timeout=15)

    def action_edit(self) -> None:
        if self.client_ready() is None or self.reads is None:
            return
        if self.state.head is None:
            self.notify(f"{NO_VERSION_YET}: there is no kernel to edit (avo send "
                        f"{self.session_name} edit PATH sends one of yours)")
            return
        self.reads.for_view(self, lambda reader: HeadFiles(
            reader.session.version("head").id, reader.session.read_files("head")))

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
            self.send(OperatorEdit(edited, f"edited by hand on top of {head}"), "your edit",
                      ": it is evaluated, and committed if correct")
        self.refresh()

    def action_suspects(self) -> None:
        if self.client_ready() is None:
            return
        if not self.suspects:
            self.notify("no suspect is waiting for review")
            return

        def decided(answer: str | None) -> None:
            action, _, ref = (answer or "").partition(" ")
            if action == "approve":
                self.send(Approve(ref), f"approval of {ref}",
                          ": it is committed at the next safe point")
            elif action == "reject":
                self.send(Reject(ref), f"rejection of {ref}")

        self.push_screen(SuspectsDialog(list(self.suspects)), decided)

    # -- starting the run again ---------------------------------------------------------------

    def action_restart(self) -> None:
        client = self.client_ready()
        if client is None:
            return
        if (why := client.why_not_again()) is not None:
            self.notify(f"not started: {why}")
            return
        name = self.session_name
        if client.engine is not None:
            where = ("in this app's process, as avo run resumes it (with the options this run "
                     "was started with); q stops it again")
        else:
            where = (f"in a process of its own, as avo run --session {name} --headless "
                     "resumes it; this view follows it, and it goes on after you leave")
        question = f"Start the run of {name} again, {where}?"

        def answer(choice: str | None) -> None:
            if choice == "start":
                self.start_again()

        self.push_screen(ChoiceDialog(question, {"start": "Start again"}), answer)

    def start_again(self) -> None:
        """Start the run again (:meth:`RunClient.start_again`) and say how; a new engine of
        this process runs as the first did, and a headless run is watched until it ends."""
        client = self.client
        assert client is not None
        try:
            restarted = client.start_again()
        except Exception as error:  # a refusal or a failed start: said, and the app stays up
            self.notify(f"not started: {error}", severity="error", timeout=15)
            return
        self.engine_error = None
        if restarted.engine is not None:
            self.run_engine(client)
            self.notify(f"the run started again in this process: {restarted.line}",
                        timeout=15)
        elif restarted.process is not None:
            self._watch(restarted.process, restarted.output)
            self.notify(f"the run started again: {restarted.line}; this view follows it"
                        + (f" (its console: {restarted.output})" if restarted.output else ""),
                        timeout=15)

    def run_engine(self, client: RunClient) -> None:
        """Run the client's engine, in this process, telling the app its progress and end."""
        assert client.engine is not None
        client.engine.on_progress(self._post(ProgressReported))
        client.start_engine(self._post(RunEnded), self._post(RunFailed))

    def _watch(self, process: subprocess.Popen[bytes], output: Path | None) -> None:
        """Tell the app when the headless run it started ends (a daemon thread: leaving the
        app never waits for the run, which goes on)."""

        def wait() -> None:
            code = process.wait()
            tail = ""
            if output is not None:
                with contextlib.suppress(OSError):
                    tail = "\n".join(output.read_text(errors="replace").splitlines()[-3:])
            self.post_message(HeadlessEnded(process.pid, code, tail))

        threading.Thread(target=wait, name="avo-headless-watch", daemon=True).start()

    def on_headless_ended(self, message: HeadlessEnded) -> None:
        if message.code == 0:
            self.notify(f"the headless run (pid {message.pid}) has ended", timeout=10)
        else:
            self.notify(f"the headless run (pid {message.pid}) ended with exit code "
                        f"{message.code}: {message.tail or 'no output'}", severity="error",
                        timeout=60)

    def _post(self, message: Callable[[T], Message]) -> Callable[[T], None]:
        """A callback for another thread that posts ``message(value)`` to the app."""

        def post(value: T) -> None:
            self.post_message(message(value))

        return post

    # -- views --------------------------------------------------------------------------------

    def action_detail(self) -> None:
        version = self._highlighted_version()
        if version is not None and self.reads is not None:
            self.push_screen(VersionDetail(version, self.reads))

    def action_compare(self) -> None:
        version = self._highlighted_version()
        if version is None:
            return
        best = self.lineage.best()
        default = version.parent if best is None or best.id == version.id else best.id

        def chosen(ref: str | None) -> None:
            if not ref or self.reads is None:
                return
            try:
                other = self._resolve(ref)
            except StoreError as error:
                self.notify(str(error), severity="error")
                return
            self.push_screen(CompareScreen(other, version, self.reads))

        self.push_screen(InputDialog(f"Compare {version.id} with (a version id, best or head)",
                                     default or ""), chosen)

    def _resolve(self, ref: str) -> Version:
        """A version of the view's lineage by id, ``head`` or ``best``."""
        if ref == "best" and (best := self.lineage.best()) is not None:
            return best
        if ref == "head":
            if self.state.head is None:
                raise StoreError(NO_VERSION_YET)
            ref = self.state.head
        return self.lineage.get(ref)

    def action_attempts(self) -> None:
        if self.client_ready() is not None and self.reads is not None:
            self.push_screen(AttemptsScreen(self.reads))

    def action_scores(self) -> None:
        if self.client_ready() is None or self.reads is None:
            return
        vid = self.selected_version()
        version = self.lineage.get(vid) if vid and vid in self.lineage else self.lineage.best()
        self.push_screen(ScoresScreen(self.chart.points, version, self.reads))

    def action_full_log(self) -> None:
        client = self.client_ready()
        if client is not None and self.reads is not None:
            self.push_screen(LogScreen(client.output_log, self.reads))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(list(self.BINDINGS)))

    # -- leaving ------------------------------------------------------------------------------

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
                "Leave this view. The run is headless: detach and let it go on, or stop it? "
                "Detach is marked: Enter leaves the run going.",
                {"detach": "Detach", "stop": "Stop the run"}), answer)
            return
        if not self.quitting and client.live() and not client.stopping:
            def leave(choice: str | None) -> None:
                if choice == "detach":
                    self.hand_off("detached from the app")
                elif choice == "stop":
                    self._quit_in_stages(client)

            self.push_screen(ChoiceDialog(
                "Leave this view. Detach: the run goes on in a process of its own, from its next "
                f"safe point (come back with avo attach {self.session_name}). Or stop it? "
                "Detach is marked: Enter leaves the run going.",
                {"detach": "Detach", "stop": "Stop the run"}), leave)
            return
        self._quit_in_stages(client)

    def _quit_in_stages(self, client: RunClient) -> None:
        """A stop at the next safe point; pressed again, the evaluation cut short; a third
        time, leave at once (what is cut short is recorded as interrupted next time)."""
        self.quitting += 1
        if not client.live():
            self.exit()
        elif self.quitting == 1:  # to this engine alone: an ended one must not stop the next run
            client.send(Stop("quit from the app"))
            self.notify(f"stopping at the next safe point{self._waiting_on()}; q again to cut "
                        "the evaluation short", timeout=30)
        elif self.quitting == 2:
            client.abandon_evaluation()
            self.notify("cutting the evaluation short; q again to leave at once", timeout=30)
        else:
            self.exit()

    def hand_off(self, why: str) -> None:
        """Let the in-process run go on in a process of its own: it stops at its next safe
        point (the app leaves then), and the command that showed the app starts ``avo run
        --headless`` on the session, which resumes exactly where it stopped."""
        client = self.client
        if client is None or client.engine is None or not client.live() or self.handing_off:
            return
        self.handing_off = True
        self.quitting += 1  # the app leaves once the run has ended (on_run_ended)
        client.send(hand_off(why))
        if not self.hung_up:
            self.notify(f"handing the run over at its next safe point{self._waiting_on()}; it "
                        f"goes on without this screen (avo attach {self.session_name})",
                        timeout=30)

    def on_hang_up(self) -> None:
        """SIGHUP: the terminal went away (a dropped SSH connection, a closed tmux). A run in
        this process is handed to a process of its own; the app leaves at once, drawing
        nothing more (the command waits for the run's safe point, then starts its successor)."""
        self.hung_up = True
        self.hand_off("the terminal went away")
        self.exit()

    def _waiting_on(self) -> str:
        """What a stop waits for: the evaluation in flight, its candidate's base and how long
        it has run, and what it is doing now; "" when nothing is in flight."""
        flight = self.state.in_flight
        if flight is None:
            return ""
        took = max(0.0, time.time() - flight.started)
        doing = self.activity.get(None, "")
        return (f", after the evaluation in flight (a candidate on {flight.base}, "
                f"{took:.0f} s so far{': ' + doing if doing else ''})")

    # -- the command palette ------------------------------------------------------------------

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


def _knobs_read(files: dict[str, str], tuner: bool) -> KnobsRead:
    """The head's knobs for a dialog: their line, and their values where the tuner reads."""
    knobs = declared_knobs(files)
    return KnobsRead(knobs_line(files), {k.name: k.choices for k in knobs.values()}, tuner)
