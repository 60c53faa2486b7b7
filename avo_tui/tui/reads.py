"""The app's reads of the session, each on a worker thread: the one object that runs them.

The app owns one :class:`Reads` and hands it to every screen that reads (their constructors
take it), as Textual's own ``App.workers`` is a collaborator of the app. Each read takes the
reader's lock (:mod:`.reading`), and its message goes to the node that asked: the poll and
the diff pane's reads to the app, a screen's to the screen. A newer read of the same group
supersedes one under way (exclusive workers), and its stale message is dropped; the poll is
never dropped, since it moves the reader past the events it hands over. A failed read is
reported by the app's one handler of ``Worker.StateChanged``, by the worker's group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import Worker, get_current_worker

from .reading import Job, SessionReader

POLL, DIFF, VIEW, LOG = "poll", "diff", "view", "log"  # the workers' groups


class Reads:
    def __init__(self, app: App[Any], reader: SessionReader) -> None:
        self.app = app
        self.reader = reader

    def _run(self, job: Job, to: MessagePump, droppable: bool = True) -> None:
        """Run ``job`` holding the reader's lock and post its message to ``to``, unless the
        read was superseded and ``droppable``."""
        reader = self.reader
        with reader.lock:
            if droppable and get_current_worker().is_cancelled:
                return
            message = job(reader)
        if not (droppable and get_current_worker().is_cancelled):
            to.post_message(message)

    def _start(self, group: str, work: Callable[[], None]) -> Worker[None]:
        return self.app.run_worker(work, group=group, thread=True, exclusive=True,
                                   exit_on_error=False)

    def poll(self, want_candidate: bool, lane: int | None) -> Worker[None]:
        """What is new (a :class:`~.reading.Polled`, to the app); with ``want_candidate``,
        the diff of ``lane``'s candidate in flight if it changed."""
        return self._start(POLL, lambda: self._run(
            lambda reader: reader.poll(want_candidate, lane), self.app, droppable=False))

    def diff(self, vid: str | None, mode: str, lane: int | None) -> None:
        """The diff pane's content (a :class:`~.reading.DiffRead`, to the app)."""
        self._start(DIFF, lambda: self._run(lambda reader: reader.diff(vid, mode, lane),
                                            self.app))

    def cancel_diff(self) -> None:
        """Drop the diff pane's read under way: the pane has what it asks for already."""
        self.app.workers.cancel_group(self.app, DIFF)

    def for_view(self, to: MessagePump, job: Job) -> None:
        """A screen's read (a version's detail, the attempts, a dialog's knobs ...)."""
        self._start(VIEW, lambda: self._run(job, to))

    def log(self, to: MessagePump, job: Callable[[], Message]) -> None:
        """The log screen's scan of output.log (a file of its own: no session lock)."""

        def run() -> None:
            message = job()
            if not get_current_worker().is_cancelled:
                to.post_message(message)

        self._start(LOG, run)
