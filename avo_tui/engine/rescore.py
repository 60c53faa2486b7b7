"""Putting a score right (``avo rescore``, docs/engine.md "Rescores").

A version's stored score is its rate against the anchor (scores.py), measured in the sweeps
of the decision that committed it. A rescore measures it again (by default the versions
flagged as suspects and the versions built on them: :func:`flagged_lineage`), beside the
anchor and no version an agent wrote: no other version is alive beside it, so there is
nothing for a version that behaves differently beside another to see, and its new score is
``anchored_score`` of that result, on the lineage's scale as it stands (the first version's,
before this rescore: rescoring v0 moves no other score).

Where the seed is the user's, it is read as a record is: beside the seed, as the gate times a
candidate beside its best, by the gate's rule (paired.GatePlan). On the CPU a reading alone
read well below the same version's record, taken beside another kernel, and a lineage half
rescored disagreed with itself by that much (benchmarks/anchor_lineage.py). The seed, which no
agent wrote, cannot behave differently beside another version.

A score no longer depends on another version's, so nothing is derived from a rescored score.
Scores from before anchors were chained (the score of the version timed beside, times the
gain measured there): every version whose chain runs through a named one is measured again
too (:func:`with_chained`), in the order the versions were committed.

Nothing is written here: :meth:`Rescorer.run` returns the new scores with their events, and
``Session.rescore`` writes them all at once, or nothing (an interrupted rescore changes no
score).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..evaluation import EvalResult
from ..evaluation.paired import GatePlan
from ..store import RescorePayload, Score, Session, Version
from .evaluator import Evaluator, Progress
from .scores import anchored_score

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


def flagged_lineage(session: Session) -> list[Version]:
    """The versions flagged as suspects (anchor_check.py) and every version built on one of
    them, whose decisions were taken beside it, in the order they were committed."""
    wanted = {vid for vid in session.run_state.flagged if vid in session.lineage}
    for version in session.lineage:  # a parent is committed before its children
        if version.parent in wanted:
            wanted.add(version.id)
    return [v for v in session.lineage if v.id in wanted]


def with_chained(session: Session, named: Sequence[Version]) -> list[Version]:
    """``named``, and every version whose score (from before anchors) is chained through one
    of them, in the order they were committed."""
    wanted = {v.id for v in named}
    for version in session.lineage:  # a chain runs from older versions to newer ones
        base = version.score.chained_from if version.score else None
        if base in wanted:
            wanted.add(version.id)
    return [v for v in session.lineage if v.id in wanted]


class Rescorer:
    """Re-evaluates versions of ``session`` on ``evaluator``, each beside the anchor and, where
    the seed is the user's, beside the seed by the gate's rule (capped at ``gate_cap_s``, else
    the target's cap): as a record was read, with no version an agent wrote beside it. The seed
    itself, and any version where the anchor is not the seed, is timed beside the anchor alone
    until its rate over it is known to RECORD_SE or the cap has passed."""

    def __init__(self, session: Session, evaluator: Evaluator, *, reason: str = "",
                 say: Say = print, progress: Progress | None = None,
                 gate_cap_s: float | None = None) -> None:
        self.session, self.evaluator = session, evaluator
        self.reason, self.say, self.progress = reason, say, progress
        self.unit = evaluator.target.unit
        root = session.lineage.root()
        self.scale = root.score if root is not None else None
        self.anchor = (session.read_files(root) if root is not None and root.author == "seed"
                       else None)
        self.plan = GatePlan(cap_s=gate_cap_s or evaluator.target.gate_cap_s)

    def run(self, named: Sequence[Version]) -> RescoreReport:
        report = RescoreReport()
        for version in named:
            change = self._measure(version, report)
            if change is not None:
                report.changes.append(change)
        return report

    def _measure(self, version: Version, report: RescoreReport) -> Change | None:
        beside = "the seed and the anchor" if self.anchor is not None else "the anchor"
        self.say(f"{version.id}: re-evaluating on its own, beside {beside} ...")
        files = self.session.read_files(version)
        result = self._evaluate(files, beside_seed=self.anchor is not None)
        if result.same_as_incumbent:  # the seed itself (v0): its record, beside the anchor
            result = self._evaluate(files, beside_seed=False)
        score = anchored_score(result, self.scale)
        if score is None:
            why = str(result.failure) if result.failure else "no score"
            report.failed[version.id] = why
            self.say(f"{version.id}: not rescored, its score stands: {why}")
            return None
        for flag in result.flags:
            self.say(f"{version.id}: flagged: {flag}")
        against = _anchor_words(result)
        payload = RescorePayload(version.id, "measured", _gmean(version.score), score.gmean,
                                 self.unit, gain=against, reason=self.reason)
        self.say(f"{version.id}: {_from_to(version.score, score, self.unit)}"
                 + (f": {against}" if against else ""))
        return Change(version.id, version.score, score, payload)

    def _evaluate(self, files: dict[str, str], *, beside_seed: bool) -> EvalResult:
        return self.evaluator.evaluate(
            files,
            fresh_baselines=True,  # its ratios from the same minutes as its rate
            on_progress=self.progress,
            anchor=self.anchor,
            incumbent=self.anchor if beside_seed else None,
            # beside the seed, by the gate's rule; alone, to a record's precision or the cap
            # (measure.time_record): a plain evaluation leaves a loaded CPU's record too rough
            # for any later decision to check a best against (issue 84)
            gate=self.plan,
        )


def _gmean(score: Score | None) -> float | None:
    return score.gmean if score else None


def _anchor_words(result: EvalResult) -> str | None:
    """'1.072x seed ± 0.41%, the anchor, timed beside it'; None where no anchor was timed."""
    anchored = result.versus_anchor
    if anchored is None:
        return None
    spread = f" ± {100 * anchored.se:.2f}%" if anchored.se is not None else ""
    return (f"{math.exp(anchored.log_gain):.4g}x {result.anchor}{spread}, the anchor, timed "
            "beside it")


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
