"""The run: each lane's operator steps, one after another, until a stop, a budget or the
operator's end. The rooms do the rest: the books (books.py) keep the shared state and publish
events, control (control.py) applies commands at safe points, trials (trials.py) evaluate
candidates and run the commit gate, steering (steering.py) keeps hints, guidance, plans and
memory.

Ordering rules that make a multi-day run safe:
- every change is written to the session before the event announcing it is published;
- before an evaluation starts, the candidate is saved as ``in_flight``; if the process dies
  during the evaluation, the next run records it as an ``interrupted`` attempt;
- commands (pause, hint, rollback, edit, stop) apply only at safe points: before each
  evaluation, between an operator's tool calls and between steps. An evaluation already
  running finishes and is recorded;
- a spent money or token budget pauses the run at the next safe point (steps and hours
  finish it); ``SetBudgets`` plus a resume continues it.

Faults inside a step are data, never the end of the run: an operator that raises ends its
step as ``failed`` (an error event carries the traceback) and the next step starts; after
``FAILED_STEPS_TO_PAUSE`` failed steps in a row the run pauses with the last reason, since a
fault that repeats needs a person. A subscriber that raises is reported once per distinct
error and kept. The run ends only on stop, a budget or limit, or an error in the engine or
the store themselves (status ``crashed``).

**Lanes** (lanes.py, docs/engine.md). An engine given several operators runs one lane each:
lane 1 on the thread that calls :meth:`Engine.run`, the others on threads of their own, each
looping over its steps. Operator code and evaluations run outside every lock. The engine's
bookkeeping (the session's writes, the counters, publishing) runs under one reentrant lock,
so events are written and handed to subscribers one at a time and in order. The commit gate
runs under a lock of its own, taken before the engine's: commits (a lane's, a hand edit, an
approval, a rollback) happen one at a time, and the best a candidate is judged against is
read under it. A command is applied once, at the safe point of whichever lane takes the inbox
first; one that names a lane acts on that lane alone. Every lane is alike (lanes.py); with one
operator there is one lane, whose records and events name no lane.
"""


from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Sequence
from contextlib import suppress
from typing import cast

from ..operators.protocol import Operator, StepInterrupted, StepResult, Trial
from ..store import Session, StatusPayload, StepPayload, Version
from . import commands as cmd
from .books import RunAbandoned, RunBooks, Subscriber
from .budget import Budgets, Usage
from .context import RunContext
from .control import Control
from .evaluator import Evaluator
from .gate import Gate, NoiseEstimate
from .gate_memory import GateDecisions, GateStrikes
from .in_flight import recover_in_flight
from .inbox import Inbox, queued_payload
from .lanes import CONVERSATION, Lane, label_of
from .progress import ProgressListener
from .steering import Steering
from .supervisor import Supervisor, SupervisorLimits
from .trials import Trials

JOIN_POLL_S = 0.25  # a join that a second Ctrl-C can still interrupt
FAILED_STEPS_TO_PAUSE = 3
CUT_BY_OPERATOR = "cut short by the operator"

__all__ = ["CONVERSATION", "FAILED_STEPS_TO_PAUSE", "Engine", "RunAbandoned", "RunContext"]


class Engine:
    def __init__(
        self,
        session: Session,
        operator: Operator | Sequence[Operator],
        evaluator: Evaluator,
        *,
        budgets: Budgets | None = None,
        limits: SupervisorLimits | None = None,
    ) -> None:
        """``operator``: one operator, or one per lane (lanes.py)."""
        operators: list[Operator] = (list(operator) if isinstance(operator, list | tuple)
                                     else [cast(Operator, operator)])
        settings = session.meta.get("settings", {})
        state = session.run_state
        evaluator.baselines = dict(state.baselines or {}) | evaluator.baselines
        lanes = [Lane(n, op, label_of(n, len(operators) > 1))
                 for n, op in enumerate(operators, start=1)]
        for lane in lanes:
            lane.load(state.lane(lane.number))
        self.books = RunBooks(
            session, evaluator, lanes,
            budgets=budgets or Budgets.from_doc(state.budgets or settings.get("budgets")),
            usage=Usage.from_doc(state.usage),
            gate=Gate(NoiseEstimate.from_doc(state.noise),
                      GateDecisions.from_doc(state.gate_decisions),
                      float(settings.get("gate_cap_s") or evaluator.target.gate_cap_s),
                      GateStrikes.from_doc(state.gate_strikes)),
            supervisor=Supervisor.from_doc(
                state.supervisor, limits or SupervisorLimits.from_doc(settings.get("supervisor"))),
            idle_lanes={k: v for k, v in state.lanes.items()
                        if not k.isdigit() or int(k) > len(lanes)},
        )
        self.trials = Trials(self.books)
        self.control = Control(self.books, self.trials)
        self.steering = Steering(self.books)
        self._next_step = self.books.usage.steps + 1
        self._running_steps = 0  # claimed by lanes, not yet done
        self._ended = 0
        self._crash: BaseException | None = None  # a lane thread's, raised by run()

    # -- what the run holds -----------------------------------------------------------------------

    @property
    def session(self) -> Session:
        return self.books.session

    @property
    def evaluator(self) -> Evaluator:
        return self.books.evaluator

    @property
    def lanes(self) -> list[Lane]:
        return self.books.lanes

    @property
    def gate(self) -> Gate:
        return self.books.gate

    @property
    def inbox(self) -> Inbox:
        return self.control.inbox

    @property
    def stop_reason(self) -> str | None:
        return self.books.stop_reason

    @property
    def paused(self) -> bool:
        """Every lane still running is paused."""
        return self.books.paused

    def context(self, lane: Lane) -> RunContext:
        """What ``lane``'s operator sees of the run."""
        return RunContext(lane, self.books, self.control, self.trials, self.steering)

    # -- wiring -----------------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, *, replay_from: int | None = None) -> None:
        """Receive every event published from now on (and, with ``replay_from``, those after
        that seq first). Subscribers are called one at a time, in order, from the thread of
        whichever lane published: they must not block."""
        self.books.subscribe(subscriber, replay_from)

    def on_progress(self, listener: ProgressListener) -> None:
        """Transient progress (evaluation phases), each naming its lane; not stored."""
        self.books.on_progress(listener)

    def submit(self, command: cmd.Command) -> None:
        """Thread-safe: the command applies at the engine's next safe point."""
        self.control.inbox.put(command)

    def abandon_evaluation(self) -> bool:
        """Thread-safe: cut the evaluations in flight short (a quit that will not wait for
        them). They are recorded as ``interrupted``, which is no failure of the kernel or of
        the step. False when none was running."""
        return self.books.evaluator.interrupt(CUT_BY_OPERATOR)

    # -- evaluation and commits, as a lane asks for them --------------------------------------

    def evaluate(self, files: dict[str, str], *, base: str | None, author: str, note: str = "",
                 quick: bool = False, idea: str | None = None, lane: int = 1) -> Trial:
        """Evaluate a candidate for lane number ``lane`` (Trials.evaluate)."""
        return self.trials.evaluate(files, base=base, author=author, note=note, quick=quick,
                                    idea=idea, lane=self.lanes[lane - 1])

    def commit(self, trial: Trial, message: str, author: str, transcript: str | None = None,
               lane: int = 1) -> Version | None:
        """Ask the commit gate for lane number ``lane`` (Trials.commit)."""
        return self.trials.commit(trial, message, author, self.lanes[lane - 1], transcript)

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> str:
        """Run until stopped or out of budget; returns why it ended."""
        books = self.books
        with books.locked():
            books.session.upgrade_state()
            recover_in_flight(self.trials.books,
                              "the run ended (crash or kill) during this evaluation")
            if announcement := queued_payload(books.session.directory):
                books.session.append(announcement)  # published with the status, before they apply
            books.supervisor.start(books.running_seconds())
            books.session.set_state(budgets=books.budgets.to_doc(), announce=False)
            books.set_status("running", announce=True)
            books.restart_clock()
            self._next_step = books.usage.steps + 1
        status = "stopped"
        try:
            status, reason = self._run_lanes()
            books.stop_reason = books.stop_reason or reason
        except KeyboardInterrupt:
            self._abandon("interrupted by Ctrl-C during this evaluation")
            books.stop_reason, status = "interrupted", "interrupted"
            raise
        except BaseException as error:
            self._abandon(None)  # the other lanes stop writing; their candidates stay in flight
            with suppress(Exception):
                books.error(f"the run stopped on an internal error: {error!r}",
                            traceback.format_exc()[-4000:])
            status = "crashed"
            raise
        finally:
            with suppress(Exception), books.locked():
                books.tick()
                books.set_status(status, reason=books.stop_reason or "", announce=True)
        return books.stop_reason or status

    def _run_lanes(self) -> tuple[str, str]:
        """Run every lane to its end, the first on this thread, the others on their own; the
        (status, reason) of the last one to end."""
        books = self.books
        first, *others = books.lanes
        with books.locked():
            for lane in books.lanes:
                if lane.label is not None:
                    books.session.append(StatusPayload(
                        "running", f"{lane.operator.name} lane", lane=lane.label))
            books.save()
            books.publish()
        self.control.apply_waiting(first)  # commands sent before the run apply before any step
        threads = [threading.Thread(target=self._lane_thread, args=(lane,), daemon=True,
                                    name=f"avo-lane-{lane.number}") for lane in others]
        for thread in threads:
            thread.start()
        self._lane_loop(first)
        for thread in threads:
            while thread.is_alive():
                thread.join(JOIN_POLL_S)
        if self._crash is not None:
            raise self._crash
        last = max(books.lanes, key=lambda lane: lane.ended_order)
        return last.ended or ("stopped", books.stop_reason or "stopped")

    def _lane_thread(self, lane: Lane) -> None:
        try:
            self._lane_loop(lane)
        except RunAbandoned:
            return
        except BaseException as error:  # the engine's or the store's: the run ends, crashed
            self._crash = self._crash or error
            self.books.stop_reason = (self.books.stop_reason
                                      or f"lane {lane.number} crashed: {error!r}")

    def _lane_loop(self, lane: Lane) -> tuple[str, str]:
        """One lane's steps, until it is stopped, its operator has nothing left, or a step or
        time budget is spent."""
        books = self.books
        while True:
            self.control.safe_point(lane, in_step=False)
            with books.locked():
                stop = books.stop_reason or lane.stop_reason
                if stop:
                    return self._end_lane(lane, "stopped", stop)
                exhausted = self._claim_step(lane)
                if exhausted:
                    return self._end_lane(lane, "finished", exhausted)
                redirect, lane.redirect = lane.redirect, None
            if redirect:
                self._redirect_operator(lane, redirect)
            result = self._step(lane)
            if result.exhausted:
                with books.locked():  # its saves write every lane's state, mid-step elsewhere
                    return self._end_lane(lane, "finished", result.summary)

    def _claim_step(self, lane: Lane) -> str | None:
        """Number the lane's next step, unless a step or time budget is spent (counting the
        steps other lanes have under way): then why. Under the lock."""
        usage = self.books.usage
        under_way = dataclasses.replace(usage, steps=usage.steps + self._running_steps)
        exhausted = under_way.exhausted(self.books.budgets)
        if exhausted:
            return exhausted
        self._running_steps += 1
        lane.step_number, self._next_step = self._next_step, self._next_step + 1
        return None

    def _end_lane(self, lane: Lane, status: str, reason: str) -> tuple[str, str]:
        books = self.books
        self._ended += 1
        lane.ended, lane.ended_order = (status, reason), self._ended
        books.save()
        if lane.label is not None:  # with one lane, the run's own status says it
            books.session.append(StatusPayload(status, reason, lane=lane.label))
            books.publish()
            books.run_status()
        return status, reason

    def _step(self, lane: Lane) -> StepResult:
        books = self.books
        with books.locked():
            self.trials.begin_step(lane)
        number = lane.step_number
        spent = lane.cost_usd, lane.tokens
        try:
            result = lane.operator.step(self.context(lane))
        except StepInterrupted as interrupted:
            result = StepResult(f"step ended early: {interrupted}")
        except Exception as error:  # the operator's bug: this step fails, the run goes on
            result = StepResult(f"step failed on an internal error: {error!r}", failed=True)
            books.error(result.summary, traceback.format_exc()[-4000:], lane.label)
        with books.locked():
            self._running_steps -= 1
            books.usage.steps += 1
            books.usage.last_step_cost_usd = round(lane.cost_usd - spent[0], 6)
            lane.steps += 1
            books.tick()
            lane.failed_steps = lane.failed_steps + 1 if result.failed else 0
            lane.carry = None if lane.lineage_moved else result.carry
            summary = result.summary
            if result.carry and lane.lineage_moved:  # the operator's choice wins
                summary += f"; {result.carry} dropped: the operator moved the lineage"
            books.save()
            books.session.append(StepPayload(
                step=number,
                summary=summary,
                version=result.committed.id if result.committed else None,
                cost_usd=books.usage.last_step_cost_usd,
                tokens=lane.tokens - spent[1],
                transcript=(books.session.blobs.put(result.transcript) if result.transcript
                            else None),
                failed=result.failed,
                lane=lane.label,
            ))
            books.session.drop_draft(lane.draft)  # the transcript is the record now
            books.publish()
            if lane.failed_steps >= FAILED_STEPS_TO_PAUSE:
                lane.failed_steps = 0
                books.save()
                self.control.pause([lane], f"{FAILED_STEPS_TO_PAUSE} steps in a row failed; "
                                   f"the last: {result.summary}. Fix the cause and resume")
        return result

    def _redirect_operator(self, lane: Lane, reason: str) -> None:
        """The supervisor's redirect; a fault in it is reported, and the run goes on."""
        try:
            lane.operator.redirect(self.context(lane), reason)
        except StepInterrupted:
            pass  # a stop or rollback during the review: the loop sees it
        except Exception as error:
            self.books.error(f"the supervisor's redirect failed on an internal error: "
                             f"{error!r}", traceback.format_exc()[-4000:], lane.label)

    def _abandon(self, why: str | None) -> None:
        """Give the run up from this thread: the other lanes' threads write nothing more, and
        with ``why`` every candidate in flight is recorded as interrupted now."""
        self.books.abandon()
        if why:
            with self.books.locked():
                recover_in_flight(self.trials.books, why)
