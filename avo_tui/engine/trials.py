"""Evaluations and commits: a candidate is measured outside every lock, recorded as an attempt,
shown to the supervisor, and, when it asks, judged by the commit gate (gate.py).

Before an evaluation starts, the candidate is saved as its lane's ``in_flight``; if the process
dies during the evaluation, the next run records it as an ``interrupted`` attempt
(in_flight.py).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from ..evaluation import EvalResult
from ..evaluation.paired import GatePlan
from ..operators.protocol import GateAnswer, Trial
from ..pool import gpu_index
from ..store import (
    TO_THE_GATE,
    Attempt,
    FlaggedPayload,
    InFlight,
    Outcome,
    Score,
    StoreError,
    SupervisorPayload,
    Version,
)
from .anchor_check import IncumbentCheck
from .books import RunBooks
from .evaluator import sources_key
from .failing_best import BEST_FAILURES_TO_SUSPECT, failing_flag, flags_beside_the_seed
from .gate import (
    BEST_FAILED,
    DECIDE,
    FORGET,
    REJECT,
    RERUN,
    STRIKE,
    Verdict,
    paired_of,
    unconfirmed,
)
from .gate_memory import failure_words
from .lanes import Lane, moved_note, place_among_running, starting_version
from .scores import anchored_score, below_the_best_it_beat, score_of, score_words
from .stored_reading import stored_trial
from .twins import Readings, Twin, Twins


class Trials:
    """The evaluation of candidates and the commit gate's procedure, for every lane."""

    def __init__(self, books: RunBooks) -> None:
        self.books = books
        self.twins = Twins(books.session)
        self.readings = Readings()

    # -- evaluation -------------------------------------------------------------------------------

    def evaluate(
        self, files: dict[str, str], *, base: str | None, author: str, lane: Lane, note: str = "",
        quick: bool = False, idea: str | None = None, labelled: bool = True,
        twins_of_versions_only: bool = False,
    ) -> Trial:
        """Evaluate a candidate and record it as an attempt (the supervisor watches).

        ``quick`` scores on the target's quick grid; unless the session itself is quick, such a
        score is not comparable with the versions', so the attempt is only ``checked``.
        ``idea`` is what the operator says it tried, kept with the attempt. The attempt
        carries its lane's label, unless ``labelled`` is false (a hand edit: no lane's).
        ``twins_of_versions_only``: a twin of an attempt is measured all the same, and only
        one of a version answered unmeasured (a hand edit: a version needs a score)."""
        books = self.books
        quick = quick and not books.evaluator.quick
        with books.locked():
            twin = self.twins.of_files(books.session.store_files(files), quick=quick)
            if twins_of_versions_only and twin is not None and not twin.is_version:
                twin = None
            known = self.twins.kernels(versions_only=twins_of_versions_only)
        if twin is not None:  # the very files of a version or attempt: nothing to build
            result, beside = books.evaluator.unmeasured(twin.kernel, quick), None
        else:
            result, beside = self._measure(files, base, author, quick=quick, lane=lane,
                                           beside_best=True, known=known)
        with books.locked():
            if beside is not None:
                self.twins.learn(beside, result.incumbent_kernel_id)
            if result.known_kernel and twin is None:
                twin = self.twins.of_kernel(result.kernel_id)
            score = anchored_score(result, self.scale(), beside.id if beside else None)
            check = books.gate.check(result, beside)
            outcome, detail = self.classify(result, quick, score, beside, twin, check)
            attempt = books.session.record_attempt(
                files,
                lane=lane.label if labelled else None,
                base=base,
                author=author,
                outcome=outcome,
                detail=f"{note}: {detail}" if note else detail,
                score=score,
                log=_result_log(result),
                idea=idea,
                kernel=result.kernel_id,
            )
            self._flag(check, attempt)
            if beside is not None and result.failure is not None and (
                    result.failure.kind == "incumbent_failed"):
                self._count_best_failure(beside, result, attempt)
            self._after_evaluation(lane, result)
            # Sources that compile to the same kernel are one candidate to the supervisor too.
            trial = Trial(attempt, result, dict(files), result.kernel_id or sources_key(files),
                          reading=self.reading(twin.attempt if twin else None))
            if attempt.outcome in TO_THE_GATE:
                self.readings.keep(trial)
            self.observe(attempt, trial.key, lane)
            books.save()
            books.publish()
        return trial

    def reading(self, attempt: Attempt | None) -> Trial | None:
        """``attempt``'s first reading where the gate may be asked about it: kept from this
        run, else read back from the store (stored_reading.py: after a crash or a stop)."""
        if attempt is None:
            return None
        kept = self.readings.get(attempt.id)
        if kept is None:
            kept = stored_trial(self.books.session, self.books.evaluator.target, attempt)
            if kept is not None:
                self.readings.keep(kept)
        return kept

    def classify(self, result: EvalResult, quick: bool = False, score: Score | None = None,
                 beside: Version | None = None, twin: Twin | None = None,
                 check: IncumbentCheck | None = None) -> tuple[str, str]:
        """The outcome of a first reading, and why. ``score`` is the one stored for it
        (scores.anchored_score); a paired reading is told against ``beside``, the version
        timed beside it, whatever the best is by now, or against its record where ``check``
        found it slower beside the candidate. A ``twin`` (twins.py) is named, and nothing was
        timed."""
        if result.failure is not None:
            return result.failure.kind, failure_words(result.failure)
        if twin is not None:
            stands = self.reading(twin.attempt)
            return Outcome.UNCHANGED, twin.words() + (
                ": nothing new to measure; its first reading stands, and commit asks the gate "
                "about it" if stands is not None and stands.outcome in TO_THE_GATE
                else ": nothing new to measure")
        best = self.books.session.best()
        if result.untimed:
            return Outcome.UNCHANGED, (f"compiles to the same kernel as the best, "
                                       f"{best.id if best else '?'}: nothing new to measure")
        stored = score or score_of(result)
        assert stored is not None, "a result without a failure is correct, and scored"
        text = f"{score_words(stored)}{result.ratio_words()}"
        if quick:
            return Outcome.CHECKED, _with_notes(f"quick grid: {text}", result)
        if best is None and not len(self.books.session.lineage):  # a first reading alone
            return Outcome.PROMISING, _with_notes(
                f"{text}; no version yet, nothing to compare it with: a commit makes it v0",
                result)
        if best is None or best.score is None or not best.score.gmean:
            return Outcome.PROMISING, _with_notes(text, result)
        timed_beside = beside is not None and paired_of(result) is not None
        compared_with = beside if beside is not None and timed_beside else best
        outcome, compared = self.books.gate.reading(result, compared_with,
                                                    check if timed_beside else None)
        text += f"; {compared}"
        if result.flags:
            text += "; flagged: " + "; ".join(result.flags)
        return outcome, _with_notes(text, result)

    def _flag(self, check: IncumbentCheck | None, attempt: Attempt) -> None:
        """Flag the best ``check`` found slower beside the candidate of ``attempt`` than it was
        recorded (anchor_check.py): the suspect, for the operator and ``avo rescore``."""
        if check is None or not check.flagged:
            return
        self.books.session.flag(FlaggedPayload(
            check.version, check.anchor, recorded=math.exp(check.recorded),
            measured=math.exp(check.measured), allowed_pct=round(check.flag_allowed_pct, 3),
            attempt=attempt.id))

    def observe(self, attempt: Attempt, key: str, lane: Lane) -> None:
        """Show the supervisor an attempt, the gate's included; a stall redirects the lane
        whose attempt showed it (the others go on as they were)."""
        books = self.books
        reason = books.supervisor.observe_attempt(attempt.outcome, key, books.running_seconds())
        if reason:
            books.session.append(SupervisorPayload(reason, "redirect", attempt=attempt.id,
                                                   lane=lane.label))
            lane.redirect = reason

    def _measure(
        self, files: dict[str, str], base: str | None, author: str, *, lane: Lane,
        quick: bool = False,
        incumbent: Version | None = None, gate: GatePlan | None = None,
        beside_best: bool = False, known: frozenset[str] = frozenset(),
    ) -> tuple[EvalResult, Version | None]:
        """Evaluate ``files`` (outside the lock: other lanes go on meanwhile); with
        ``incumbent``, time that version beside them, for the gate's ``gate`` plan. With
        ``beside_best`` (a first reading on the session's grid), the best is timed beside
        them for a short while, unless they are its very files. A kernel in ``known`` is
        stopped before its checks and timing: a first reading stops at a kernel judged
        before; the gate measures what it is asked about. Returns the result and the version
        timed beside them, if any."""
        books = self.books
        with books.locked():
            hashes = books.session.store_files(files)
            lane.in_flight = InFlight(base, author, hashes, time.time())
            books.save_lanes()
            best = books.session.best()
            previous = None if quick else best.score.gmean if best and best.score else None
            if beside_best and not quick and best is not None and best.files != hashes and (
                    not self.best_is_suspect(best)):  # measured against its record instead
                incumbent = best
            beside = books.session.read_files(incumbent) if incumbent else None
            anchor = self.anchor_files()
        return books.evaluator.evaluate(
            files,
            previous_best=previous,
            # The gate's score becomes the version's: its ratios to the baselines are timed
            # in the same blocks as its gain, not taken from an earlier hour.
            fresh_baselines=gate is not None,
            on_progress=lambda phase, detail: books.progress(f"{phase} {detail}", lane.label),
            quick=quick or None,
            incumbent=beside,
            gate=gate,
            on_lease=lambda host: self._leased(lane, host),
            known=known,
            anchor=anchor,
            sustained=gate is not None,  # read where the gate accepts, not at first readings
        ), incumbent

    def scale(self) -> Score | None:
        """The score of the lineage's first version, whose anchor rates every score is put
        on (scores.anchored_score); None while there is no version."""
        root = self.books.session.lineage.root()
        return root.score if root is not None else None

    def anchor_files(self) -> dict[str, str] | None:
        """The seed as the user supplied it (v0, where the seed wrote it), timed as the anchor
        where the target's baseline cannot be (evaluation/measurement/anchor.py)."""
        root = self.anchor_version()
        return self.books.session.read_files(root) if root is not None else None

    def _leased(self, lane: Lane, host: Mapping[str, object]) -> None:
        """The lane's evaluation got its worker: the GPU it holds is saved with the candidate
        in flight, so every view (an attached one too) can say which GPU is doing what."""
        gpu = gpu_index(host)
        with self.books.locked():
            flight = lane.in_flight
            if flight is None or flight.gpu == gpu:
                return
            lane.in_flight = dataclasses.replace(flight, gpu=gpu)
            self.books.save_lanes()

    def _after_evaluation(self, lane: Lane, result: EvalResult | None = None) -> None:
        books = self.books
        lane.in_flight = None
        fields: dict[str, Any] = {"lanes": books.lanes_doc()}
        if result is not None and result.hardware and (
                result.hardware != books.session.run_state.hardware):
            fields["hardware"] = dict(result.hardware)
        if (baselines := books.evaluator.take_new_baselines()) is not None:
            fields["baselines"] = baselines
        books.session.set_state(announce=False, **fields)

    # -- the commit gate --------------------------------------------------------------------------

    def begin_step(self, lane: Lane) -> None:
        """Where the lane's step starts: its starting version (lanes.py: the head for the first
        lane still running, the k-th best for the k-th), or, for a step a dead run left a
        conversation of, the version it was built on; and the best it starts with, to tell it
        if another lane moves it. Under the lock."""
        session = self.books.session
        best = session.best()
        lane.best_at_start = best.id if best else None
        lane.in_step = True
        lane.answer = None
        lane.lineage_moved = False
        resumed = lane.base and lane.base in session.lineage and session.draft(lane.draft)
        if not resumed:
            start = starting_version(session, place_among_running(self.books.lanes, lane))
            lane.base = start.id if start else None  # None: no version yet, the step writes v0
        self.books.save()

    def commit(self, trial: Trial, message: str, author: str, lane: Lane,
               transcript: str | None = None) -> Version | None:
        """The commit gate (gate.py): re-evaluate beside the best, then commit only a clear
        gain. Each kernel gets one decision against a given best: asking again, with the same
        source or one that compiles to the same kernel, is answered ``unchanged`` without
        measuring (noise would otherwise say yes to one try in a few). ``transcript`` (the
        agent's conversation so far) is kept with the re-evaluation.

        One request at a time: the best is read under the gate's lock, so a lane whose step
        began on an older best is judged against the best of now, and its answer says so.

        A re-evaluation that ends undecided (gate.after_reevaluation) is a strike against the
        kernel; where the best's side or the worker failed, the decision is re-run at once,
        once, inside this request: the strike makes a second undecided one the kernel's
        rejection."""
        gated = trial.for_the_gate()
        if gated is None:
            return None
        trial, books = gated, self.books
        request = CommitRequest(message, author, transcript, lane)
        with books.gate.lock:
            with books.locked():
                best = books.session.best()
                # A step begun with no version yet (a target with no seed) is told so too.
                began = lane.best_at_start is not None or lane.in_step
                moved = (lane.best_at_start or "no version") if best and began and (
                    best.id != lane.best_at_start) else None
                hashes = books.session.store_files(trial.files)
                base = trial.attempt.base
                built_on = books.session.version(base) if base else None
                identical = [v.id for v in (built_on, best)
                             if v and v.files == hashes] or self._held_suspects_with(hashes)
                refused = books.gate.refusal(trial, best, moved, identical)
                if refused:
                    self._unchanged(trial, author, refused[1], lane, best, moved,
                                    outcome=refused[0])
                    return None
            while True:  # fresh runners each time; where the worker failed, it was replaced
                alone = self.best_is_suspect(best)
                confirm = self._reevaluate(trial, self.anchor_version() if alone else best,
                                           request)
                if alone and best is not None:
                    jump = books.evaluator.target.max_plausible_jump
                    confirm.flags = flags_beside_the_seed(confirm, best, jump)
                with books.locked():
                    # the best's failure is the best's where the anchor can stand in for it
                    spared = best if not alone and self.anchor_stands_in(best) else None
                    move = books.gate.next_move(trial, confirm, spared)
                    if move not in (RERUN, BEST_FAILED):
                        return self._decide(trial, confirm, best, moved, request, alone)
                    self._record_undecided(trial, confirm, move, request,
                                           moved_note(moved, best), best)
                    books.save()  # the strike, before anything else can happen
                    books.publish()

    def _reevaluate(self, trial: Trial, best: Version | None,
                    request: CommitRequest) -> EvalResult:
        """The gate's independent re-evaluation of ``trial``, timed beside ``best``."""
        confirm, _ = self._measure(trial.files, trial.attempt.base, request.author,
                                   incumbent=best, lane=request.lane, gate=self.books.gate.plan)
        return confirm

    def best_is_suspect(self, best: Version | None) -> bool:
        """Whether the gate measures candidates beside the anchor alone, against ``best``'s
        record, as it failed beside its successors too often (failing_best.py)."""
        return self.anchor_stands_in(best) and (
            self.books.gate.failures_of(best) >= BEST_FAILURES_TO_SUSPECT)

    def anchor_stands_in(self, best: Version | None) -> bool:
        """Whether the anchor, a version of the lineage's own (the user's seed), can stand in
        for ``best`` beside a candidate: it is not the best."""
        anchor = self.anchor_version()
        return anchor is not None and best is not None and anchor.id != best.id

    def anchor_version(self) -> Version | None:
        """The seed as the user supplied it, the anchor (anchor_files), as a version."""
        root = self.books.session.lineage.root()
        return root if root is not None and root.author == "seed" else None

    def _decide(self, trial: Trial, confirm: EvalResult, best: Version | None,
                moved: str | None, request: CommitRequest, alone: bool = False
                ) -> Version | None:
        books, lane = self.books, request.lane
        if confirm.same_as_incumbent:
            self._after_evaluation(lane)
            self._unchanged(trial, request.author, f"compiles to the same kernel as the best, "
                            f"{best.id if best else '?'}: nothing new to commit", lane, best,
                            moved)
            return None
        move = books.gate.next_move(trial, confirm)
        assert move != RERUN, "a decision is re-run once, and that was its first strike"
        note = moved_note(moved, best)
        if move in (STRIKE, REJECT):
            attempt = self._record_undecided(trial, confirm, move, request, note)
        else:
            check = None if alone else books.gate.check(confirm, best)  # the seed beside it
            verdict = books.gate.verdict(trial, confirm, best, check, alone)
            if verdict.held:
                attempt = self._hold_as_suspect(trial, confirm, verdict, request, note, best)
            else:
                attempt = self.record_decision(trial, confirm, verdict, request, note, best)
            self._flag(check, attempt)
            if verdict.undecided:
                move = FORGET
        if move in (DECIDE, REJECT):
            books.gate.decided(trial, confirm, best, attempt.id)
        self._answer(lane, attempt, best, moved)
        self.observe(attempt, trial.key, lane)
        books.save()
        books.publish()
        return books.session.version(attempt.version) if attempt.version else None

    def record_decision(self, trial: Trial, confirm: EvalResult, verdict: Verdict,
                        request: CommitRequest, note: str = "",
                        best: Version | None = None) -> Attempt:
        """The gate's decision on ``trial``, re-evaluated as ``confirm`` beside ``best``: an
        attempt, and the version where ``verdict`` accepts."""
        books, lane = self.books, request.lane
        score = anchored_score(confirm, self.scale(), best.id if best else None)
        version = None
        if verdict.accepted:
            # With several lanes, on the version the lane built on (the head may have moved
            # under it); with one, on the head (its step ends before the head moves).
            parent = trial.attempt.base if books.several else None
            version = self.paid_commit(lambda **paid: books.session.commit(
                trial.files,
                lane=lane.label,
                parent=parent,
                author=request.author,
                message=request.message,
                score=score,
                attempt=trial.attempt.id,
                **paid,
            ))
            lane.commits += 1
            books.supervisor.observe_commit(books.running_seconds())
        outcome = (Outcome.COMMITTED if verdict.accepted else Outcome.UNDECIDED
                   if verdict.undecided else Outcome.NOT_CONFIRMED if confirm.correct
                   else confirm.failure.kind)  # type: ignore[union-attr]
        detail = f"re-evaluation of {trial.attempt.id}: {verdict.reason}"
        if version is not None:
            detail += below_the_best_it_beat(score, best)
        if outcome == Outcome.NOT_CONFIRMED:
            now = books.session.best()
            detail = unconfirmed(trial.attempt.id, trial.result.geomean,
                                 now.score.gmean if now and now.score else None,
                                 now.id if now else None, verdict.reason,
                                 paired_of(trial.result))
        attempt = books.session.record_attempt(
            trial.files,
            lane=lane.label,
            base=trial.attempt.base,
            author=request.author,
            outcome=outcome,
            detail=_with_notes(detail + note + (f" ({failure_words(confirm.failure)})"
                                                if confirm.failure else ""), confirm),
            score=score,
            log=_result_log(confirm),
            transcript=request.transcript,
            version=version.id if version else None,
            idea=trial.attempt.idea,
        )
        self._after_evaluation(lane)
        return attempt

    def _record_undecided(self, trial: Trial, confirm: EvalResult, move: str,
                          request: CommitRequest, note: str, best: Version | None = None
                          ) -> Attempt:
        """An undecided re-evaluation (gate.after_reevaluation): an attempt under its failure's
        kind, saying what comes next, or, where it is the kernel's second, its rejection
        (``rejected_undecided_twice``, every failure in the detail); then the strike, or,
        where ``best`` failed beside it (BEST_FAILED), the best's (:meth:`_best_failed`)."""
        books = self.books
        assert confirm.failure is not None
        if move == BEST_FAILED and best is not None:
            return self._best_failed(trial, confirm, request, note, best)
        detail = books.gate.struck(trial, confirm, move)
        attempt = books.session.record_attempt(
            trial.files,
            lane=request.lane.label,
            base=trial.attempt.base,
            author=request.author,
            outcome=Outcome.REJECTED_UNDECIDED_TWICE if move == REJECT else confirm.failure.kind,
            detail=_with_notes(f"re-evaluation of {trial.attempt.id}: {detail}{note}", confirm),
            log=_result_log(confirm),
            transcript=request.transcript,
            idea=trial.attempt.idea,
        )
        books.gate.strike(trial, confirm, attempt.id)
        self._after_evaluation(request.lane)
        return attempt

    def _best_failed(self, trial: Trial, confirm: EvalResult, request: CommitRequest,
                     note: str, best: Version) -> Attempt:
        """A decision ``best`` failed: an attempt under the failure's kind, no strike against
        the candidate, the best's failure counted, and the best flagged at the count."""
        gate = self.books.gate
        assert confirm.failure is not None
        attempt = self.books.session.record_attempt(
            trial.files, lane=request.lane.label, base=trial.attempt.base,
            author=request.author, outcome=confirm.failure.kind,
            detail=_with_notes(f"re-evaluation of {trial.attempt.id}: "
                               f"{gate.best_failure_words(best, confirm)}{note}", confirm),
            log=_result_log(confirm), transcript=request.transcript, idea=trial.attempt.idea)
        self._count_best_failure(best, confirm, attempt)
        self._after_evaluation(request.lane)
        return attempt

    def _count_best_failure(self, best: Version, result: EvalResult, attempt: Attempt) -> None:
        """``best`` failed beside the candidate of ``attempt``: counted against it, and it is
        flagged at the count (failing_best.py)."""
        gate = self.books.gate
        gate.best_failed(best, result, attempt.id)
        if gate.failures_of(best) >= BEST_FAILURES_TO_SUSPECT:
            self.books.session.flag(failing_flag(best, attempt.id, gate.failures_of(best)))

    def paid_commit(self, commit: Callable[..., Version]) -> Version:
        """Call ``commit`` (the session's commit or approve_suspect) with the version's cost:
        what was spent since the last commit, every step (of every lane) that led to it, failed
        ones included. The usage, marked as paid up to here, goes into the same write."""
        books = self.books
        cost_usd, tokens = books.usage.since_commit()
        paid = books.usage.committed()
        version = commit(cost_usd=cost_usd, tokens=tokens, state={"usage": paid.to_doc()})
        books.usage = paid
        return version

    @staticmethod
    def _answer(lane: Lane, attempt: Attempt, best: Version | None, moved: str | None) -> None:
        """Give ``lane`` the gate's answer. A lane whose step began on a best that another
        lane's commit has since overtaken, and which committed nothing, is rebased: its step
        builds on the best from now on, so that what it asks next is judged as a step begun
        there (not refused against a stored score for a reading taken beside an older best),
        and a version it commits has the best for its parent."""
        rebased = None
        if moved and best is not None and attempt.version is None:
            lane.base = lane.best_at_start = rebased = best.id
        lane.answer = GateAnswer(attempt, best.id if best else None, moved, rebased)

    def _unchanged(self, trial: Trial, author: str, detail: str, lane: Lane,
                   best: Version | None = None, moved: str | None = None,
                   outcome: str = Outcome.UNCHANGED) -> None:
        """A gate request answered without measuring; the supervisor counts it all the same."""
        books = self.books
        attempt = books.session.record_attempt(
            trial.files, lane=lane.label, base=trial.attempt.base, author=author,
            outcome=outcome, detail=detail + moved_note(moved, best),
        )
        self._answer(lane, attempt, best, moved)
        self.observe(attempt, trial.key, lane)
        books.save()
        books.publish()

    def _hold_as_suspect(self, trial: Trial, confirm: EvalResult, verdict: Verdict,
                         request: CommitRequest, note: str, best: Version | None) -> Attempt:
        """The suspect rule (gate.hold_if_flagged): a flagged result the gate would accept is
        not committed but recorded as a ``suspect`` attempt, with the re-evaluation's score and
        log, pending in the state until the operator approves or rejects it."""
        session = self.books.session
        score = anchored_score(confirm, self.scale(), best.id if best else None)
        assert score is not None, "only a correct re-evaluation is held"
        suspect = session.hold_suspect(
            trial.files,
            lane=request.lane.label,
            base=trial.attempt.base,
            author=request.author,
            message=request.message,
            flags=verdict.flags,
            score=score,
            detail=f"re-evaluation of {trial.attempt.id}: {verdict.reason}{note}",
            log=_result_log(confirm),
            transcript=request.transcript,
        )
        self._after_evaluation(request.lane)
        return session.attempt(suspect.attempt)

    def _held_suspects_with(self, hashes: dict[str, str]) -> list[str]:
        """Pending suspects with these very files: held once, not evaluated again."""
        session = self.books.session
        same = []
        for suspect in session.suspects():
            with suppress(StoreError):
                if session.attempt(suspect.attempt).files == hashes:
                    same.append(f"{suspect.attempt} (a suspect held for the operator's review)")
        return same

    def commit_bar(self) -> str:
        """What a commit needs now, in words (Gate.needs)."""
        with self.books.locked():
            return self.books.gate.needs(self.books.session.best())


@dataclasses.dataclass(frozen=True)
class CommitRequest:
    """A commit request: what the version would say, who asks, and from which lane."""

    message: str
    author: str
    transcript: str | None
    lane: Lane


def _with_notes(detail: str, result: EvalResult) -> str:
    """An attempt's detail, and what the evaluator noted about how it measured (machine load)."""
    return "; ".join([detail, *result.notes])


def _result_log(result: EvalResult) -> str:
    return json.dumps(result.as_dict(), indent=1)
