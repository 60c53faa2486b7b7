"""Control: the operator's commands (pause, hint, guidance, rollback, edit, approve, stop ...)
applied at safe points, and pauses on the engine's own account.

Commands apply only at safe points: before each evaluation, between an operator's tool calls and
between steps; an evaluation already running finishes and is recorded. A command is applied
once, at the safe point of whichever lane takes the inbox first; one that names a lane acts on
that lane alone. Commands that move the lineage (rollback, edit, approve, reject) run under the
gate's lock, so never in the middle of a commit, and end every running step.
"""

from __future__ import annotations

import threading

from ..operators.protocol import StepInterrupted
from ..store import (
    GuidancePayload,
    HintPayload,
    PausePayload,
    ResumePayload,
    StatusPayload,
    StoreError,
    UnknownVersion,
)
from . import commands as cmd
from .books import RunBooks
from .inbox import Inbox, describe
from .lanes import Lane
from .trials import Trials

PAUSED_POLL_S = 0.25


class Control:
    """The inbox and the safe points of every lane."""

    def __init__(self, books: RunBooks, trials: Trials) -> None:
        self.books = books
        self.trials = trials
        self.inbox = Inbox(books.session.directory)
        self._applying = threading.Lock()  # one thread applies the inbox at a time

    def safe_point(self, lane: Lane, in_step: bool = True) -> None:
        """Apply waiting commands; block while the lane is paused; end its step if the ground
        moved."""
        books = self.books
        while True:
            self.apply_waiting(lane)
            with books.locked():
                overspent = books.usage.overspent(books.budgets)
                if overspent and not books.stop_reason and any(
                        not other.paused for other in books.lanes if not other.ended):
                    self.pause(books.lanes, f"{overspent}; raise it (avo send "
                               f"{books.session.name} budget cost=N or tokens=N) and resume")
                stop = books.stop_reason or lane.stop_reason
                if in_step and (stop or lane.interrupt):
                    reason = stop or lane.interrupt
                    lane.interrupt = None
                    raise StepInterrupted(reason)
                if not lane.paused or stop:
                    lane.interrupt = None  # between steps: the next step starts from the new head
                    return
                books.tick()
            self.inbox.wait(PAUSED_POLL_S)
            with books.locked():
                if books.paused:
                    books.restart_clock()  # paused time does not count against the budget

    def apply_waiting(self, lane: Lane) -> None:
        """Apply the commands waiting in the inbox, unless another lane is applying them."""
        if not self._applying.acquire(blocking=False):
            return
        try:
            for command in self.inbox.drain():
                self._apply(command, lane)
            with self.books.locked():
                for problem in self.inbox.rejected:
                    self.books.error(f"ignored an unreadable command: {problem}")
                self.inbox.rejected.clear()
        finally:
            self._applying.release()

    def pause(self, lanes: list[Lane], reason: str) -> None:
        """Pause on the engine's own account (a spent budget, a rejected API key): ``lanes``,
        every lane or one operator's own."""
        with self.books.locked():
            self._pause(lanes, reason, self._label(lanes))

    def _label(self, lanes: list[Lane]) -> int | None:
        """The lane an event about ``lanes`` names: one lane of several, else none."""
        return lanes[0].label if len(lanes) == 1 else None

    def _pause(self, lanes: list[Lane], reason: str, label: int | None) -> None:
        newly = [lane for lane in lanes if not lane.paused and not lane.ended]
        if not newly:
            return
        for lane in newly:
            lane.paused = True
        self.books.run_status(reason)
        self.books.event(PausePayload(reason, lane=label))

    def _resume(self, lanes: list[Lane], label: int | None) -> None:
        newly = [lane for lane in lanes if lane.paused]
        if not newly:
            return
        for lane in newly:
            lane.paused = False
        self.books.run_status()
        self.books.event(ResumePayload(lane=label))

    def _apply(self, command: cmd.Command, by: Lane) -> None:
        """Apply one command, at ``by``'s safe point; one that names a lane acts on it alone."""
        books = self.books
        number = cmd.lane_of(command)
        targets = [lane for lane in books.lanes if number is None or lane.number == number]
        if not targets:
            count = len(books.lanes)
            with books.locked():
                books.error(f"ignored {describe(command)}: this run has no lane {number} "
                            f"(it has {count} lane{'s' if count > 1 else ''})")
            return
        label = number if books.several else None
        match command:
            case cmd.Rollback() | cmd.OperatorEdit() | cmd.Approve() | cmd.Reject():
                with books.gate.lock:  # they move the lineage: never in the middle of a commit
                    self._apply_to_lineage(command, by)
            case _:
                with books.locked():
                    self._apply_to_lanes(command, targets, label)
        with books.locked():
            books.publish()

    def _apply_to_lanes(self, command: cmd.Command, targets: list[Lane],
                        label: int | None) -> None:
        books = self.books
        session = books.session
        match command:
            case cmd.Pause():
                self._pause(targets, "", label)
            case cmd.Resume():
                self._resume(targets, label)
            case cmd.Hint(text=text):
                for lane in targets:
                    lane.pending_hints.append(text)
                books.save_lanes()
                session.append(HintPayload("received", text, lane=label))
            case cmd.Guidance(text=text):
                for lane in books.lanes if label is None else targets:
                    lane.spent_guidance = None  # sent again: followed again
                if label is None:
                    self._guide_every_lane(text or None)
                else:
                    targets[0].guidance = text or None
                    books.save_lanes()
                session.append(GuidancePayload("set" if text else "cleared", text, lane=label))
            case cmd.SetBudgets(limits=limits):
                try:
                    books.budgets = books.budgets.override(**limits)
                except TypeError as error:
                    books.error(f"cannot set budgets: {error}")
                else:
                    session.set_state(budgets=books.budgets.to_doc(), announce=False)
                    session.append(StatusPayload("budgets", changes=limits))
            case cmd.Stop(reason=reason):
                if label is None:
                    books.stop_reason = reason
                else:
                    targets[0].stop_reason = reason

    def _guide_every_lane(self, text: str | None) -> None:
        """The session's standing guidance, which replaces every lane's own."""
        books = self.books
        books.guidance = text
        for lane in books.lanes:
            lane.guidance = None
        books.session.set_state(announce=False, guidance=text, lanes=books.lanes_doc())

    def _apply_to_lineage(self, command: cmd.Command, by: Lane) -> None:
        """Rollback, hand edit, approve, reject: under the gate. The running steps end."""
        books = self.books
        match command:
            case cmd.Rollback(version=ref):
                with books.locked():
                    try:
                        target = books.session.rollback(ref)
                    except (UnknownVersion, StoreError) as error:
                        books.error(f"cannot roll back: {error}")
                    else:
                        self._interrupt_lanes(f"rolled back to {target.id}")
            case cmd.OperatorEdit(files=files, message=message):
                self._apply_edit(files, message, by)
            case cmd.Approve(attempt=ref):
                with books.locked():
                    self._approve(ref)
            case cmd.Reject(attempt=ref):
                with books.locked():
                    self._reject(ref)

    def _interrupt_lanes(self, reason: str) -> None:
        """The lineage moved under every lane: each step ends, and each lane's next one starts
        from its starting version again (not from a conversation on the old ground, nor from
        a candidate a step left it)."""
        for lane in self.books.lanes:
            lane.interrupt = reason
            lane.base = None
            # The operator's choice wins over a candidate a step left for the next one.
            lane.carry, lane.lineage_moved = None, True

    def _apply_edit(self, files: dict[str, str], message: str, by: Lane) -> None:
        books = self.books
        with books.locked():
            head = books.session.head
        # With no version yet (a target with no seed), a correct hand edit becomes v0. A twin
        # of an attempt is measured, for its score; one of a version is in the lineage already
        # (issue 71: an edit identical to an attempt was committed again, with no score).
        trial = self.trials.evaluate(files, base=head.id if head else None, author="operator",
                                     note="hand edit", lane=by, labelled=False,
                                     twins_of_versions_only=True)
        with books.locked():
            if not trial.result.correct:
                books.error(f"the hand edit was not committed: {trial.result.failure}")
                return
            if trial.score is None:  # a version's twin: nothing was measured
                books.error(f"the hand edit was not committed: {trial.attempt.detail}; "
                            "roll back to that version to build on it again")
                return
            version = self.trials.paid_commit(lambda **paid: books.session.commit(
                files, author="operator", message=message, score=trial.score,
                attempt=trial.attempt.id, **paid))
            books.supervisor.observe_commit(books.running_seconds())
            self._interrupt_lanes(f"the operator committed {version.id}")

    def _approve(self, ref: str) -> None:
        """The operator believes a suspect: it becomes a version (child of the version it was
        built on, and the head), with its stored score; the running steps end."""
        books = self.books
        try:
            suspect = books.session.suspect(ref)
        except StoreError as error:
            books.error(f"cannot approve {ref}: {error}")
            return
        version = self.trials.paid_commit(lambda **paid: books.session.approve_suspect(
            ref, message=f"{suspect.message} (suspect {ref}, approved by the operator)", **paid))
        books.supervisor.observe_commit(books.running_seconds())
        books.save()
        self._interrupt_lanes(f"the operator approved {ref} as {version.id}")

    def _reject(self, ref: str) -> None:
        try:
            self.books.session.suspect(ref)
        except StoreError as error:
            self.books.error(f"cannot reject {ref}: {error}")
            return
        self.books.session.reject_suspect(ref, reason="rejected by the operator")
