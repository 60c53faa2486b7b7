"""The commit gate: which evaluated candidates may become versions.

The rule (docs/engine.md): a candidate is re-evaluated independently, with fresh inputs,
**timed beside the best version** launch by launch, sequentially (evaluation/paired.py), and
becomes a version only if the re-evaluation is correct and the lower end of its gain's
sequential 99% interval clears the floor:

    log(gain) - t(z=2.96) * SE > GAIN_FLOOR

where gain is the geometric mean over configurations of the candidate's paired speed-up over
the best, and t keeps the false-accept rate at 1% per decision over every look the measurement
takes. Where the best could not be timed beside (it no longer builds here), the re-evaluation
is compared with the best's stored score instead:

    confirm.gmean > best.gmean * (1 + noise)

The best is checked, not trusted (anchor_check.py): where it reads slower against the anchor
beside the candidate than it was recorded, past the readings' errors and the noise, its slowed
reading decides nothing. The gain is then the candidate's rate over the anchor's against the
best's recorded one (:func:`against_record`), by the same rule, and the best is flagged.

How a first evaluation reads against the best (:func:`first_reading`): timed beside it, as a
gain with its standard error: where the top of its 99% interval reaches the floor the gate is
asked, and the reading is ``promising`` for a positive gain, ``inconclusive`` for none (too
noisy to rule a gain out: a name that promises nothing); ``within_noise`` when a positive
gain's interval stays under the floor, ``slower`` otherwise. Without a paired reading, the
stored score and the session's noise decide as before. A candidate the re-evaluation does
not bear out is ``not_confirmed``, its detail giving both figures (:func:`unconfirmed`).

A result the evaluator flagged as implausible (beyond the hardware peak, beyond the target's
plausible ratio to the baseline, or a jump over the best beyond the target's limit) is never
committed automatically: where the gate would accept it, it is **held** as a suspect until the
operator approves or rejects it (:func:`hold_if_flagged`).

A re-evaluation that fails in the candidate's runner (a crash, a hang, interference with the
best's runner, a wrong answer) rejects it. One that ends **undecided** (the best's side failed,
or the worker, the harness or the toolchain: nothing says whose fault it was) is a strike
against the kernel, whichever side failed: the first is re-run at once where a fresh evaluation
may not meet it again, the second rejects the kernel, remembered as its decision
(:func:`after_reevaluation`, :class:`GateStrikes`). Otherwise a kernel that can tell it is
losing could cancel the decision and be measured again until noise committed it.

The re-evaluation's score is the one committed: its rate over the anchor's, timed beside it
in the gate's sweeps (engine/scores.py). The first measurement is biased upward (a candidate
is submitted because it measured well), the second is not. The noise of the stored rule is
the median relative difference between repeated evaluations of one source in this session,
measured on the seed at the start and on every re-evaluation since, and never below a floor.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..evaluation import EvalResult
from ..evaluation.paired import (
    GAIN_FLOOR,
    GatePlan,
    bar,
    decide,
    describe,
    futile_z,
    sequential_z,
)
from ..operators.protocol import Trial
from ..store import Outcome, Version
from .anchor_check import (
    IncumbentCheck,
    against_its_record,
    against_the_record,
    check_incumbent,
    rough_record,
)
from .failing_best import best_key, failed_words
from .gate_memory import GateDecisions, GateStrikes, failure_words, times

NOISE_WINDOW = 20  # recent pairs; the machine's noise drifts over a multi-day run
DEFAULT_NOISE_FLOOR_PCT = 0.5


@dataclass
class NoiseEstimate:
    floor_pct: float = DEFAULT_NOISE_FLOOR_PCT
    pairs_pct: list[float] = field(default_factory=list)

    def add(self, first: float, second: float) -> None:
        if first > 0 and second > 0:
            self.pairs_pct.append(100 * abs(first - second) / ((first + second) / 2))
            del self.pairs_pct[:-NOISE_WINDOW]

    @property
    def pct(self) -> float:
        measured = statistics.median(self.pairs_pct) if self.pairs_pct else 0.0
        return max(self.floor_pct, measured)

    def to_doc(self) -> dict[str, Any]:
        return {"floor_pct": self.floor_pct, "pairs_pct": list(self.pairs_pct)}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> NoiseEstimate:
        return cls(**(doc or {}))


def threshold(best_gmean: float | None, noise: NoiseEstimate) -> float:
    """The geometric mean a candidate must exceed to be committed."""
    return (best_gmean or 0.0) * (1 + noise.pct / 100)


@dataclass(frozen=True)
class Paired:
    """A candidate's gain over the best timed beside it: log-gain, standard error, degrees
    of freedom (EvalResult.incumbent_gain and its companions). ``over``, where given, says
    what else it is a gain over, in words: the best's recorded rate against the anchor, where
    the best was the suspect (:func:`against_record`)."""

    log_gain: float
    se: float | None
    dof: int | None
    over: str | None = None

    @property
    def text(self) -> str:
        return describe(self.log_gain, self.se)

    def compared(self, best: str) -> str:
        """'+0.42% ± 0.09% on v3 timed beside it', or the gain and what it is over."""
        return f"{self.text} {self.over or f'on {best} timed beside it'}"


def against_record(check: IncumbentCheck, result: EvalResult) -> Paired | None:
    """The candidate in ``result`` against ``check``'s best as it was recorded, both against
    the anchor (anchor_check.against_the_record), for a best that read slower than its record:
    its slowed reading decides nothing."""
    gain = against_the_record(check, result)
    if gain is None:
        return None
    log_gain, se, dof = gain
    return Paired(log_gain, se, dof, over=(
        f"over {check.version}'s recorded rate, both against {check.anchor}, the anchor; "
        f"{check.version} is the suspect: {check.words()}"))


def against_the_recorded(best: Version, result: EvalResult) -> Paired | None:
    """The candidate in ``result``, timed without ``best`` beside it, against the best's
    recorded rate, both against the anchor (anchor_check.against_its_record)."""
    gain = against_its_record(best, result)
    if gain is None:
        return None
    log_gain, se, dof, anchor = gain
    return Paired(log_gain, se, dof, over=(
        f"over {best.id}'s recorded rate, both against {anchor}, the anchor, timed without "
        f"{best.id}: the suspect, failed beside its successors"))


def first_reading(gmean: float, best_gmean: float, best: str, noise: NoiseEstimate,
                  paired: Paired | None = None) -> tuple[str, str]:
    """The outcome of a first evaluation scoring ``gmean`` against the best version ``best``
    (scored ``best_gmean``), and how it compares, in words.

    Timed beside the best (``paired``), a candidate goes to the gate unless even the upper end
    of its gain's 99% interval is under the gate's floor: a small gain is not thrown away on a
    short reading; the gate resolves it. It reads ``promising`` only for a positive gain, else
    ``inconclusive``. Without that (the best no longer builds), it is
    compared with the best's stored score, above the session's noise."""
    if paired is not None:
        compared = paired.compared(f"the best ({best})")
        upper = paired.log_gain + futile_z(paired.dof) * (
            paired.se if paired.se is not None else math.inf)
        if upper > GAIN_FLOOR and paired.log_gain > 0:
            return Outcome.PROMISING, compared
        if upper > GAIN_FLOOR:
            return Outcome.INCONCLUSIVE, (f"{compared}: no gain, but too noisy to rule one out "
                                          f"(the top of its 99% interval reaches the gate's "
                                          f"floor of {100 * GAIN_FLOOR:.2f}%): the gate measures "
                                          "it longer")
        if paired.log_gain > 0:
            return Outcome.WITHIN_NOISE, (f"{compared}: even the top of its 99% interval is under "
                                    f"the gate's floor of {100 * GAIN_FLOOR:.2f}%")
        return Outcome.SLOWER, compared
    compared = f"{100 * (gmean / best_gmean - 1):+.2f}% on the best ({best})"
    if gmean > threshold(best_gmean, noise):
        return Outcome.PROMISING, compared
    if gmean > best_gmean:
        return Outcome.WITHIN_NOISE, (f"{compared}, within the noise of {noise.pct:.2f}%: no clear "
                                "gain")
    return Outcome.SLOWER, compared


def clearly_slower(gmean: float, best_gmean: float, noise: NoiseEstimate) -> bool:
    """Below a stored score by more than the session's noise: a first reading taken beside an
    older best is not sent to the gate against a newer one only then."""
    return gmean < best_gmean * (1 - noise.pct / 100)


def unconfirmed(attempt: str, first_gmean: float, best_gmean: float | None, best: str | None,
                reason: str, first: Paired | None = None) -> str:
    """The detail of a promising ``attempt`` that its re-evaluation did not bear out: what it
    measured first (``first``, its reading beside the best, where it has one), then what the
    gate measured (``reason``, the verdict's)."""
    if first is not None and best:
        reading = f"{first.text} on {best} timed beside it"
    elif best_gmean and best:
        reading = f"{100 * (first_gmean / best_gmean - 1):+.2f}% on {best}"
    else:
        reading = f"{first_gmean:.4g}"
    return f"not confirmed on re-evaluation of {attempt}: {reading} at first, then {reason}"


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    held: bool = False  # it would be accepted, but a flag holds it for the operator (a suspect)
    flags: tuple[str, ...] = ()
    # not accepted, as the machine was too rough to tell (anchor_check.ANCHOR_BOUND_LIMIT):
    # no decision is remembered, and asking again measures again
    undecided: bool = False


def judge(confirm_gmean: float, correct: bool, best_gmean: float | None, noise: NoiseEstimate,
          unit: str) -> Verdict:
    """The stored-score rule, for when the best could not be timed beside the candidate."""
    if not correct:
        return Verdict(False, "the re-evaluation failed")
    bar = threshold(best_gmean, noise)
    if best_gmean and confirm_gmean <= bar:
        gain = 100 * (confirm_gmean / best_gmean - 1)
        return Verdict(
            False,
            f"re-evaluated at {confirm_gmean:.4g} {unit} ({gain:+.2f}% on the best), not above "
            f"the noise of {noise.pct:.2f}%",
        )
    change = f" ({100 * (confirm_gmean / best_gmean - 1):+.2f}%)" if best_gmean else ""
    return Verdict(True, f"re-evaluated at {confirm_gmean:.4g} {unit}{change}")


def judge_beside(paired: Paired, best: str, confirm_gmean: float, unit: str,
                 beside: dict[str, object] | None = None) -> Verdict:
    """The side-by-side rule (evaluation/paired.py): the candidate's gain over the best
    version (``best``), both timed launch beside launch on the same inputs, is accepted when
    the lower end of its sequential 99% interval clears the floor. ``beside`` says how long the
    measurement ran."""
    how = ""
    if beside and beside.get("sweeps"):
        how = f" ({beside['sweeps']} sweeps, {float(beside.get('seconds', 0)):.0f} s)"  # type: ignore[arg-type]
    measured = f"re-evaluated at {confirm_gmean:.4g} {unit}, {paired.compared(best)}{how}"
    limit = 100 * math.expm1(bar(paired.se, paired.dof))
    if decide(paired.log_gain, paired.se, paired.dof, final=True) != "accept":
        return Verdict(False, f"{measured}: not above the bar of {limit:+.2f}% (the floor of "
                              f"{100 * GAIN_FLOOR:.2f}% and {sequential_z(paired.dof):.2f} "
                              "standard errors of this comparison)")
    return Verdict(True, f"{measured} (bar {limit:+.2f}%)")


def beyond_the_check(check: IncumbentCheck, result: EvalResult, beside: Verdict) -> Verdict:
    """Safety before liveness: ``beside``, a verdict that accepts the candidate's gain over the
    best timed beside it, where ``check`` was too rough to tell whether the best slowed itself
    there (IncumbentCheck.too_rough). The candidate is committed only if its rate over the
    anchor also beats the best's recorded one by the bar, which no behaviour of the best beside
    it moves; not confirmed where that is clearly no gain; else undecided, saying why."""
    record = against_record(check, result)
    if record is None:
        return Verdict(False, f"{beside.reason}; undecided: {check.roughness_words()}",
                       undecided=True)
    if decide(record.log_gain, record.se, record.dof, final=True) == "accept":
        limit = 100 * math.expm1(bar(record.se, record.dof))
        return Verdict(True, f"{beside.reason}; and {record.compared(check.version)} (bar "
                             f"{limit:+.2f}%), as the machine was too rough to check "
                             f"{check.version} beside it")
    upper = record.log_gain + futile_z(record.dof) * (record.se or math.inf)
    if upper < GAIN_FLOOR:
        return Verdict(False, f"{beside.reason}; but {record.compared(check.version)}: no gain "
                              "over its record")
    return Verdict(False, f"{beside.reason}; undecided: {check.roughness_words()}; and "
                          f"{record.compared(check.version)} is too rough to decide alone",
                   undecided=True)


def hold_if_flagged(verdict: Verdict, flags: Iterable[str]) -> Verdict:
    """The suspect rule: an accepted verdict on a flagged result (the first evaluation's flags
    or the re-evaluation's) becomes ``held``, not accepted. Anything else is left as it is."""
    unique = tuple(dict.fromkeys(f for f in flags if f))
    if not verdict.accepted or not unique:
        return verdict
    return Verdict(
        False,
        f"{verdict.reason}; held for the operator's review, flagged: " + "; ".join(unique),
        held=True,
        flags=unique,
    )


# -- undecided decisions (docs/engine.md, "Undecided decisions count against the candidate") --
#
# A re-evaluation that fails in the candidate's runner (crash, hang, interference, a CUDA error,
# a wrong answer) is a decided rejection. One that ends in these says nothing about which side
# failed, or says the best's did: the decision is undecided. Left at that, a kernel that can
# tell from its own clock that it is losing could crash the best's runner or the worker, and be
# measured again until noise committed it; so each undecided decision is a strike against the
# kernel, and the second rejects it.
UNDECIDED = frozenset({"incumbent_failed", "timeout", "internal", "toolchain", "target"})
# Of those, the ones a fresh evaluation at once may not meet again (fresh runners; the worker
# was replaced where it failed): the decision is re-run inside the same request, once.
RERUN_AT_ONCE = frozenset({"incumbent_failed", "timeout", "internal"})
CUT_SHORT = "interrupted"  # the operator stopped it: no decision, and no strike
STRIKES_TO_REJECT = 2

# The moves after a re-evaluation (:func:`after_reevaluation`).
DECIDE = "decide"  # its verdict stands, and is remembered (one decision per kernel)
FORGET = "forget"  # cut short by the operator: no decision, no strike, measured again if asked
RERUN = "rerun"  # undecided, a strike: the decision is re-run at once
STRIKE = "strike"  # undecided, a strike, not worth a re-run now: measured again if asked
REJECT = "reject"  # undecided for the second time: rejected, and remembered as a decision
BEST_FAILED = "best failed"  # the best's runner failed: its failure, no strike; run again

def is_undecided(result: EvalResult) -> bool:
    """The re-evaluation decided nothing about the candidate: the best's side failed, or a
    failure no side can be blamed for (the worker went silent or died, the harness or the
    toolchain failed). A crash of the candidate's own runner is the candidate's."""
    failure = result.failure
    if failure is None:
        return False
    return failure.kind in UNDECIDED or (failure.kind == "crash" and result.worker_restarted)


def after_reevaluation(result: EvalResult, strikes: int) -> str:
    """The strike rule: what the gate does with a re-evaluation of a kernel that has had
    ``strikes`` undecided decisions before it. A decided re-evaluation stands (DECIDE); one the
    operator cut short is forgotten (FORGET); an undecided one is a strike, which is the
    second and rejects the kernel (REJECT), or the first: re-run at once where the best's side
    or the worker failed (RERUN), else left for the next request to measure (STRIKE)."""
    failure = result.failure
    if failure is not None and failure.kind == CUT_SHORT:
        return FORGET
    if not is_undecided(result):
        return DECIDE
    if strikes + 1 >= STRIKES_TO_REJECT:
        return REJECT
    assert failure is not None  # a crash here is the worker's (is_undecided)
    return RERUN if failure.kind in RERUN_AT_ONCE or failure.kind == "crash" else STRIKE


class Gate:
    """The commit gate as one thing: its lock (one decision at a time, taken before the
    engine's own), its noise estimate, its decisions per kernel, its plan (how long it may
    measure), and every rule from a first reading to a verdict. The engine measures and
    records; the gate says what each reading and re-evaluation means."""

    def __init__(self, noise: NoiseEstimate, decisions: GateDecisions, cap_s: float,
                 strikes: GateStrikes | None = None) -> None:
        self.lock = threading.Lock()
        self.noise = noise
        self.decisions = decisions
        self.strikes = strikes or GateStrikes()
        self.plan = GatePlan(cap_s=cap_s)

    def state(self) -> dict[str, Any]:
        """What the session keeps of the gate, in its run state's own fields."""
        return {"noise": self.noise.to_doc(), "gate_decisions": self.decisions.to_doc(),
                "gate_strikes": self.strikes.to_doc()}

    def check(self, result: EvalResult, best: Version | None) -> IncumbentCheck | None:
        """``best``, timed beside the candidate in ``result``, read against the anchor beside
        its record (anchor_check.py); None where there is nothing to check."""
        if best is None or not result.correct:
            return None
        return check_incumbent(best, result, self.noise.pct)

    def reading(self, result: EvalResult, best: Version, check: IncumbentCheck | None = None
                ) -> tuple[str, str]:
        """A correct first evaluation on the session's grid against ``best`` (scored):
        its outcome and how it compares (first_reading); against the best's record where
        ``check`` says it read slower beside the candidate."""
        assert best.score is not None
        return first_reading(result.geomean, best.score.gmean, best.id, self.noise,
                             decided_on(result, check))

    def refusal(self, trial: Trial, best: Version | None, moved: str | None,
                identical: list[str]) -> tuple[str, str] | None:
        """Why the gate answers ``trial`` without measuring it, as (outcome, detail): its
        files are ``identical`` to a version or pending suspect; a lane whose best ``moved``
        brings a reading clearly below the new best's stored score; or the gate already
        decided on this kernel against this best. None: the gate measures."""
        if identical:  # noise can flatter a source twice; it is still not a new version
            return Outcome.UNCHANGED, f"identical to {identical[0]}: nothing new to commit"
        # The first reading's stored score: its rate over the anchor's on the lineage's scale
        # (engine/scores.py), as the new best's is.
        first = trial.score.gmean if trial.score else trial.result.geomean
        if moved and best is not None and best.score is not None and best.score.gmean and (
                clearly_slower(first, best.score.gmean, self.noise)):
            change = 100 * (first / best.score.gmean - 1)
            return Outcome.SLOWER, (f"{trial.attempt.id} at first: {change:+.2f}% on {best.id}'s "
                              f"stored score, below it by more than the noise of "
                              f"{self.noise.pct:.2f}%, so not re-evaluated")
        decided = self.decisions.get(trial.result.kernel_id, best)
        against = best.id if best else "no best"
        if decided and decided in self.strikes.attempts(struck_key(trial)):
            return Outcome.UNCHANGED, (
                f"the gate already rejected this kernel against {against} ({decided}): its "
                f"decisions ended undecided {times(len(self.strikes.of(struck_key(trial))))}, "
                "and what fails while the gate measures a kernel counts against it; one "
                "decision per kernel")
        if decided:
            return Outcome.UNCHANGED, (f"the gate already decided on this kernel against "
                                 f"{against} ({decided}): one decision "
                                 "per kernel; change what it computes or how, not how it reads")
        return None

    def verdict(self, trial: Trial, confirm: EvalResult, best: Version | None,
                check: IncumbentCheck | None = None, alone: bool = False) -> Verdict:
        """The decision on a re-evaluation: the side-by-side rule where the best was timed
        beside it (against the best's record, both against the anchor, where ``check`` says
        it read slower beside the candidate, or where the candidate was timed ``alone``
        beside the anchor, the best being the suspect: failing_best.py), else the
        stored-score rule; held where either evaluation was flagged. The pair of evaluations
        joins the noise estimate."""
        if confirm.correct and trial.result.correct:
            self.noise.add(trial.result.geomean, confirm.geomean)
        paired = (against_the_recorded(best, confirm) if alone and best is not None
                  else decided_on(confirm, check))
        if best is not None and confirm.correct and paired is not None:
            verdict = judge_beside(paired, best.id, confirm.geomean, confirm.unit,
                                   confirm.beside)
            if verdict.accepted and check is not None and check.too_rough and not check.slower:
                verdict = beyond_the_check(check, confirm, verdict)
            rough = rough_record(confirm, best) if verdict.accepted else None
            if rough is not None:
                verdict = Verdict(False, f"{verdict.reason}; not committed: {rough}")
        else:
            best_gmean = best.score.gmean if best and best.score else None
            verdict = judge(confirm.geomean, confirm.correct, best_gmean, self.noise,
                            confirm.unit)
        return hold_if_flagged(verdict, [*trial.result.flags, *confirm.flags])

    def next_move(self, trial: Trial, confirm: EvalResult, beside: Version | None = None
                  ) -> str:
        """What to do with ``confirm``, the re-evaluation of ``trial``: BEST_FAILED where
        ``beside``, the best timed beside it, failed (failing_best.py); else by the strike
        rule (:func:`after_reevaluation`) and the kernel's strikes so far."""
        if beside is not None and confirm.failure is not None and (
                confirm.failure.kind == "incumbent_failed"):
            return BEST_FAILED
        return after_reevaluation(confirm, len(self.strikes.of(struck_key(trial, confirm))))

    def failures_of(self, best: Version | None) -> int:
        """How many times ``best`` failed beside its successors (failing_best.py)."""
        return len(self.strikes.of(best_key(best.id))) if best is not None else 0

    def best_failure_words(self, best: Version, result: EvalResult) -> str:
        """What ``result``, where ``best`` failed beside a candidate, means, in words."""
        assert result.failure is not None
        return failed_words(best.id, self.failures_of(best) + 1, failure_words(result.failure))

    def best_failed(self, best: Version, result: EvalResult, attempt: str) -> None:
        """Count ``result``, recorded as ``attempt``, against ``best``, not the candidate."""
        assert result.failure is not None
        self.strikes.add(best_key(best.id), attempt, result.failure)

    def strike(self, trial: Trial, confirm: EvalResult, attempt: str) -> None:
        """Count ``confirm``, an undecided re-evaluation recorded as ``attempt``, against its
        kernel."""
        assert confirm.failure is not None
        self.strikes.add(struck_key(trial, confirm), attempt, confirm.failure)

    def struck(self, trial: Trial, confirm: EvalResult, move: str) -> str:
        """The detail of ``confirm``, an undecided re-evaluation not yet counted: its strike,
        what the gate does next (``move``: RERUN, STRIKE or REJECT) and, for a rejection,
        every failure met."""
        assert confirm.failure is not None
        before = self.strikes.of(struck_key(trial, confirm))
        now = failure_words(confirm.failure)
        if move == REJECT:
            return (f"the gate's decisions on this kernel ended undecided "
                    f"{times(len(before) + 1)} ({'; '.join([*before, f'then {now}'])}): "
                    "rejected")
        then = ("the decision is re-run at once, with fresh processes" if move == RERUN
                else "asked again, it is measured again")
        return (f"undecided: {now}; strike {len(before) + 1} of {STRIKES_TO_REJECT} against "
                f"this kernel, whichever side failed: {then}")

    def decided(self, trial: Trial, confirm: EvalResult, best: Version | None,
                attempt: str) -> None:
        """Remember the decision on this kernel against ``best``, recorded as ``attempt``: a
        verdict (DECIDE), or a rejection for undecided decisions (REJECT). Anything else
        decided nothing, and is not remembered: asking again is measured again."""
        self.decisions.add(confirm.kernel_id or trial.result.kernel_id, best, attempt)

    def needs(self, best: Version | None) -> str:
        """What a commit needs, in words, for the agent and the operator."""
        if best is None or best.score is None:
            return "any correct kernel is committed: there is no best yet"
        return (f"a commit needs a gain over {best.id}, timed beside it launch by launch, whose "
                f"sequential 99% lower bound clears {100 * GAIN_FLOOR:.2f}% (a few tenths of a "
                f"percent at the gate's usual precision); where {best.id} cannot be timed "
                f"beside, more than {threshold(best.score.gmean, self.noise):.4g} "
                f"{best.score.unit or ''} (its stored score plus the noise)".rstrip()
                + "; a crash or a hang while the gate measures a kernel rejects it")


def struck_key(trial: Trial, confirm: EvalResult | None = None) -> str:
    """The kernel strikes are kept under: the re-evaluation's identity, else the first
    reading's (a re-evaluation that failed early may not have built one), else the sources'
    (an evaluator that names no kernel), so that every strike is counted."""
    return (confirm.kernel_id if confirm else None) or trial.result.kernel_id or trial.key


def decided_on(result: EvalResult, check: IncumbentCheck | None) -> Paired | None:
    """What a reading or a decision is judged by: the candidate against the best's record
    where ``check`` found the best slower beside it than recorded, else its gain over the best
    timed beside it."""
    if check is not None and check.slower:
        return against_record(check, result)
    return paired_of(result)


def paired_of(result: EvalResult) -> Paired | None:
    """The result's reading beside the best, if it was timed beside one."""
    gain = result.incumbent_gain
    if gain is None:
        return None
    return Paired(math.log(gain), result.incumbent_gain_se, result.incumbent_gain_dof)
