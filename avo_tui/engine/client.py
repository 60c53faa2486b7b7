"""The one object a view (the app) uses to watch and steer a run.

Both kinds of run look the same through it: an engine in this process (``avo``, ``avo run``),
and one that another process runs (``avo run --headless``, watched with ``avo attach``). The
view reads the session's files with a read-only Session that follows the writer, and sends
commands to the engine directly or through the session's inbox folder. Because every viewer
reads the same files, two viewers of one run always agree.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..store import Event, EventKind, RunState, Session, StoreError
from ..store.lock import LockHolder, SessionLock
from . import commands as cmd
from .engine import Engine
from .inbox import send

POLL_BATCH = 2000  # events taken per poll, so a view catching up stays responsive

OUTPUT_LOG = "output.log"  # the session's full output, written by views/output_log.py


@dataclass(frozen=True)
class RunStatus:
    """What the status bar says about the run."""

    name: str  # running, paused, stalled, budget-reached, stopped, finished, crashed
    reason: str = ""


class RunClient:
    def __init__(self, directory: Path, engine: Engine | None = None) -> None:
        self.directory = directory
        self.engine = engine
        self.session = Session.open(directory, writable=False)
        self.cursor = 0  # the last event seq handed to the view
        self.stalled = False  # the supervisor intervened and nothing was committed since
        self._engine_thread: threading.Thread | None = None

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
            return self._engine_thread is not None and self._engine_thread.is_alive()
        return self.writer() is not None

    # -- steering -----------------------------------------------------------------------------

    def send(self, command: cmd.Command) -> bool:
        """Deliver a command; True when a live run takes it at its next safe point (this
        process's engine, or another process's through the session's inbox), False when it
        waits in the inbox for the session's next run, as it does once this process's own
        engine has ended (it reads no more commands)."""
        if self.engine is not None and self.live():
            self.engine.submit(command)
            return True
        send(self.directory, command)
        return self.engine is None and self.live()  # a run in another process reads the inbox

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
                on_error(error)
            else:
                on_end(reason)

        self._engine_thread = threading.Thread(target=run, name="avo-engine", daemon=True)
        self._engine_thread.start()

    def wait_engine(self, timeout_s: float) -> bool:
        """Wait for the engine thread to end; True if it has."""
        if self._engine_thread is not None:
            self._engine_thread.join(timeout_s)
            return not self._engine_thread.is_alive()
        return True

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
            if event.kind == EventKind.SUPERVISOR:
                self.stalled = True
            elif event.kind == EventKind.COMMIT:
                self.stalled = False
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
        state = self.run_state()
        status, reason = state.status, state.reason
        if status == "running" and not self.live():
            return RunStatus("stopped", "no process is running it")
        if status == "paused" and "budget" in reason:
            return RunStatus("budget-reached", reason)
        if status == "finished":
            return RunStatus("budget-reached", reason)
        if status == "running" and self.stalled:
            return RunStatus("stalled", "the supervisor is redirecting the operator")
        return RunStatus(status, reason)

    def close(self) -> None:
        self.session.close()
