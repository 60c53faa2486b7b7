"""The step loop: runs an operator step after step, applies control commands at safe points,
keeps budgets, noise and the supervisor's counters in the session, and fans events out.

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
first; one that names a lane acts on that lane alone. With one operator there is one lane,
and the run, its records and its events are what they were before lanes.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, cast

from ..evaluation import EvalResult
from ..evaluation.paired import GatePlan
from ..operators.protocol import GateAnswer, Operator, StepInterrupted, StepResult, Trial
from ..pool import gpu_index
from ..store import (
    Attempt,
    ErrorPayload,
    Event,
    GuidancePayload,
    HintPayload,
    InFlight,
    PausePayload,
    Payload,
    PlanPayload,
    ResumePayload,
    Session,
    StatusPayload,
    StepPayload,
    StoreError,
    SupervisorPayload,
    UnknownVersion,
    Version,
)
from ..store.run_state import LaneState
from . import commands as cmd
from .budget import Budgets, Usage
from .context import RunContext
from .evaluator import Evaluator, score_of, sources_key
from .gate import Gate, GateDecisions, NoiseEstimate, Verdict, paired_of, unconfirmed
from .inbox import Inbox, describe, queued_payload
from .lanes import CONVERSATION, LANE_MEMORY, Lane, moved_note, starting_version
from .progress import Progress, ProgressListener
from .supervisor import Supervisor, SupervisorLimits

Subscriber = Callable[[Event], None]
PAUSED_POLL_S = 0.25
JOIN_POLL_S = 0.25  # a join that a second Ctrl-C can still interrupt
FAILED_STEPS_TO_PAUSE = 3
CUT_BY_OPERATOR = "cut short by the operator"

__all__ = ["CONVERSATION", "FAILED_STEPS_TO_PAUSE", "Engine", "RunAbandoned", "RunContext"]


class RunAbandoned(BaseException):
    """The run was given up (a second Ctrl-C, a crash) while another lane's thread worked: that
    thread writes nothing more (what it had in flight is recorded as interrupted). A
    BaseException, so that no operator's ``except Exception`` takes it for a fault of its own."""


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
        self.session = session
        self.evaluator = evaluator
        self.inbox = Inbox(session.directory)
        settings = session.meta.get("settings", {})
        state = session.run_state
        self.budgets = budgets or Budgets.from_doc(state.budgets or settings.get("budgets"))
        self.usage = Usage.from_doc(state.usage)
        self.gate = Gate(NoiseEstimate.from_doc(state.noise),
                         GateDecisions.from_doc(state.gate_decisions),
                         float(settings.get("gate_cap_s") or evaluator.target.gate_cap_s))
        self.supervisor = Supervisor.from_doc(
            state.supervisor,
            limits or SupervisorLimits.from_doc(settings.get("supervisor")),
        )
        self.guidance: str | None = state.guidance  # the session's, for every lane
        evaluator.baselines = dict(state.baselines or {}) | evaluator.baselines
        several = len(operators) > 1
        self.lanes = [Lane(n, op, n if several else None)
                      for n, op in enumerate(operators, start=1)]
        for lane in self.lanes:
            lane.load(state.lanes.get(str(lane.number)) if several else None, state)
        # What the state keeps of lanes this run does not run (all, in a run of one lane):
        # kept as it is.
        self._idle_lanes: dict[str, LaneState] = {
            k: v for k, v in state.lanes.items()
            if not several or not k.isdigit() or int(k) > len(self.lanes)
        }
        self.stop_reason: str | None = None
        self._subscribers: list[Subscriber] = []
        self._progress_listeners: list[ProgressListener] = []
        self._published = session.last_seq
        self._clock = time.monotonic()
        self._listener_errors: dict[int, str] = {}  # id(listener) -> the last error reported
        self._lock = threading.RLock()  # the engine's bookkeeping and the session's writes
        self._commands = threading.Lock()  # one thread applies the inbox at a time
        self._abandoned_by: int | None = None  # the thread that gave the run up
        self._next_step = self.usage.steps + 1
        self._running_steps = 0  # claimed by lanes, not yet done
        self._ended = 0
        self._crash: BaseException | None = None  # a lane thread's, raised by run()

    # -- lane 1, as a run without lanes knew it -----------------------------------------------

    @property
    def operator(self) -> Operator:
        return self.lanes[0].operator

    @property
    def paused(self) -> bool:
        """Every lane still running is paused."""
        live = [lane for lane in self.lanes if not lane.ended]
        return bool(live) and all(lane.paused for lane in live)

    @property
    def pending_hints(self) -> list[str]:
        return self.lanes[0].pending_hints

    @property
    def failed_steps(self) -> int:
        return self.lanes[0].failed_steps

    def lane(self, lane: Lane | None) -> Lane:
        return lane or self.lanes[0]

    @property
    def _several(self) -> bool:
        return len(self.lanes) > 1

    # -- wiring -------------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, *, replay_from: int | None = None) -> None:
        """Receive every event published from now on (and, with ``replay_from``, those after
        that seq first). Subscribers are called one at a time, in order, from the thread of
        whichever lane published (the engine's own with one lane): they must not block."""
        if replay_from is not None:
            for event in self.session.events(after=replay_from):
                subscriber(event)
        self._subscribers.append(subscriber)

    def on_progress(self, listener: ProgressListener) -> None:
        """Transient progress (evaluation phases), each naming its lane; not stored."""
        self._progress_listeners.append(listener)

    def submit(self, command: cmd.Command) -> None:
        """Thread-safe: the command applies at the engine's next safe point."""
        self.inbox.put(command)

    def abandon_evaluation(self) -> bool:
        """Thread-safe: cut the evaluations in flight short (a quit that will not wait for
        them). They are recorded as ``interrupted``, which is no failure of the kernel or of
        the step. False when none was running."""
        return self.evaluator.interrupt(CUT_BY_OPERATOR)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> str:
        """Run until stopped or out of budget; returns why it ended."""
        with self._locked():
            self._recover_in_flight("the run ended (crash or kill) during this evaluation")
            if announcement := queued_payload(self.session.directory):
                self.session.append(announcement)  # published with the status, before they apply
            self.supervisor.start(self.running_seconds())
            self.session.set_state(budgets=self.budgets.to_doc(), announce=False)
            self._set_status("running", announce=True)
            self._clock = time.monotonic()
            self._next_step = self.usage.steps + 1
        status = "stopped"
        try:
            status, reason = self._run_lanes()
            self.stop_reason = self.stop_reason or reason
        except KeyboardInterrupt:
            self._abandon("interrupted by Ctrl-C during this evaluation")
            self.stop_reason, status = "interrupted", "interrupted"
            raise
        except BaseException as error:
            self._abandon(None)  # the other lanes stop writing; their candidates stay in flight
            with suppress(Exception):
                self._error(f"the run stopped on an internal error: {error!r}",
                            traceback.format_exc()[-4000:])
            status = "crashed"
            raise
        finally:
            with suppress(Exception), self._locked():
                self._tick()
                self._set_status(status, reason=self.stop_reason or "", announce=True)
        return self.stop_reason or status

    def _run_lanes(self) -> tuple[str, str]:
        """Run every lane to its end; the (status, reason) of the last one to end."""
        first = self.lanes[0]
        if not self._several:
            return self._lane_loop(first)
        with self._locked():
            for lane in self.lanes:
                self.session.append(StatusPayload(
                    "running", f"{lane.operator.name} lane", lane=lane.number))
            self._save()
            self._publish()
        self._apply_waiting(first)  # commands sent before the run apply before any lane starts
        threads = [threading.Thread(target=self._lane_thread, args=(lane,), daemon=True,
                                    name=f"avo-lane-{lane.number}") for lane in self.lanes[1:]]
        for thread in threads:
            thread.start()
        self._lane_loop(first)
        for thread in threads:
            while thread.is_alive():
                thread.join(JOIN_POLL_S)
        if self._crash is not None:
            raise self._crash
        last = max(self.lanes, key=lambda lane: lane.ended_order)
        return last.ended or ("stopped", self.stop_reason or "stopped")

    def _lane_thread(self, lane: Lane) -> None:
        try:
            self._lane_loop(lane)
        except RunAbandoned:
            return
        except BaseException as error:  # the engine's or the store's: the run ends, crashed
            self._crash = self._crash or error
            self.stop_reason = self.stop_reason or f"lane {lane.number} crashed: {error!r}"

    def _lane_loop(self, lane: Lane) -> tuple[str, str]:
        """One lane's steps, until it is stopped, its operator has nothing left, or a step or
        time budget is spent."""
        while True:
            self.safe_point(in_step=False, lane=lane)
            with self._locked():
                stop = self.stop_reason or lane.stop_reason
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
                return self._end_lane(lane, "finished", result.summary)

    def _claim_step(self, lane: Lane) -> str | None:
        """Number the lane's next step, unless a step or time budget is spent (counting the
        steps other lanes have under way): then why. Under the lock."""
        under_way = dataclasses.replace(self.usage, steps=self.usage.steps + self._running_steps)
        exhausted = under_way.exhausted(self.budgets)
        if exhausted:
            return exhausted
        self._running_steps += 1
        lane.step_number, self._next_step = self._next_step, self._next_step + 1
        return None

    def _end_lane(self, lane: Lane, status: str, reason: str) -> tuple[str, str]:
        self._ended += 1
        lane.ended, lane.ended_order = (status, reason), self._ended
        if self._several:
            self._save()
            self.session.append(StatusPayload(status, reason, lane=lane.number))
            self._publish()
            self._run_status()
        return status, reason

    def _step(self, lane: Lane) -> StepResult:
        with self._locked():
            self._begin_step(lane)
        context = self._context(lane)
        number = lane.step_number
        spent = self._spent(lane)
        try:
            result = lane.operator.step(context)
        except StepInterrupted as interrupted:
            result = StepResult(f"step ended early: {interrupted}")
        except Exception as error:  # the operator's bug: this step fails, the run goes on
            result = StepResult(f"step failed on an internal error: {error!r}", failed=True)
            self._error(result.summary, traceback.format_exc()[-4000:], lane)
        with self._locked():
            cost, tokens = self._spent(lane)
            self._running_steps -= 1
            self.usage.steps += 1
            lane.steps += 1
            self._tick()
            lane.failed_steps = lane.failed_steps + 1 if result.failed else 0
            self._save()
            self.session.append(StepPayload(
                step=number,
                summary=result.summary,
                version=result.committed.id if result.committed else None,
                cost_usd=round(cost - spent[0], 6),
                tokens=tokens - spent[1],
                transcript=self.session.blobs.put(result.transcript) if result.transcript else None,
                failed=result.failed,
                lane=lane.label,
            ))
            self.session.drop_draft(lane.draft)  # the transcript is the record now
            self._publish()
            if lane.failed_steps >= FAILED_STEPS_TO_PAUSE:
                lane.failed_steps = 0
                self._save()
                self.pause(f"{FAILED_STEPS_TO_PAUSE} steps in a row failed; the last: "
                           f"{result.summary}. Fix the cause and resume", lane=lane)
        return result

    def _spent(self, lane: Lane) -> tuple[float, int]:
        """What has been spent so far, the lane's own when it shares the run with others."""
        if self._several:
            return lane.cost_usd, lane.tokens
        return self.usage.cost_usd, self.usage.tokens

    def _begin_step(self, lane: Lane) -> None:
        """Where the lane's step starts: the head for lane 1, the k-th best for lane k (the
        diversity lanes.py explains), or, for a step a dead run left a conversation of, the
        version it was built on. The best it starts with, to tell it if another lane moves it."""
        best = self.session.best()
        lane.best_at_start = best.id if best else None
        lane.answer = None
        if not self._several:
            return
        resumed = lane.base and lane.base in self.session.lineage and self.session.draft(
            lane.draft)
        if not resumed:
            lane.base = starting_version(self.session, lane.number).id
        self._save()

    def _redirect_operator(self, lane: Lane, reason: str) -> None:
        """The supervisor's redirect; a fault in it is reported, and the run goes on."""
        try:
            lane.operator.redirect(self._context(lane), reason)
        except StepInterrupted:
            pass  # a stop or rollback during the review: the loop sees it
        except Exception as error:
            self._error(f"the supervisor's redirect failed on an internal error: {error!r}",
                        traceback.format_exc()[-4000:], lane)

    def _context(self, lane: Lane | None = None) -> RunContext:
        return RunContext(self, self.lane(lane))

    def _abandon(self, why: str | None) -> None:
        """Give the run up from this thread: the other lanes' threads write nothing more, and
        with ``why`` every candidate in flight is recorded as interrupted now."""
        self._abandoned_by = threading.get_ident()
        if why:
            with self._locked():
                self._recover_in_flight(why)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._abandoned_by not in (None, threading.get_ident()):
                raise RunAbandoned
            yield

    # -- safe points and commands -------------------------------------------------------------

    def safe_point(self, in_step: bool = True, lane: Lane | None = None) -> None:
        """Apply waiting commands; block while the lane is paused; end its step if the ground
        moved."""
        lane = self.lane(lane)
        while True:
            self._apply_waiting(lane)
            with self._locked():
                overspent = self.usage.overspent(self.budgets)
                if overspent and not self.stop_reason and any(
                        not other.paused for other in self.lanes if not other.ended):
                    self.pause(
                        f"{overspent}; raise it (avo send {self.session.name} budget cost=N or "
                        f"tokens=N) and resume"
                    )
                stop = self.stop_reason or lane.stop_reason
                if in_step and (stop or lane.interrupt):
                    reason = stop or lane.interrupt
                    lane.interrupt = None
                    raise StepInterrupted(reason)
                if not lane.paused or stop:
                    lane.interrupt = None  # between steps: the next step starts from the new head
                    return
                self._tick()
            self.inbox.wait(PAUSED_POLL_S)
            with self._locked():
                if self.paused:
                    self._clock = time.monotonic()  # paused time does not count against the budget

    def _apply_waiting(self, lane: Lane) -> None:
        """Apply the commands waiting in the inbox, unless another lane is applying them."""
        if not self._commands.acquire(blocking=False):
            return
        try:
            for command in self.inbox.drain():
                self._apply(command, lane)
            with self._locked():
                for problem in self.inbox.rejected:
                    self._error(f"ignored an unreadable command: {problem}")
                self.inbox.rejected.clear()
        finally:
            self._commands.release()

    def pause(self, reason: str, lane: Lane | None = None) -> None:
        """Pause on the engine's own account (a spent budget, a rejected API key): every lane,
        or in a run of several the one ``lane`` named."""
        with self._locked():
            self._pause(self._scope(lane), reason, lane.label if lane else None)

    def _scope(self, lane: Lane | None) -> list[Lane]:
        return [lane] if lane is not None and self._several else self.lanes

    def _pause(self, lanes: list[Lane], reason: str, label: int | None) -> None:
        newly = [lane for lane in lanes if not lane.paused and not lane.ended]
        if not newly:
            return
        for lane in newly:
            lane.paused = True
        self._run_status(reason)
        self.event(PausePayload(reason, lane=label))

    def _resume(self, lanes: list[Lane], label: int | None) -> None:
        newly = [lane for lane in lanes if lane.paused]
        if not newly:
            return
        for lane in newly:
            lane.paused = False
        self._run_status()
        self.event(ResumePayload(lane=label))

    def _run_status(self, reason: str = "") -> None:
        """The run is paused when every lane still running is; the lanes' own statuses are in
        the state (several lanes)."""
        if self._several:
            self._save()
        status = "paused" if self.paused else "running"
        if status != self.session.state.get("status") or (status == "paused" and reason):
            self._set_status(status, reason=reason)

    def charge(self, cost_usd: float, tokens: int, lane: Lane | None = None) -> None:
        """Count an operator's spending (API calls) against the session's budgets, and the
        lane's. Spending only grows: a negative figure (a server's garbage) counts as nothing."""
        cost_usd, tokens = max(0.0, cost_usd), max(0, tokens)
        with self._locked():
            self.usage.cost_usd += cost_usd
            self.usage.tokens += tokens
            owner = self.lane(lane)
            owner.cost_usd += cost_usd
            owner.tokens += tokens
            fields: dict[str, Any] = {"usage": self.usage.to_doc()}
            if self._several:
                fields["lanes"] = self._lanes_doc()
            self.session.set_state(announce=False, **fields)

    def _apply(self, command: cmd.Command, by: Lane) -> None:
        """Apply one command, at ``by``'s safe point; one that names a lane acts on it alone."""
        number = cmd.lane_of(command)
        targets = self.lanes if number is None or not self._several else [
            lane for lane in self.lanes if lane.number == number]
        if number is not None and (not targets or number > len(self.lanes)):
            count = len(self.lanes)
            with self._locked():
                self._error(f"ignored {describe(command)}: this run has no lane {number} "
                            f"(it has {count} lane{'s' if count > 1 else ''})")
            return
        label = number if self._several else None
        match command:
            case cmd.Rollback() | cmd.OperatorEdit() | cmd.Approve() | cmd.Reject():
                with self.gate.lock:  # they move the lineage: never in the middle of a commit
                    self._apply_to_lineage(command, by)
            case _:
                with self._locked():
                    self._apply_to_lanes(command, targets, label)
        with self._locked():
            self._publish()

    def _apply_to_lanes(self, command: cmd.Command, targets: list[Lane],
                        label: int | None) -> None:
        session = self.session
        match command:
            case cmd.Pause():
                self._pause(targets, "", label)
            case cmd.Resume():
                self._resume(targets, label)
            case cmd.Hint(text=text):
                for lane in targets:
                    lane.pending_hints.append(text)
                self._save_hints()
                session.append(HintPayload("received", text, lane=label))
            case cmd.Guidance(text=text):
                if label is None:
                    self.guidance = text or None
                    for lane in self.lanes:
                        lane.guidance = None
                    fields: dict[str, Any] = {"guidance": self.guidance}
                    if self._several:
                        fields["lanes"] = self._lanes_doc()
                    session.set_state(announce=False, **fields)
                else:
                    targets[0].guidance = text or None
                    self._save()
                session.append(GuidancePayload("set" if text else "cleared", text, lane=label))
            case cmd.SetBudgets(limits=limits):
                try:
                    self.budgets = self.budgets.override(**limits)
                except TypeError as error:
                    self._error(f"cannot set budgets: {error}")
                else:
                    session.set_state(budgets=self.budgets.to_doc(), announce=False)
                    session.append(StatusPayload("budgets", changes=limits))
            case cmd.Stop(reason=reason):
                if label is None:
                    self.stop_reason = reason
                else:
                    targets[0].stop_reason = reason

    def _apply_to_lineage(self, command: cmd.Command, by: Lane) -> None:
        """Rollback, hand edit, approve, reject: under the gate. The running steps end."""
        match command:
            case cmd.Rollback(version=ref):
                with self._locked():
                    try:
                        target = self.session.rollback(ref)
                    except (UnknownVersion, StoreError) as error:
                        self._error(f"cannot roll back: {error}")
                    else:
                        self._interrupt_lanes(f"rolled back to {target.id}")
            case cmd.OperatorEdit(files=files, message=message):
                self._apply_edit(files, message, by)
            case cmd.Approve(attempt=ref):
                with self._locked():
                    self._approve(ref)
            case cmd.Reject(attempt=ref):
                with self._locked():
                    self._reject(ref)

    def _interrupt_lanes(self, reason: str) -> None:
        for lane in self.lanes:
            lane.interrupt = reason

    def _apply_edit(self, files: dict[str, str], message: str, by: Lane) -> None:
        with self._locked():
            head = self.session.head
        trial = self._evaluate(files, base=head.id, author="operator", note="hand edit",
                               lane=by, label=None)
        with self._locked():
            if not trial.result.correct:
                self._error(f"the hand edit was not committed: {trial.result.failure}")
                return
            version = self._paid_commit(lambda **paid: self.session.commit(
                files, author="operator", message=message, score=trial.score,
                attempt=trial.attempt.id, **paid))
            self.supervisor.observe_commit(self.running_seconds())
            self._interrupt_lanes(f"the operator committed {version.id}")

    def _approve(self, ref: str) -> None:
        """The operator believes a suspect: it becomes a version (child of the version it was
        built on, and the head), with its stored score; the running steps end."""
        try:
            suspect = self.session.suspect(ref)
        except StoreError as error:
            self._error(f"cannot approve {ref}: {error}")
            return
        version = self._paid_commit(lambda **paid: self.session.approve_suspect(
            ref, message=f"{suspect.message} (suspect {ref}, approved by the operator)", **paid))
        self.supervisor.observe_commit(self.running_seconds())
        self._save()
        self._interrupt_lanes(f"the operator approved {ref} as {version.id}")

    def _reject(self, ref: str) -> None:
        try:
            self.session.suspect(ref)
        except StoreError as error:
            self._error(f"cannot reject {ref}: {error}")
            return
        self.session.reject_suspect(ref, reason="rejected by the operator")

    # -- evaluation and commits ---------------------------------------------------------------

    def evaluate(
        self, files: dict[str, str], *, base: str, author: str, note: str = "", quick: bool = False,
        idea: str | None = None, lane: Lane | None = None,
    ) -> Trial:
        """Evaluate a candidate and record it as an attempt (the supervisor watches).

        ``quick`` scores on the target's quick grid; unless the session itself is quick, such a
        score is not comparable with the versions', so the attempt is only ``checked``.
        ``idea`` is what the operator says it tried, kept with the attempt; ``lane`` the lane
        that asks (lane 1 by default)."""
        lane = self.lane(lane)
        return self._evaluate(files, base=base, author=author, note=note, quick=quick,
                              idea=idea, lane=lane, label=lane.label)

    def _evaluate(
        self, files: dict[str, str], *, base: str, author: str, note: str = "",
        quick: bool = False, idea: str | None = None, lane: Lane, label: int | None,
    ) -> Trial:
        quick = quick and not self.evaluator.quick
        result = self._measure(files, base, author, quick=quick, lane=lane, beside_best=True)
        with self._locked():
            outcome, detail = self._classify(result, quick)
            attempt = self._record_attempt(
                label,
                files,
                base=base,
                author=author,
                outcome=outcome,
                detail=f"{note}: {detail}" if note else detail,
                score=score_of(result),
                log=_result_log(result),
                idea=idea,
            )
            self._after_evaluation(result, lane)
            # Sources that compile to the same kernel are one candidate to the supervisor too.
            trial = Trial(attempt, result, dict(files), result.kernel_id or sources_key(files))
            self._observe(attempt, trial.key, lane)
            self._save()
            self._publish()
        return trial

    def _record_attempt(self, label: int | None, files: dict[str, str], **fields: Any) -> Attempt:
        return self.session.record_attempt(files, lane=label, **fields)

    def _observe(self, attempt: Attempt, key: str, lane: Lane | None = None) -> None:
        """Show the supervisor an attempt, the gate's included; a stall redirects the lane
        whose attempt showed it (the others go on as they were)."""
        lane = self.lane(lane)
        reason = self.supervisor.observe_attempt(attempt.outcome, key, self.running_seconds())
        if reason:
            self.session.append(SupervisorPayload(reason, "redirect", attempt=attempt.id,
                                                   lane=lane.label))
            lane.redirect = reason

    def commit(
        self, trial: Trial, message: str, author: str, transcript: str | None = None,
        lane: Lane | None = None,
    ) -> Version | None:
        """The commit gate (engine/gate.py): re-evaluate beside the best, then commit only a
        clear gain. Each kernel gets one decision against a given best: asking again, with the
        same source or one that compiles to the same kernel, is answered ``unchanged`` without
        measuring (noise would otherwise say yes to one try in a few). ``transcript`` (the
        agent's conversation so far) is kept with the re-evaluation.

        One request at a time: the best is read under the gate's lock, so a lane whose step
        began on an older best is judged against the best of now, and its answer says so."""
        if trial.outcome != "promising":
            return None
        lane = self.lane(lane)
        with self.gate.lock:
            with self._locked():
                best = self.session.best()
                moved = lane.best_at_start if best and best.id != lane.best_at_start else None
                hashes = self.session.store_files(trial.files)
                identical = [v.id for v in (self.session.version(trial.attempt.base), best)
                             if v and v.files == hashes] or self._held_suspects_with(hashes)
                refused = self.gate.refusal(trial, best, moved, identical)
                if refused:
                    self._unchanged(trial, author, refused[1], lane, best, moved,
                                    outcome=refused[0])
                    return None
            confirm = self._measure(trial.files, trial.attempt.base, author, incumbent=best,
                                    lane=lane, gate=self.gate.plan)
            with self._locked():
                return self._decide(trial, confirm, best, moved, message, author, transcript,
                                    lane)

    def _decide(
        self, trial: Trial, confirm: EvalResult, best: Version | None, moved: str | None,
        message: str, author: str, transcript: str | None, lane: Lane,
    ) -> Version | None:
        if confirm.same_as_incumbent:
            self._after_evaluation(lane=lane)
            self._unchanged(trial, author, f"compiles to the same kernel as the best, "
                            f"{best.id if best else '?'}: nothing new to commit", lane, best,
                            moved)
            return None
        verdict = self.gate.verdict(trial, confirm, best)
        note = moved_note(moved, best)
        if verdict.held:
            attempt = self._hold_as_suspect(trial, confirm, verdict, message, author, transcript,
                                            lane, note)
        else:
            attempt = self._record_decision(trial, confirm, verdict, message, author, transcript,
                                            lane, note)
        self.gate.decided(trial, confirm, best, attempt.id)
        lane.answer = GateAnswer(attempt, best.id if best else None, moved)
        self._observe(attempt, trial.key, lane)
        self._save()
        self._publish()
        return self.session.version(attempt.version) if attempt.version else None

    def _record_decision(
        self, trial: Trial, confirm: EvalResult, verdict: Verdict, message: str, author: str,
        transcript: str | None, lane: Lane | None = None, note: str = "",
    ) -> Attempt:
        lane = self.lane(lane)
        version = None
        if verdict.accepted:
            version = self._paid_commit(lambda **paid: self._commit_version(
                lane,
                trial.files,
                parent=trial.attempt.base,
                author=author,
                message=message,
                score=score_of(confirm),
                attempt=trial.attempt.id,
                **paid,
            ))
            lane.commits += 1
            self.supervisor.observe_commit(self.running_seconds())
        outcome = "committed" if verdict.accepted else (
            "not_confirmed" if confirm.correct else confirm.failure.kind  # type: ignore[union-attr]
        )
        detail = f"re-evaluation of {trial.attempt.id}: {verdict.reason}"
        if outcome == "not_confirmed":
            best = self.session.best()
            detail = unconfirmed(trial.attempt.id, trial.result.geomean,
                                 best.score.gmean if best and best.score else None,
                                 best.id if best else None, verdict.reason,
                                 paired_of(trial.result))
        attempt = self._record_attempt(
            lane.label,
            trial.files,
            base=trial.attempt.base,
            author=author,
            outcome=outcome,
            detail=_with_notes(detail + note + (f" ({confirm.failure})" if confirm.failure
                                                else ""), confirm),
            score=score_of(confirm),
            log=_result_log(confirm),
            transcript=transcript,
            version=version.id if version else None,
            idea=trial.attempt.idea,
        )
        self._after_evaluation(lane=lane)
        return attempt

    def _commit_version(self, lane: Lane, files: dict[str, str], *, parent: str,
                        **fields: Any) -> Version:
        """A lane's version: on the head with one lane (its step ends before the head moves),
        on the version the lane built on with several."""
        return self.session.commit(files, lane=lane.label,
                                   parent=None if lane.label is None else parent, **fields)

    def _paid_commit(self, commit: Callable[..., Version]) -> Version:
        """Call ``commit`` (the session's commit or approve_suspect) with the version's cost:
        what was spent since the last commit, every step (of every lane) that led to it, failed
        ones included. The usage, marked as paid up to here, goes into the same write."""
        cost_usd, tokens = self.usage.since_commit()
        paid = self.usage.committed()
        version = commit(cost_usd=cost_usd, tokens=tokens, state={"usage": paid.to_doc()})
        self.usage = paid
        return version

    def _unchanged(self, trial: Trial, author: str, detail: str, lane: Lane | None = None,
                   best: Version | None = None, moved: str | None = None,
                   outcome: str = "unchanged") -> None:
        """A gate request answered without measuring; the supervisor counts it all the same."""
        lane = self.lane(lane)
        attempt = self._record_attempt(
            lane.label, trial.files, base=trial.attempt.base, author=author, outcome=outcome,
            detail=detail + moved_note(moved, best),
        )
        lane.answer = GateAnswer(attempt, best.id if best else None, moved)
        self._observe(attempt, trial.key, lane)
        self._save()
        self._publish()

    def _hold_as_suspect(
        self, trial: Trial, confirm: EvalResult, verdict: Verdict, message: str, author: str,
        transcript: str | None, lane: Lane | None = None, note: str = "",
    ) -> Attempt:
        """The suspect rule (gate.hold_if_flagged): a flagged result the gate would accept is
        not committed but recorded as a ``suspect`` attempt, with the re-evaluation's score and
        log, pending in the state until the operator approves or rejects it."""
        lane = self.lane(lane)
        score = score_of(confirm)
        assert score is not None, "only a correct re-evaluation is held"
        fields: dict[str, Any] = dict(
            base=trial.attempt.base,
            author=author,
            message=message,
            flags=verdict.flags,
            score=score,
            detail=f"re-evaluation of {trial.attempt.id}: {verdict.reason}{note}",
            log=_result_log(confirm),
            transcript=transcript,
        )
        suspect = self.session.hold_suspect(trial.files, lane=lane.label, **fields)
        self._after_evaluation(lane=lane)
        return self.session.attempt(suspect.attempt)

    def _held_suspects_with(self, hashes: dict[str, str]) -> list[str]:
        """Pending suspects with these very files: held once, not evaluated again."""
        same = []
        for suspect in self.session.suspects():
            with suppress(StoreError):
                if self.session.attempt(suspect.attempt).files == hashes:
                    same.append(f"{suspect.attempt} (a suspect held for the operator's review)")
        return same

    def commit_bar(self) -> str:
        """What a commit needs now, in words (Gate.needs)."""
        with self._locked():
            return self.gate.needs(self.session.best())

    def _measure(
        self, files: dict[str, str], base: str, author: str, quick: bool = False,
        incumbent: Version | None = None, lane: Lane | None = None,
        gate: GatePlan | None = None, beside_best: bool = False,
    ) -> EvalResult:
        """Evaluate ``files`` (outside the lock: other lanes go on meanwhile); with
        ``incumbent``, time that version beside them, for the gate's ``gate`` plan. With
        ``beside_best`` (a first reading on the session's grid), the best is timed beside
        them for a short while, unless they are its very files."""
        lane = self.lane(lane)
        with self._locked():
            hashes = self.session.store_files(files)
            lane.in_flight = InFlight(base, author, hashes, time.time())
            self._save_in_flight(lane)
            best = self.session.best()
            previous = None if quick else best.score.gmean if best and best.score else None
            if beside_best and not quick and best is not None and best.files != hashes:
                incumbent = best
            beside = self.session.read_files(incumbent) if incumbent else None
        return self.evaluator.evaluate(
            files,
            previous_best=previous,
            # The gate's score becomes the version's: its ratios to the baselines are timed
            # in the same blocks as its gain, not taken from an earlier hour.
            fresh_baselines=gate is not None,
            on_progress=lambda phase, detail: self._progress(phase, detail, lane),
            quick=quick or None,
            incumbent=beside,
            gate=gate,
            on_lease=lambda host: self._leased(lane, host),
        )

    def _leased(self, lane: Lane, host: Mapping[str, object]) -> None:
        """The lane's evaluation got its worker: the GPU it holds is saved with the candidate
        in flight, so every view (an attached one too) can say which GPU is doing what."""
        gpu = gpu_index(host)
        with self._locked():
            flight = lane.in_flight
            if flight is None or flight.gpu == gpu:
                return
            lane.in_flight = dataclasses.replace(flight, gpu=gpu)
            self._save_in_flight(lane)

    def _save_in_flight(self, lane: Lane) -> None:
        """Lane 1's candidate in flight is the state's ``in_flight``, as without lanes; the
        others' are in their lanes' entries."""
        if lane.number == 1:
            doc = lane.in_flight.to_doc() if lane.in_flight else None
            self.session.set_state(in_flight=doc, announce=False)
        else:
            self.session.set_state(lanes=self._lanes_doc(), announce=False)

    def _classify(self, result: EvalResult, quick: bool = False) -> tuple[str, str]:
        if result.failure is not None:
            return result.failure.kind, str(result.failure)
        best = self.session.best()
        if result.same_as_incumbent:
            return "unchanged", (f"compiles to the same kernel as the best, "
                                 f"{best.id if best else '?'}: nothing new to measure")
        ratio = f", {result.ratio:.3f}x baseline" if result.ratio is not None else ""
        text = f"{result.geomean:.4g} {result.unit}{ratio}"
        if quick:
            return "checked", _with_notes(f"quick grid: {text}", result)
        if best is None or best.score is None or not best.score.gmean:
            return "promising", _with_notes(text, result)
        outcome, compared = self.gate.reading(result, best)
        text += f"; {compared}"
        if result.flags:
            text += "; flagged: " + "; ".join(result.flags)
        return outcome, _with_notes(text, result)

    def _after_evaluation(self, result: EvalResult | None = None,
                          lane: Lane | None = None) -> None:
        lane = self.lane(lane)
        lane.in_flight = None
        fields: dict[str, object] = (
            {"in_flight": None} if lane.number == 1 else {"lanes": self._lanes_doc()})
        if result is not None and result.hardware and (
                result.hardware != self.session.run_state.hardware):
            fields["hardware"] = dict(result.hardware)
        if (baselines := self.evaluator.take_new_baselines()) is not None:
            fields["baselines"] = baselines
        self.session.set_state(announce=False, **fields)

    def _recover_in_flight(self, why: str) -> None:
        """Record what a dead or interrupted run left unfinished, once: lane 1's candidate
        in flight, and those of lanes 2 and up."""
        state = self.session.run_state
        others = sorted((int(k), entry.in_flight) for k, entry in state.lanes.items()
                        if k.isdigit() and int(k) > 1)
        pending = [(1, state.in_flight), *others]
        if not any(flight for _, flight in pending):
            return
        recent = self.session.recent_attempts(2 * len(pending))
        for number, flight in pending:
            if flight is None:
                continue
            label = number if number > 1 or self._several else None
            files = {name: self.session.blobs.get_text(h) for name, h in flight.files.items()}
            already = any(a.files == dict(flight.files) and a.created >= flight.started
                          and a.lane == label for a in recent)
            if not already:
                self._record_attempt(label, files, base=flight.base, author=flight.author,
                                     outcome="interrupted", detail=why)
        for lane in self.lanes:
            lane.in_flight = None
        self._idle_lanes = {k: dataclasses.replace(v, in_flight=None)
                            for k, v in self._idle_lanes.items()}
        fields: dict[str, Any] = {"in_flight": None}
        if state.lanes:
            fields["lanes"] = self._lanes_doc()
        self.session.set_state(announce=False, **fields)
        self._publish()

    # -- hints, guidance, plans and memory, per lane ------------------------------------------

    def take_hints(self, lane: Lane | None = None) -> list[str]:
        lane = self.lane(lane)
        with self._locked():
            hints, lane.pending_hints = lane.pending_hints, []
            if hints:
                self._save_hints()
            return hints

    def _save_hints(self) -> None:
        fields: dict[str, Any] = {"pending_hints": list(self.lanes[0].pending_hints)}
        if self._several:
            fields["lanes"] = self._lanes_doc()
        self.session.set_state(announce=False, **fields)

    def guidance_for(self, lane: Lane | None) -> str | None:
        """The standing guidance a lane follows: its own, else the session's."""
        own = self.lane(lane).guidance
        return own if own is not None else self.guidance

    def plan(self, text: str, lane: Lane | None = None) -> None:
        lane = self.lane(lane)
        with self._locked():
            lane.plan = text
            if self._several:
                self._save()
            self.event(PlanPayload(text), lane)

    def memory(self, lane: Lane | None = None) -> dict[str, Any]:
        with self._locked():
            shared = dict(self.session.run_state.operator_memory or {})
            return self.lane(lane).own_memory(shared)

    def remember(self, lane: Lane | None, fields: dict[str, Any]) -> None:
        """Keep what the operator remembers: the lane's own part (lanes.LANE_MEMORY) with the
        lane, lane 1's and the rest in the session's memory, which every lane reads."""
        lane = self.lane(lane)
        with self._locked():
            shared = dict(self.session.run_state.operator_memory or {})
            if lane.number == 1:
                self.session.set_state(operator_memory=shared | fields, announce=False)
                return
            own = {k: v for k, v in fields.items() if k in LANE_MEMORY}
            lane.memory |= own
            rest = {k: v for k, v in fields.items() if k not in own}
            self.session.set_state(operator_memory=shared | rest, lanes=self._lanes_doc(),
                                   announce=False)

    def update_memory(self, lane: Lane | None,
                      change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        with self._locked():
            self.remember(lane, change(self.memory(lane)))

    # -- state and events ---------------------------------------------------------------------

    def running_seconds(self) -> float:
        """The session's running time so far, this run's included: the supervisor's clock,
        which neither a pause nor the time between two runs (a weekend) advances."""
        return self.usage.seconds + (time.monotonic() - self._clock)

    def _tick(self) -> None:
        now = time.monotonic()
        self.usage.seconds += now - self._clock
        self._clock = now

    def _lanes_doc(self) -> dict[str, Any]:
        lanes = {k: v.to_doc() for k, v in self._idle_lanes.items()}
        if not self._several:
            return lanes
        return lanes | {str(lane.number): lane.state().to_doc() for lane in self.lanes}

    def _save(self) -> None:
        fields: dict[str, Any] = dict(
            step=self.usage.steps,
            usage=self.usage.to_doc(),
            **self.gate.state(),
            supervisor=self.supervisor.to_doc(),
            failed_steps=self.lanes[0].failed_steps,
        )
        if self._several:
            fields["lanes"] = self._lanes_doc()
        self.session.set_state(announce=False, **fields)

    def _set_status(self, status: str, *, announce: bool = False, reason: str = "") -> None:
        self.session.set_state(status=status, reason=reason, announce=announce)
        self._publish()

    def event(self, payload: Payload, lane: Lane | None = None) -> None:
        """Record an event, and publish it; one from a lane of several names the lane."""
        label = lane.label if lane else None
        if label is not None and getattr(payload, "lane", 0) is None:
            payload = dataclasses.replace(payload, lane=label)  # type: ignore[type-var]
        with self._locked():
            self.session.append(payload)
            self._publish()

    def _error(self, message: str, traceback: str | None = None,
               lane: Lane | None = None) -> None:
        self.event(ErrorPayload(message, traceback), lane)

    def _publish(self) -> None:
        """Hand new events to every subscriber, one at a time and in order. One that raises is
        kept (the next event may well suit it) and reported as an error event, once per
        distinct error, so a broken view neither stops the run nor floods the log."""
        with self._locked():
            while self._published < self.session.last_seq:
                for event in self.session.events(after=self._published):
                    self._published = event.seq
                    for subscriber in list(self._subscribers):
                        try:
                            subscriber(event)
                        except Exception as error:
                            self._listener_failed(subscriber, "a subscriber", error, event.seq)

    def _progress(self, phase: str, detail: str, lane: Lane | None = None) -> None:
        progress = Progress(f"{phase} {detail}".strip(), self.lane(lane).label)
        with self._locked():
            for listener in list(self._progress_listeners):
                try:
                    listener(progress)
                except Exception as error:
                    self._listener_failed(listener, "a progress listener", error, None)
                    self._publish()

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


def _with_notes(detail: str, result: EvalResult) -> str:
    """An attempt's detail, and what the evaluator noted about how it measured (machine load)."""
    return "; ".join([detail, *result.notes])


def _result_log(result: EvalResult) -> str:
    return json.dumps(result.as_dict(), indent=1)

