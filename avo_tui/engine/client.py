"""The one object a view (the app) uses to watch and steer a run.

Both kinds of run look the same through it: an engine in this process (``avo``, ``avo run``),
and one that another process runs (``avo run --headless``, watched with ``avo attach``). The
view reads the session's files with a read-only Session that follows the writer, and sends
commands to the engine directly or through the session's inbox folder. Because every viewer
reads the same files, two viewers of one run always agree.
"""

from __future__ import annotations

import enum
import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..store import Event, EventKind, RunState, Session, StoreError
from ..store.lock import LockHolder, SessionLock
from . import commands as cmd
from .budget import Budgets, Usage
from .engine import Engine
from .inbox import queued, send
from .run_status import RunStatus, name_run_status

POLL_BATCH = 2000  # events taken per poll, so a view catching up stays responsive

OUTPUT_LOG = "output.log"  # the session's full output, written by views/output_log.py


class Delivery(enum.Enum):
    """What became of a command a view sent (:meth:`RunClient.send`)."""

    SENT = "sent"  # a live run takes it at its next safe point
    STOPPING = "stopping"  # this process's run is stopping: it is kept for the session's next run
    QUEUED = "queued"  # no run is live: it waits in the inbox for the session's next run
    NOT_SENT = "not sent"  # a stop with no run live to stop (a queued one would end the next)


@dataclass(frozen=True)
class Restarted:
    """A run of the session started again from a view (:meth:`RunClient.start_again`)."""

    line: str  # what was started, for the view to say
    engine: Engine | None = None  # this process's next engine, not started yet
    process: subprocess.Popen[bytes] | None = None  # or the process of avo run --headless
    output: Path | None = None  # where that process's console output goes


Restart = Callable[[], Restarted]
"""How the command that made the client starts the session's run again, as ``avo run``
resumes it: a new engine in this process (``avo run`` with the app), or ``avo run
--headless`` in a process of its own (a view attached to a session nobody runs)."""


class RunClient:
    def __init__(self, directory: Path, engine: Engine | None = None, *,
                 restart: Restart | None = None) -> None:
        self.directory = directory
        self.engine = engine
        self.restart = restart
        self.launched: Restarted | None = None  # the headless run this view started last
        self.session = Session.open(directory, writable=False)
        self.cursor = 0  # the last event seq handed to the view
        # why the supervisor intervened, while nothing was committed since; "" when it did not
        self.stalled = ""
        self._engine_thread: threading.Thread | None = None
        self._delivery = threading.Lock()  # a send and the end of the engine thread
        self._engine_ended = False
        self._stopping = False  # this view stopped the in-process run; it has not ended yet
        self._held: list[cmd.Command] = []  # sent while it stopped: for the next run
        self._sent: list[tuple[Path, cmd.Command]] = []  # inbox files sent to this process's run

    @property
    def attached(self) -> bool:
        """True when another process runs the engine (or none does)."""
        return self.engine is None

    @property
    def output_log(self) -> Path:
        return self.directory / OUTPUT_LOG

    def writer(self) -> LockHolder | None:
        return SessionLock(self.directory).holder()

    def live(self) -> bool:
        """Whether an engine is running this session now."""
        if self.engine is not None:
            thread = self._engine_thread
            return thread is not None and thread.is_alive() and not self._engine_ended
        return self.writer() is not None

    # -- steering -----------------------------------------------------------------------------

    def send(self, command: cmd.Command) -> Delivery:
        """Deliver a command, and say what became of it (:class:`Delivery`).

        Every command but a stop goes through the session's inbox folder, as ``avo send``'s
        do, also to this process's engine: a run that ends before its next safe point leaves
        it there for the session's next run, so nothing sent is lost (an engine's in-memory
        queue dies with it). A stop reaches only a live run: queued, it would end the next
        run as it starts. While this process's run stops (this view stopped it), commands
        are held and put in the inbox once it has ended, so that they reach the next run and
        not the one that is stopping."""
        whole_run_stop = isinstance(command, cmd.Stop) and command.lane is None
        with self._delivery:
            live = self.live()
            if isinstance(command, cmd.Stop):
                if not live:
                    return Delivery.NOT_SENT
                if self.engine is not None:
                    self.engine.submit(command)  # to this engine alone
                    self._stopping |= whole_run_stop
                else:
                    send(self.directory, command)
                return Delivery.SENT
            if self.engine is not None and live and self.stopping:
                self._held.append(command)
                return Delivery.STOPPING
            path = send(self.directory, command)
            if not live:
                return Delivery.QUEUED
            if self.engine is not None:
                self._sent.append((path, command))
            return Delivery.SENT

    @property
    def stopping(self) -> bool:
        """Whether this process's run is stopping: this view stopped it, or the engine has
        taken a stop; False once it has ended."""
        engine = self.engine
        return (engine is not None and not self._engine_ended
                and (self._stopping or engine.stop_reason is not None))

    def untaken(self) -> list[cmd.Command]:
        """The commands sent to this process's run that it ended without taking: they wait
        in the inbox for the session's next run. Each is reported once."""
        with self._delivery:
            sent, self._sent = self._sent, []
        return [command for path, command in sent if path.exists()]

    def _engine_finished(self) -> None:
        """The engine thread has ended: what was held while it stopped goes to the inbox."""
        with self._delivery:
            self._engine_ended = True
            held, self._held = self._held, []
            for command in held:
                send(self.directory, command)

    def start_engine(self, on_end: Callable[[str], None],
                     on_error: Callable[[BaseException], None]) -> None:
        """Run the in-process engine on a daemon thread until it ends.

        A daemon thread, not an executor's: a forced quit must not wait on an evaluation or an
        API call that will not return soon. Dying mid-write is safe (the store survives a
        SIGKILL) and the evaluation cut short is recorded as interrupted on the next run."""
        engine = self.engine
        assert engine is not None, "an attached client has no engine to run"

        def run() -> None:
            try:
                reason = engine.run()
            except BaseException as error:  # reported to the view, which stays up
                self._engine_finished()
                on_error(error)
            else:
                self._engine_finished()
                on_end(reason)

        self._engine_thread = threading.Thread(target=run, name="avo-engine", daemon=True)
        self._engine_thread.start()

    def wait_engine(self, timeout_s: float) -> bool:
        """Wait for the engine thread to end; True if it has."""
        if self._engine_thread is not None:
            self._engine_thread.join(timeout_s)
            return not self._engine_thread.is_alive()
        return True

    # -- starting again -----------------------------------------------------------------------

    def why_not_again(self) -> str | None:
        """Why the session's run cannot be started again from this view now, or None: a run
        is live (this process's, or another's), the one this view launched is still starting,
        or the session's budget is spent (a run would end as it starts) and no raise of it
        waits in the inbox."""
        if self.engine is not None and self.live():
            return ("the run is stopping: start it again once it has ended" if self.stopping
                    else "the run is live in this process: there is nothing to start")
        if self.engine is None and (holder := self.writer()) is not None:
            return (f"another process (pid {holder.pid}) runs this session: there is nothing "
                    "to start")
        launched = self.launched
        if launched and launched.process and launched.process.poll() is None:
            return (f"the run started from this view (pid {launched.process.pid}) is still "
                    "starting")
        if self.restart is None:
            return "this view cannot start a run (avo run --session NAME does)"
        return self._budget_spent()

    def _budget_spent(self) -> str | None:
        state = self.run_state()
        try:
            usage, budgets = Usage.from_doc(state.usage), Budgets.from_doc(state.budgets)
        except TypeError:  # a field of another version: the run itself will say
            return None
        spent = usage.exhausted(budgets) or usage.overspent(budgets)
        if spent is None or any(isinstance(q.command, cmd.SetBudgets)
                                for q in queued(self.directory)):
            return None
        return (f"the session's {spent}, so a run would end as it starts: raise it first "
                f"(avo send {self.session.name} budget steps=N, hours=H, cost=USD or tokens=N)")

    def start_again(self) -> Restarted:
        """Start the session's run again through :attr:`restart`; StoreError says why not
        (:meth:`why_not_again`). A new engine of this process replaces the ended one; the
        view starts it (:meth:`start_engine`)."""
        with self._delivery:
            why = self.why_not_again()
            if why is not None:
                raise StoreError(why)
            assert self.restart is not None
            restarted = self.restart()
            if restarted.engine is not None:
                self.engine, self._engine_thread = restarted.engine, None
                self._engine_ended = self._stopping = False
            else:
                self.launched = restarted
        return restarted

    def abandon_evaluation(self) -> bool:
        """Cut the evaluation in flight short so a stop takes effect now; it is recorded as
        ``interrupted`` (by the operator), not as a failure. False when none was running."""
        return self.engine is not None and self.engine.abandon_evaluation()

    # -- following ----------------------------------------------------------------------------

    def poll(self) -> list[Event]:
        """Events the view has not seen yet (at most POLL_BATCH; call again for more)."""
        self.session.refresh()
        events = self.session.events(after=self.cursor, limit=POLL_BATCH)
        if events:
            self.cursor = events[-1].seq
        for event in events:
            if event.kind == EventKind.SUPERVISOR and event.data.get("action") == "redirect":
                self.stalled = str(event.data.get("reason") or "the search stalled")
            elif event.kind == EventKind.COMMIT:
                self.stalled = ""
        return events

    def skip_to(self, seq: int) -> None:
        """Start following from ``seq`` (a view opening a long session shows only the tail)."""
        self.cursor = max(0, seq)

    def run_state(self) -> RunState:
        """The session's run state as last written (a damaged field reads as its default)."""
        return RunState.from_doc(self.session.state)

    def lane_count(self, state: RunState | None = None) -> int:
        """How many lanes the run has (docs/engine.md, Lanes): the in-process engine's, else
        as ``avo send`` counts them, from the session (``state``, if already read): as last
        set on a resume, else as created."""
        if self.engine is not None:
            return len(self.engine.lanes)
        settings = self.session.meta.get("settings")
        created = settings.get("lanes", 1) if isinstance(settings, dict) else 1
        count = (state or self.run_state()).lane_count or created
        return count if isinstance(count, int) and count > 0 else 1

    def result_host(self, attempt_id: str) -> dict[str, object]:
        """The host facts of an attempt's result (its worker's GPU: ``gpu``, ``gpu_index``,
        ``uuid``), from its evaluation log; {} when it kept no log or the log does not say."""
        try:
            attempt = self.session.attempt(attempt_id)
            log = json.loads(self.session.blobs.get_text(attempt.log)) if attempt.log else None
        except (StoreError, ValueError):
            return {}
        host = log.get("host") if isinstance(log, dict) else None
        return dict(host) if isinstance(host, dict) else {}

    def run_status(self) -> RunStatus:
        """The run's status as the views name it, and why (run_status.py)."""
        state = self.run_state()
        return name_run_status(state.status, state.reason, session=self.directory.name,
                               live=self.live(), stalled=self.stalled)

    def close(self) -> None:
        self.session.close()
