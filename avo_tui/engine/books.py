"""The books of a run: what the rooms of the engine share (the session, the lanes, the usage and
budgets, the gate, the supervisor) and the bookkeeping that writes them and publishes events.

Every write to the session and every event handed to a subscriber happens under one reentrant
lock, so events are written and published one at a time and in order. A thread that gave the
run up (a second Ctrl-C, a crash) makes every other thread's next bookkeeping raise
:class:`RunAbandoned`: they write nothing more.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..store import ErrorPayload, Event, Payload, Session
from ..store.run_state import LaneState
from .budget import Budgets, Usage
from .evaluator import Evaluator
from .gate import Gate
from .lanes import Lane
from .progress import Progress, ProgressListener
from .supervisor import Supervisor

Subscriber = Callable[[Event], None]


class RunAbandoned(BaseException):
    """The run was given up (a second Ctrl-C, a crash) while another lane's thread worked: that
    thread writes nothing more (what it had in flight is recorded as interrupted). A
    BaseException, so that no operator's ``except Exception`` takes it for a fault of its own."""


class RunBooks:
    """The shared state of one run and the writing of it. The rooms (control.py, trials.py,
    steering.py) and the loop (engine.py) read and change it under :meth:`locked`."""

    def __init__(self, session: Session, evaluator: Evaluator, lanes: list[Lane], *,
                 budgets: Budgets, usage: Usage, gate: Gate, supervisor: Supervisor,
                 idle_lanes: dict[str, LaneState]) -> None:
        self.session = session
        self.evaluator = evaluator
        self.lanes = lanes
        self.budgets = budgets
        self.usage = usage
        self.gate = gate
        self.supervisor = supervisor
        self.guidance: str | None = session.run_state.guidance  # the session's, for every lane
        self.stop_reason: str | None = None
        # What the state keeps of lanes this run does not run: kept as it is.
        self.idle_lanes = idle_lanes
        self._subscribers: list[Subscriber] = []
        self._progress_listeners: list[ProgressListener] = []
        self._published = session.last_seq
        self._clock = time.monotonic()
        self._listener_errors: dict[int, str] = {}  # id(listener) -> the last error reported
        self._lock = threading.RLock()
        self._abandoned_by: int | None = None  # the thread that gave the run up

    @property
    def several(self) -> bool:
        """The run has more than one lane: its records and events name their lane."""
        return len(self.lanes) > 1

    @property
    def paused(self) -> bool:
        """Every lane still running is paused."""
        live = [lane for lane in self.lanes if not lane.ended]
        return bool(live) and all(lane.paused for lane in live)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            if self._abandoned_by not in (None, threading.get_ident()):
                raise RunAbandoned
            yield

    def abandon(self) -> None:
        """Give the run up from this thread: the others write nothing more."""
        self._abandoned_by = threading.get_ident()

    # -- time -----------------------------------------------------------------------------------

    def running_seconds(self) -> float:
        """The session's running time so far, this run's included: the supervisor's clock,
        which neither a pause nor the time between two runs (a weekend) advances."""
        return self.usage.seconds + (time.monotonic() - self._clock)

    def tick(self) -> None:
        now = time.monotonic()
        self.usage.seconds += now - self._clock
        self._clock = now
        self.usage.counted_at = time.time()

    def restart_clock(self) -> None:
        """Time from now on counts (paused time, and the time before a run, do not)."""
        self._clock = time.monotonic()
        self.usage.counted_at = time.time()

    # -- the state --------------------------------------------------------------------------------

    def lanes_doc(self) -> dict[str, Any]:
        idle = {k: v.to_doc() for k, v in self.idle_lanes.items()}
        return idle | {str(lane.number): lane.state().to_doc() for lane in self.lanes}

    def save_lanes(self) -> None:
        self.session.set_state(announce=False, lanes=self.lanes_doc())

    def save(self) -> None:
        self.session.set_state(announce=False, step=self.usage.steps, usage=self.usage.to_doc(),
                               **self.gate.state(), supervisor=self.supervisor.to_doc(),
                               lanes=self.lanes_doc())

    def set_status(self, status: str, *, announce: bool = False, reason: str = "") -> None:
        """The run's status, stored with its running time up to now: a view's clock stands
        at that figure while the run is paused or over, and counts on from it once the run
        runs again (Usage.counted_at)."""
        if self.session.state.get("status") == "running":
            self.tick()
        else:  # the time it was paused, or between runs, does not count
            self.restart_clock()
        self.session.set_state(status=status, reason=reason, announce=announce,
                               usage=self.usage.to_doc())
        self.publish()

    def run_status(self, reason: str = "") -> None:
        """The run is paused when every lane still running is; each lane's own status is in
        its lane's state."""
        self.save_lanes()
        status = "paused" if self.paused else "running"
        if status != self.session.state.get("status") or (status == "paused" and reason):
            self.set_status(status, reason=reason)

    # -- events -----------------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, replay_from: int | None = None) -> None:
        if replay_from is not None:
            for event in self.session.events(after=replay_from):
                subscriber(event)
        self._subscribers.append(subscriber)

    def on_progress(self, listener: ProgressListener) -> None:
        self._progress_listeners.append(listener)

    def event(self, payload: Payload, label: int | None = None) -> None:
        """Record an event, and publish it; ``label``: the lane it is from, in a run of
        several."""
        if label is not None and getattr(payload, "lane", 0) is None:
            payload = dataclasses.replace(payload, lane=label)  # type: ignore[type-var]
        with self.locked():
            self.session.append(payload)
            self.publish()

    def error(self, message: str, traceback: str | None = None, label: int | None = None) -> None:
        self.event(ErrorPayload(message, traceback), label)

    def publish(self) -> None:
        """Hand new events to every subscriber, one at a time and in order. One that raises is
        kept (the next event may well suit it) and reported as an error event, once per
        distinct error, so a broken view neither stops the run nor floods the log."""
        with self.locked():
            while self._published < self.session.last_seq:
                for event in self.session.events(after=self._published):
                    self._published = event.seq
                    for subscriber in list(self._subscribers):
                        try:
                            subscriber(event)
                        except Exception as error:
                            self._listener_failed(subscriber, "a subscriber", error, event.seq)

    def progress(self, text: str, label: int | None) -> None:
        progress = Progress(text.strip(), label)
        with self.locked():
            for listener in list(self._progress_listeners):
                try:
                    listener(progress)
                except Exception as error:
                    self._listener_failed(listener, "a progress listener", error, None)
                    self.publish()

    def _listener_failed(self, listener: object, what: str, error: Exception,
                         seq: int | None) -> None:
        described = f"{type(error).__name__}: {error}"
        if self._listener_errors.get(id(listener)) == described:
            return
        self._listener_errors[id(listener)] = described
        on = f" on event {seq}" if seq is not None else ""
        self.session.append(ErrorPayload(
            f"{what} ({getattr(listener, '__qualname__', listener)}) failed{on}: {described}; "
            "it is kept and gets the events that follow"))
