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
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from ..evaluation import EvalResult
from ..operators.protocol import Operator, StepInterrupted, StepResult, Trial
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
from ..store.view import SessionView
from . import commands as cmd
from .budget import Budgets, Usage
from .evaluator import Evaluator, score_of, sources_key
from .gate import (
    GateDecisions,
    NoiseEstimate,
    Verdict,
    first_reading,
    hold_if_flagged,
    judge,
    judge_beside,
    threshold,
    unconfirmed,
)
from .inbox import Inbox, queued_payload
from .supervisor import Supervisor, SupervisorLimits

Subscriber = Callable[[Event], None]
ProgressListener = Callable[[str], None]
PAUSED_POLL_S = 0.25
FAILED_STEPS_TO_PAUSE = 3
CONVERSATION = "conversation"  # the draft holding the agent's step in flight
# Re-evaluations that say nothing about the candidate: asking the gate again may be answered.
NOT_DECIDED = frozenset({"timeout", "internal", "toolchain", "incumbent_failed", "interrupted"})
CUT_BY_OPERATOR = "cut short by the operator"


class Engine:
    def __init__(
        self,
        session: Session,
        operator: Operator,
        evaluator: Evaluator,
        *,
        budgets: Budgets | None = None,
        limits: SupervisorLimits | None = None,
    ) -> None:
        self.session = session
        self.operator = operator
        self.evaluator = evaluator
        self.inbox = Inbox(session.directory)
        settings = session.meta.get("settings", {})
        state = session.run_state
        self.budgets = budgets or Budgets.from_doc(state.budgets or settings.get("budgets"))
        self.usage = Usage.from_doc(state.usage)
        self.noise = NoiseEstimate.from_doc(state.noise)
        self.decisions = GateDecisions.from_doc(state.gate_decisions)
        self.supervisor = Supervisor.from_doc(
            state.supervisor,
            limits or SupervisorLimits.from_doc(settings.get("supervisor")),
        )
        self.pending_hints: list[str] = list(state.pending_hints)
        self.guidance: str | None = state.guidance
        evaluator.baselines = dict(state.baselines or {}) | evaluator.baselines
        self.paused = False
        self.stop_reason: str | None = None
        self._interrupt: str | None = None  # why the running step must end at its next safe point
        self._redirect: str | None = None
        self._subscribers: list[Subscriber] = []
        self._progress_listeners: list[ProgressListener] = []
        self._published = session.last_seq
        self._clock = time.monotonic()
        self.failed_steps = state.failed_steps
        self._listener_errors: dict[int, str] = {}  # id(listener) -> the last error reported

    # -- wiring -------------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, *, replay_from: int | None = None) -> None:
        """Receive every event published from now on (and, with ``replay_from``, those after
        that seq first). Subscribers run on the engine's thread: they must not block."""
        if replay_from is not None:
            for event in self.session.events(after=replay_from):
                subscriber(event)
        self._subscribers.append(subscriber)

    def on_progress(self, listener: ProgressListener) -> None:
        """Transient progress (evaluation phases); not stored."""
        self._progress_listeners.append(listener)

    def submit(self, command: cmd.Command) -> None:
        """Thread-safe: the command applies at the engine's next safe point."""
        self.inbox.put(command)

    def abandon_evaluation(self) -> bool:
        """Thread-safe: cut the evaluation in flight short (a quit that will not wait for it).
        It is recorded as ``interrupted``, which is no failure of the kernel or of the step.
        False when none was running."""
        return self.evaluator.worker.interrupt(CUT_BY_OPERATOR)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> str:
        """Run until stopped or out of budget; returns why it ended."""
        self._recover_in_flight("the run ended (crash or kill) during this evaluation")
        if announcement := queued_payload(self.session.directory):
            self.session.append(announcement)  # published with the status, before they apply
        self.supervisor.start(self.running_seconds())
        self.session.set_state(budgets=self.budgets.to_doc(), announce=False)
        self._set_status("running", announce=True)
        self._clock = time.monotonic()
        status = "stopped"
        try:
            while True:
                self.safe_point(in_step=False)
                if self.stop_reason:
                    break
                exhausted = self.usage.exhausted(self.budgets)
                if exhausted:
                    self.stop_reason, status = exhausted, "finished"
                    break
                if self._redirect:
                    reason, self._redirect = self._redirect, None
                    self._redirect_operator(reason)
                result = self._step()
                if result.exhausted:
                    self.stop_reason, status = result.summary, "finished"
                    break
        except KeyboardInterrupt:
            self._recover_in_flight("interrupted by Ctrl-C during this evaluation")
            self.stop_reason, status = "interrupted", "interrupted"
            raise
        except BaseException as error:
            with suppress(Exception):
                self._error(f"the run stopped on an internal error: {error!r}",
                            traceback.format_exc()[-4000:])
            status = "crashed"
            raise
        finally:
            with suppress(Exception):
                self._tick()
                self._set_status(status, reason=self.stop_reason or "", announce=True)
        return self.stop_reason or status

    def _step(self) -> StepResult:
        context = self._context()
        number = self.usage.steps + 1
        cost, tokens = self.usage.cost_usd, self.usage.tokens
        try:
            result = self.operator.step(context)
        except StepInterrupted as interrupted:
            result = StepResult(f"step ended early: {interrupted}")
        except Exception as error:  # the operator's bug: this step fails, the run goes on
            result = StepResult(f"step failed on an internal error: {error!r}", failed=True)
            self._error(result.summary, traceback.format_exc()[-4000:])
        self.usage.steps = number
        self._tick()
        self.failed_steps = self.failed_steps + 1 if result.failed else 0
        self._save()
        self.session.append(StepPayload(
            step=number,
            summary=result.summary,
            version=result.committed.id if result.committed else None,
            cost_usd=round(self.usage.cost_usd - cost, 6),
            tokens=self.usage.tokens - tokens,
            transcript=self.session.blobs.put(result.transcript) if result.transcript else None,
            failed=result.failed,
        ))
        self.session.drop_draft(CONVERSATION)  # the transcript is the record now
        self._publish()
        if self.failed_steps >= FAILED_STEPS_TO_PAUSE:
            self.failed_steps = 0
            self._save()
            self.pause(f"{FAILED_STEPS_TO_PAUSE} steps in a row failed; the last: "
                       f"{result.summary}. Fix the cause and resume")
        return result

    def _redirect_operator(self, reason: str) -> None:
        """The supervisor's redirect; a fault in it is reported, and the run goes on."""
        try:
            self.operator.redirect(self._context(), reason)
        except StepInterrupted:
            pass  # a stop or rollback during the review: the loop sees it
        except Exception as error:
            self._error(f"the supervisor's redirect failed on an internal error: {error!r}",
                        traceback.format_exc()[-4000:])

    def _context(self) -> RunContext:
        return RunContext(self)

    # -- safe points and commands -------------------------------------------------------------

    def safe_point(self, in_step: bool = True) -> None:
        """Apply waiting commands; block while paused; end the step if the ground moved."""
        while True:
            for command in self.inbox.drain():
                self._apply(command)
            for problem in self.inbox.rejected:
                self._error(f"ignored an unreadable command: {problem}")
            self.inbox.rejected.clear()
            overspent = self.usage.overspent(self.budgets)
            if overspent and not self.paused and not self.stop_reason:
                self.pause(
                    f"{overspent}; raise it (avo send {self.session.name} budget cost=N or "
                    f"tokens=N) and resume"
                )
            if in_step and (self.stop_reason or self._interrupt):
                reason = self.stop_reason or self._interrupt
                self._interrupt = None
                raise StepInterrupted(reason)
            if not self.paused or self.stop_reason:
                self._interrupt = None  # between steps: the next step starts from the new head
                return
            self._tick()
            self.inbox.wait(PAUSED_POLL_S)
            self._clock = time.monotonic()  # paused time does not count against the budget

    def pause(self, reason: str) -> None:
        """Pause on the engine's own account (a spent budget, a rejected API key)."""
        if self.paused:
            return
        self.paused = True
        self._set_status("paused", reason=reason)
        self.event(PausePayload(reason))

    def charge(self, cost_usd: float, tokens: int) -> None:
        """Count an operator's spending (API calls) against the session's budgets. Spending
        only grows: a negative figure (a server's garbage) counts as nothing."""
        self.usage.cost_usd += max(0.0, cost_usd)
        self.usage.tokens += max(0, tokens)
        self.session.set_state(usage=self.usage.to_doc(), announce=False)

    def _apply(self, command: cmd.Command) -> None:
        session = self.session
        match command:
            case cmd.Pause() if not self.paused:
                self.paused = True
                self._set_status("paused")
                session.append(PausePayload())
            case cmd.Resume() if self.paused:
                self.paused = False
                self._set_status("running")
                session.append(ResumePayload())
            case cmd.Hint(text=text):
                self.pending_hints.append(text)
                session.set_state(pending_hints=self.pending_hints, announce=False)
                session.append(HintPayload("received", text))
            case cmd.Guidance(text=text):
                self.guidance = text or None
                session.set_state(guidance=self.guidance, announce=False)
                session.append(GuidancePayload("set" if self.guidance else "cleared", text))
            case cmd.Rollback(version=ref):
                try:
                    target = session.rollback(ref)
                except (UnknownVersion, StoreError) as error:
                    self._error(f"cannot roll back: {error}")
                else:
                    self._interrupt = f"rolled back to {target.id}"
            case cmd.OperatorEdit(files=files, message=message):
                self._apply_edit(files, message)
            case cmd.SetBudgets(limits=limits):
                try:
                    self.budgets = self.budgets.override(**limits)
                except TypeError as error:
                    self._error(f"cannot set budgets: {error}")
                else:
                    session.set_state(budgets=self.budgets.to_doc(), announce=False)
                    session.append(StatusPayload("budgets", changes=limits))
            case cmd.Approve(attempt=ref):
                self._approve(ref)
            case cmd.Reject(attempt=ref):
                self._reject(ref)
            case cmd.Stop(reason=reason):
                self.stop_reason = reason
            case _:
                pass  # a pause while paused, a resume while running
        self._publish()

    def _apply_edit(self, files: dict[str, str], message: str) -> None:
        head = self.session.head
        trial = self.evaluate(files, base=head.id, author="operator", note="hand edit")
        if not trial.result.correct:
            self._error(f"the hand edit was not committed: {trial.result.failure}")
            return
        version = self._paid_commit(lambda **paid: self.session.commit(
            files, author="operator", message=message, score=trial.score,
            attempt=trial.attempt.id, **paid))
        self.supervisor.observe_commit(self.running_seconds())
        self._interrupt = f"the operator committed {version.id}"

    def _approve(self, ref: str) -> None:
        """The operator believes a suspect: it becomes a version (child of the version it was
        built on, and the head), with its stored score; the running step ends."""
        try:
            suspect = self.session.suspect(ref)
        except StoreError as error:
            self._error(f"cannot approve {ref}: {error}")
            return
        version = self._paid_commit(lambda **paid: self.session.approve_suspect(
            ref, message=f"{suspect.message} (suspect {ref}, approved by the operator)", **paid))
        self.supervisor.observe_commit(self.running_seconds())
        self._save()
        self._interrupt = f"the operator approved {ref} as {version.id}"

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
        idea: str | None = None,
    ) -> Trial:
        """Evaluate a candidate and record it as an attempt (the supervisor watches).

        ``quick`` scores on the target's quick grid; unless the session itself is quick, such a
        score is not comparable with the versions', so the attempt is only ``checked``.
        ``idea`` is what the operator says it tried, kept with the attempt."""
        quick = quick and not self.evaluator.quick
        result = self._measure(files, base, author, quick=quick)
        outcome, detail = self._classify(result, quick)
        attempt = self.session.record_attempt(
            files,
            base=base,
            author=author,
            outcome=outcome,
            detail=f"{note}: {detail}" if note else detail,
            score=score_of(result),
            log=_result_log(result),
            idea=idea,
        )
        self._after_evaluation(result)
        # Sources that compile to the same kernel are one candidate to the supervisor too.
        trial = Trial(attempt, result, dict(files), result.kernel_id or sources_key(files))
        self._observe(attempt, trial.key)
        self._save()
        self._publish()
        return trial

    def _observe(self, attempt: Attempt, key: str) -> None:
        """Show the supervisor an attempt, the gate's included; a stall starts a redirect."""
        reason = self.supervisor.observe_attempt(attempt.outcome, key, self.running_seconds())
        if reason:
            self.session.append(SupervisorPayload(reason, "redirect", attempt=attempt.id))
            self._redirect = reason

    def commit(
        self, trial: Trial, message: str, author: str, transcript: str | None = None
    ) -> Version | None:
        """The commit gate (engine/gate.py): re-evaluate beside the best, then commit only a
        clear gain. Each kernel gets one decision against a given best: asking again, with the
        same source or one that compiles to the same kernel, is answered ``unchanged`` without
        measuring (noise would otherwise say yes to one try in a few). ``transcript`` (the
        agent's conversation so far) is kept with the re-evaluation."""
        if trial.outcome != "promising":
            return None
        best = self.session.best()
        hashes = self.session.store_files(trial.files)
        same = [v.id for v in (self.session.version(trial.attempt.base), best)
                if v and v.files == hashes] or self._held_suspects_with(hashes)
        if same:  # noise can flatter a source twice; it is still not a new version
            self._unchanged(trial, author, f"identical to {same[0]}: nothing new to commit")
            return None
        decided = self.decisions.get(trial.result.kernel_id, best)
        if decided:
            self._unchanged(trial, author, f"the gate already decided on this kernel against "
                            f"{best.id if best else 'no best'} ({decided}): one decision per "
                            "kernel; change what it computes or how, not how it reads")
            return None
        confirm = self._measure(trial.files, trial.attempt.base, author, incumbent=best)
        if confirm.same_as_incumbent:
            self._after_evaluation()
            self._unchanged(trial, author, f"compiles to the same kernel as the best, "
                            f"{best.id if best else '?'}: nothing new to commit")
            return None
        if confirm.correct and trial.result.correct:
            self.noise.add(trial.result.geomean, confirm.geomean)
        verdict = hold_if_flagged(self._verdict(confirm, best),
                                  [*trial.result.flags, *confirm.flags])
        if verdict.held:
            attempt = self._hold_as_suspect(trial, confirm, verdict, message, author, transcript)
        else:
            attempt = self._record_decision(trial, confirm, verdict, message, author, transcript)
        if confirm.failure is None or confirm.failure.kind not in NOT_DECIDED:
            self.decisions.add(confirm.kernel_id or trial.result.kernel_id, best, attempt.id)
        self._observe(attempt, trial.key)
        self._save()
        self._publish()
        return self.session.version(attempt.version) if attempt.version else None

    def _verdict(self, confirm: EvalResult, best: Version | None) -> Verdict:
        gain = confirm.incumbent_gain
        if best is not None and confirm.correct and gain is not None:
            return judge_beside(gain, confirm.incumbent_gain_se, confirm.incumbent_gain_dof,
                                best.id, confirm.geomean, confirm.unit)
        best_gmean = best.score.gmean if best and best.score else None
        return judge(confirm.geomean, confirm.correct, best_gmean, self.noise, confirm.unit)

    def _record_decision(
        self, trial: Trial, confirm: EvalResult, verdict: Verdict, message: str, author: str,
        transcript: str | None,
    ) -> Attempt:
        version = None
        if verdict.accepted:
            version = self._paid_commit(lambda **paid: self.session.commit(
                trial.files,
                author=author,
                message=message,
                score=score_of(confirm),
                attempt=trial.attempt.id,
                **paid,
            ))
            self.supervisor.observe_commit(self.running_seconds())
        outcome = "committed" if verdict.accepted else (
            "not_confirmed" if confirm.correct else confirm.failure.kind  # type: ignore[union-attr]
        )
        detail = f"re-evaluation of {trial.attempt.id}: {verdict.reason}"
        if outcome == "not_confirmed":
            best = self.session.best()
            detail = unconfirmed(trial.attempt.id, trial.result.geomean,
                                 best.score.gmean if best and best.score else None,
                                 best.id if best else None, verdict.reason)
        attempt = self.session.record_attempt(
            trial.files,
            base=trial.attempt.base,
            author=author,
            outcome=outcome,
            detail=_with_notes(detail + (f" ({confirm.failure})" if confirm.failure else ""),
                               confirm),
            score=score_of(confirm),
            log=_result_log(confirm),
            transcript=transcript,
            version=version.id if version else None,
            idea=trial.attempt.idea,
        )
        self._after_evaluation()
        return attempt

    def _paid_commit(self, commit: Callable[..., Version]) -> Version:
        """Call ``commit`` (the session's commit or approve_suspect) with the version's cost:
        what was spent since the last commit, every step that led to it, failed ones included.
        The usage, marked as paid up to here, goes into the same write."""
        cost_usd, tokens = self.usage.since_commit()
        paid = self.usage.committed()
        version = commit(cost_usd=cost_usd, tokens=tokens, state={"usage": paid.to_doc()})
        self.usage = paid
        return version

    def _unchanged(self, trial: Trial, author: str, detail: str) -> None:
        """A gate request answered without measuring; the supervisor counts it all the same."""
        attempt = self.session.record_attempt(
            trial.files, base=trial.attempt.base, author=author, outcome="unchanged",
            detail=detail,
        )
        self._observe(attempt, trial.key)
        self._save()
        self._publish()

    def _hold_as_suspect(
        self, trial: Trial, confirm: EvalResult, verdict: Verdict, message: str, author: str,
        transcript: str | None,
    ) -> Attempt:
        """The suspect rule (gate.hold_if_flagged): a flagged result the gate would accept is
        not committed but recorded as a ``suspect`` attempt, with the re-evaluation's score and
        log, pending in the state until the operator approves or rejects it."""
        score = score_of(confirm)
        assert score is not None, "only a correct re-evaluation is held"
        suspect = self.session.hold_suspect(
            trial.files,
            base=trial.attempt.base,
            author=author,
            message=message,
            flags=verdict.flags,
            score=score,
            detail=f"re-evaluation of {trial.attempt.id}: {verdict.reason}",
            log=_result_log(confirm),
            transcript=transcript,
        )
        self._after_evaluation()
        return self.session.attempt(suspect.attempt)

    def _held_suspects_with(self, hashes: dict[str, str]) -> list[str]:
        """Pending suspects with these very files: held once, not evaluated again."""
        same = []
        for suspect in self.session.suspects():
            with suppress(StoreError):
                if self.session.attempt(suspect.attempt).files == hashes:
                    same.append(f"{suspect.attempt} (a suspect held for the operator's review)")
        return same

    def commit_threshold(self) -> float:
        best = self.session.best()
        return threshold(best.score.gmean if best and best.score else None, self.noise)

    def _measure(
        self, files: dict[str, str], base: str, author: str, quick: bool = False,
        incumbent: Version | None = None,
    ) -> EvalResult:
        """Evaluate ``files``; with ``incumbent``, time that version beside them."""
        hashes = self.session.store_files(files)
        self.session.set_state(
            in_flight=InFlight(base, author, hashes, time.time()).to_doc(), announce=False,
        )
        best = self.session.best()
        return self.evaluator.evaluate(
            files,
            previous_best=None if quick else best.score.gmean if best and best.score else None,
            on_progress=self._progress,
            quick=quick or None,
            incumbent=self.session.read_files(incumbent) if incumbent else None,
        )

    def _classify(self, result: EvalResult, quick: bool = False) -> tuple[str, str]:
        if result.failure is not None:
            return result.failure.kind, str(result.failure)
        best = self.session.best()
        ratio = f", {result.ratio:.3f}x baseline" if result.ratio is not None else ""
        text = f"{result.geomean:.4g} {result.unit}{ratio}"
        if quick:
            return "checked", _with_notes(f"quick grid: {text}", result)
        if best is None or best.score is None or not best.score.gmean:
            return "promising", _with_notes(text, result)
        outcome, compared = first_reading(result.geomean, best.score.gmean, best.id, self.noise)
        text += f"; {compared}"
        if result.flags:
            text += "; flagged: " + "; ".join(result.flags)
        return outcome, _with_notes(text, result)

    def _after_evaluation(self, result: EvalResult | None = None) -> None:
        fields: dict[str, object] = {"in_flight": None}
        if result is not None and result.hardware and (
                result.hardware != self.session.run_state.hardware):
            fields["hardware"] = dict(result.hardware)
        if self.evaluator.baselines_changed:
            fields["baselines"] = self.evaluator.baselines
            self.evaluator.baselines_changed = False
        self.session.set_state(announce=False, **fields)

    def _recover_in_flight(self, why: str) -> None:
        """Record the evaluation a dead or interrupted run left unfinished, once."""
        pending = self.session.run_state.in_flight
        if not pending:
            return
        files = {name: self.session.blobs.get_text(h) for name, h in pending.files.items()}
        latest = self.session.recent_attempts(1)
        already = latest and latest[0].files == dict(pending.files) and (
            latest[0].created >= pending.started
        )
        if not already:
            self.session.record_attempt(
                files,
                base=pending.base,
                author=pending.author,
                outcome="interrupted",
                detail=why,
            )
        self.session.set_state(in_flight=None, announce=False)
        self._publish()

    # -- state and events ---------------------------------------------------------------------

    def running_seconds(self) -> float:
        """The session's running time so far, this run's included: the supervisor's clock,
        which neither a pause nor the time between two runs (a weekend) advances."""
        return self.usage.seconds + (time.monotonic() - self._clock)

    def _tick(self) -> None:
        now = time.monotonic()
        self.usage.seconds += now - self._clock
        self._clock = now

    def _save(self) -> None:
        self.session.set_state(
            announce=False,
            step=self.usage.steps,
            usage=self.usage.to_doc(),
            noise=self.noise.to_doc(),
            gate_decisions=self.decisions.to_doc(),
            supervisor=self.supervisor.to_doc(),
            failed_steps=self.failed_steps,
        )

    def _set_status(self, status: str, *, announce: bool = False, reason: str = "") -> None:
        self.session.set_state(status=status, reason=reason, announce=announce)
        self._publish()

    def take_hints(self) -> list[str]:
        hints, self.pending_hints = self.pending_hints, []
        if hints:
            self.session.set_state(pending_hints=[], announce=False)
        return hints

    def event(self, payload: Payload) -> None:
        self.session.append(payload)
        self._publish()

    def _error(self, message: str, traceback: str | None = None) -> None:
        self.event(ErrorPayload(message, traceback))

    def _publish(self) -> None:
        """Hand new events to every subscriber. One that raises is kept (the next event may
        well suit it) and reported as an error event, once per distinct error, so a broken
        view neither stops the run nor floods the log."""
        while self._published < self.session.last_seq:
            for event in self.session.events(after=self._published):
                self._published = event.seq
                for subscriber in list(self._subscribers):
                    try:
                        subscriber(event)
                    except Exception as error:
                        self._listener_failed(subscriber, "a subscriber", error, event.seq)

    def _progress(self, phase: str, detail: str) -> None:
        for listener in list(self._progress_listeners):
            try:
                listener(f"{phase} {detail}".strip())
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


class RunContext:
    """What an operator's step sees: the engine behind the StepContext protocol."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.session = SessionView(engine.session)  # only the gate commits
        self.target = engine.evaluator.target

    def safe_point(self) -> None:
        self._engine.safe_point()

    def pause(self, reason: str) -> None:
        self._engine.pause(reason)

    def charge(self, cost_usd: float, tokens: int) -> None:
        self._engine.charge(cost_usd, tokens)

    def announce(self, payload: Payload) -> None:
        self._engine.event(payload)

    def memory(self) -> dict[str, Any]:
        return dict(self._engine.session.run_state.operator_memory or {})

    def remember(self, **fields: Any) -> None:
        self._engine.session.set_state(operator_memory=self.memory() | fields, announce=False)

    def head(self) -> Version:
        return self.session.head

    def best(self) -> Version | None:
        return self.session.best()

    def commit_threshold(self) -> float:
        return self._engine.commit_threshold()

    def take_hints(self) -> list[str]:
        self._engine.safe_point()
        return self._engine.take_hints()

    def acknowledge_hint(self, text: str, used: bool, note: str) -> None:
        self._engine.event(HintPayload("used" if used else "unusable", text, note))

    @property
    def guidance(self) -> str | None:
        return self._engine.guidance

    def plan(self, text: str) -> None:
        self._engine.event(PlanPayload(text))

    def save_conversation(self, doc: dict[str, Any]) -> None:
        self._engine.session.save_draft(CONVERSATION, doc)

    def saved_conversation(self) -> dict[str, Any] | None:
        return self._engine.session.draft(CONVERSATION)

    def progress(self, text: str) -> None:
        self._engine._progress(text, "")

    @property
    def step_number(self) -> int:
        return self._engine.usage.steps + 1

    def hardware(self) -> dict[str, object]:
        return {**(self._engine.session.run_state.hardware or {}),
                **self._engine.evaluator.software()}

    def baselines(self) -> dict[str, dict[str, float]]:
        return self._engine.evaluator.baseline_throughputs()

    def evaluate(
        self, files: dict[str, str], *, base: str, note: str = "", quick: bool = False,
        idea: str | None = None,
    ) -> Trial:
        self._engine.safe_point()
        return self._engine.evaluate(
            files, base=base, author=self._engine.operator.name, note=note, quick=quick,
            idea=idea,
        )

    def commit(self, trial: Trial, message: str, transcript: str | None = None) -> Version | None:
        self._engine.safe_point()
        return self._engine.commit(trial, message, self._engine.operator.name, transcript)


def _with_notes(detail: str, result: EvalResult) -> str:
    """An attempt's detail, and what the evaluator noted about how it measured (machine load)."""
    return "; ".join([detail, *result.notes])


def _result_log(result: EvalResult) -> str:
    return json.dumps(result.as_dict(), indent=1)
