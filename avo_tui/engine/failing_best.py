"""A best that fails beside its successors is the suspect (docs/engine.md, "A best that fails
beside its successors").

Runners cannot reach each other (evaluation/isolation/), so a best's runner that fails while
timed beside a candidate failed by its own hand. Counted against the candidate, as an undecided
decision is, a best that crashed beside every successor locked the lineage: every successor
was rejected for the best's failure, and the best stood. So the best's failure costs the
candidate nothing: the decision is run again at once. After BEST_FAILURES_TO_SUSPECT of them,
whichever the candidates, the best is flagged (``avo rescore`` measures it again, alone beside
the anchor), and each decision against it from then on times the candidate beside the anchor
alone and judges its rate over the anchor against the best's recorded one, by the gate's bar:
no runner of the best is alive to fail, or to be slowed.
"""

from __future__ import annotations

import math
import statistics

from ..evaluation import EvalResult
from ..evaluation.measurement.score import BESIDE_THE_BEST
from ..store import FlaggedPayload, Version
from .anchor_check import against_its_record
from .scores import anchor_ratios

BEST_FAILURES_TO_SUSPECT = 2


def best_key(version: str) -> str:
    """Where the gate keeps a version's failures beside its successors, among the kernels'
    strikes (gate.GateStrikes): one record of every failure met at the gate."""
    return f"best {version}"


def failed_words(version: str, failures: int, failure: str) -> str:
    """What a decision the best failed says: whose failure it was, and what comes next."""
    then = ("the decision is re-run at once beside it" if failures < BEST_FAILURES_TO_SUSPECT
            else f"{version} is the suspect (flagged): the decision is taken beside the anchor "
                 f"alone, against {version}'s recorded rate over it")
    return (f"the best's failure, not this kernel's (no strike): {failure}; {version} has failed "
            f"beside its successors {failures} of {BEST_FAILURES_TO_SUSPECT} times: {then}")


def failing_flag(best: Version, attempt: str, failures: int) -> FlaggedPayload:
    """The flag of a best that failed beside its successors ``failures`` times, the last in
    ``attempt``: its recorded rate over the anchor, and none measured (it failed)."""
    found = anchor_ratios(best.score) if best.score is not None else None
    anchor, ratios = found if found is not None else ("", {})
    recorded = math.exp(statistics.fmean(map(math.log, ratios.values()))) if ratios else 0.0
    return FlaggedPayload(best.id, anchor, recorded=recorded, measured=0.0, allowed_pct=0.0,
                          attempt=attempt, failures=failures)


def flags_beside_the_seed(result: EvalResult, best: Version, max_jump: float) -> list[str]:
    """``result``'s flags, the candidate timed beside the seed for a suspect ``best``: its
    jump is told against the best's record, not against the seed timed beside it, which every
    version since has left behind."""
    kept = [flag for flag in result.flags if not flag.endswith(BESIDE_THE_BEST)]
    gain = against_its_record(best, result)
    if gain is not None and math.exp(gain[0]) > max_jump:
        kept.append(f"geomean {result.geomean:.4g} is {math.exp(gain[0]):.2f}x {best.id}'s "
                    "recorded rate, both against the anchor")
    return kept
