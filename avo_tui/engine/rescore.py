"""Putting a captured score right (``avo rescore``, docs/engine.md "Rescores").

A version's stored score is chained (scores.py): the score of the version it was timed beside,
times the gain measured there. One inflated link (a kernel that captured the gate) is carried
into every score chained through it, and the best stays wrong. A rescore re-evaluates the named
versions, each beside the version its score is chained from (the seed, or a score chained from
nothing, on its own), exactly as the gate measures, and takes ``lineage_score`` of the result.
Every version whose chain runs through a changed score then follows: its gain over the version
it is chained from is kept, on that version's new score (``followed_score``). The walk goes in
the order the versions were committed, so a chain of chains follows link by link.

Nothing is written here: :meth:`Rescorer.run` returns the new scores with their events, and
``Session.rescore`` writes them all at once, or nothing (an interrupted rescore changes no
score).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..evaluation import EvalResult
from ..evaluation.paired import GatePlan, describe
from ..store import RescorePayload, Score, Session, Version
from .evaluator import Evaluator, Progress
from .scores import followed_score, lineage_score

Say = Callable[[str], None]  # one line for the operator, per version


@dataclass(frozen=True)
class Change:
    """A version's new score, and the event that says so."""

    version: str
    was: Score | None
    now: Score
    payload: RescorePayload


@dataclass
class RescoreReport:
    changes: list[Change] = field(default_factory=list)
    # named versions whose re-evaluation failed: {version: why}; their scores stand
    failed: dict[str, str] = field(default_factory=dict)


def named_versions(session: Session, refs: Sequence[str]) -> list[Version]:
    """The versions ``refs`` name (ids, ``best``, ``head``), each once, in the order they were
    committed; UnknownVersion for one the session does not have."""
    found = {v.id: v for v in (session.version(ref) for ref in refs)}
    return sorted(found.values(), key=lambda v: v.number)


class Rescorer:
    """Re-evaluates versions of ``session`` on ``evaluator`` beside the versions their scores
    are chained from, for as long as the gate's ``plan`` allows, and derives their followers'."""

    def __init__(self, session: Session, evaluator: Evaluator, plan: GatePlan, *,
                 reason: str = "", say: Say = print, progress: Progress | None = None) -> None:
        self.session, self.evaluator, self.plan = session, evaluator, plan
        self.reason, self.say, self.progress = reason, say, progress
        self.unit = evaluator.target.unit

    def run(self, named: Sequence[Version]) -> RescoreReport:
        report = RescoreReport()
        wanted = {v.id for v in named}
        now: dict[str, Score] = {}  # the new scores, by version
        for version in self.session.lineage:  # in the order they were committed
            base = version.score.chained_from if version.score else None
            if version.id in wanted:
                change = self._measure(version, now, report)
            elif version.score is not None and base is not None and base in now:
                change = self._follow(version, version.score, base, now[base])
            else:
                continue
            if change is not None:
                now[version.id] = change.now
                report.changes.append(change)
        return report

    def _beside(self, version: Version, now: dict[str, Score]) -> Version | None:
        """The version ``version``'s score is chained from, with its new score if it has one;
        None for a score chained from nothing (or from a version the session lacks)."""
        base = version.score.chained_from if version.score else None
        if base is None or base not in self.session.lineage:
            return None
        beside = self.session.version(base)
        return replace(beside, score=now[base]) if base in now else beside

    def _measure(self, version: Version, now: dict[str, Score],
                 report: RescoreReport) -> Change | None:
        beside = self._beside(version, now)
        where = (f"beside {beside.id}, the version its score is chained from" if beside
                 else "on its own (its score is chained from no version)")
        self.say(f"{version.id}: re-evaluating {where} ...")
        result = self.evaluator.evaluate(
            self.session.read_files(version),
            incumbent=self.session.read_files(beside) if beside else None,
            gate=self.plan if beside else None,
            fresh_baselines=True,  # its ratios from the same minutes as its rate
            on_progress=self.progress,
        )
        if beside is not None and beside.score is not None and result.same_as_incumbent:
            score: Score | None = replace(beside.score, chained_from=beside.id, measured=None)
            gain: str | None = f"compiles to the same kernel as {beside.id}: its score"
        else:
            score = lineage_score(result, beside)
            gain = _gain_words(result, beside)
        if score is None:
            why = str(result.failure) if result.failure else "no score"
            report.failed[version.id] = why
            self.say(f"{version.id}: not rescored, its score stands: {why}")
            return None
        for flag in result.flags:
            self.say(f"{version.id}: flagged: {flag}")
        payload = RescorePayload(version.id, "measured", _gmean(version.score), score.gmean,
                                 self.unit, beside=score.chained_from, gain=gain,
                                 reason=self.reason)
        self.say(f"{version.id}: {_from_to(version.score, score, self.unit)}"
                 + (f": {gain}" if gain else ""))
        return Change(version.id, version.score, score, payload)

    def _follow(self, version: Version, score: Score, base: str, base_now: Score) -> Change:
        was = self.session.version(base).score
        assert was is not None, "a version in ``now`` was scored before"
        new = followed_score(score, was, base_now)
        payload = RescorePayload(version.id, "followed", score.gmean, new.gmean, self.unit,
                                 beside=base, reason=self.reason)
        self.say(f"{version.id}: follows {base}: {_from_to(score, new, self.unit)}")
        return Change(version.id, score, new, payload)


def _gmean(score: Score | None) -> float | None:
    return score.gmean if score else None


def _gain_words(result: EvalResult, beside: Version | None) -> str | None:
    """'+0.12% ± 0.05% on v0 timed beside it (12 sweeps, 9 s)'; None when it was not timed
    beside a version."""
    paired = result.paired
    if beside is None or paired is None:
        return None
    sweeps, seconds = result.beside.get("sweeps"), result.beside.get("seconds")
    how = (f" ({sweeps} sweeps, {float(seconds):.0f} s)"
           if isinstance(sweeps, int) and isinstance(seconds, int | float) else "")
    return f"{describe(paired.log_gain, paired.se)} on {beside.id} timed beside it{how}"


def _from_to(was: Score | None, now: Score, unit: str) -> str:
    """'1.172e+04 -> 101.3 GFLOP/s (x0.0086)'."""
    before = f"{was.gmean:.4g}" if was else "-"
    factor = f" (x{now.gmean / was.gmean:.3g})" if was and was.gmean else ""
    return f"{before} -> {now.gmean:.4g} {unit}{factor}"


def change_factor(change: Change) -> float | None:
    """How many times its old score a version's new score is; None where it had none."""
    if change.was is None or not change.was.gmean or not math.isfinite(change.was.gmean):
        return None
    return change.now.gmean / change.was.gmean
