"""The incumbent is checked, not trusted (docs/engine.md, "The incumbent is checked").

Every decision times the best version beside the candidate, and the anchor beside both
(evaluation/measurement/anchor.py). The best's rate over the anchor's, read there, must agree
with the one it was recorded with, within the two readings' errors and the session's noise. A
machine that got slower slows the anchor too, so an honest best agrees. A best that reads
slower beside a candidate than it was recorded works differently beside another kernel (the
older version of a colluding pair computes its answer twice when it sees its successor
alive): it is the suspect. The decision then does not use its slowed reading: the candidate is
judged by its own rate over the anchor's against the best's recorded one
(:func:`against_the_record`), and the version is flagged (engine/trials.py).

Judging against the record rather than calling the decision undecided: an undecided decision
is a strike against the candidate, so a best that slowed itself beside every candidate would
have every candidate rejected, and an honestly faster one could never replace it. Against the
record, a candidate no faster than the best is not committed however slow the best reads, and
one that is clearly faster still is, measured against a kernel no agent wrote.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from ..evaluation import EvalResult
from ..evaluation.paired import RECORD_SE, PairedGain, futile_z, t_quantile
from ..store import Version
from .scores import anchor_ratios

# The normal distribution's one-sided 0.1% quantile. The spread between two evaluations
# (below) is bounded at it in every check. The readings' own errors are bounded at the
# gate's t99 for the decision, which is then taken against the record: at the first look's
# 2 degrees of freedom t at 0.1% is 22, and a best that slowed itself by 5% beside its
# successor let every one of four same-speed successors be committed (t99: one of four).
# A flag tells the operator, once per version, and sends them to rescore it: it takes the
# 0.1% quantile for both, as at t99 an honest best was flagged in 2 of 104 decisions.
SUSPECT_Z = 3.090
# The median of |N(0, 1)|: the session's noise is the median relative difference between two
# readings of one kernel, so over this it is the standard deviation of such a difference.
MEDIAN_ABS_NORMAL = 0.6745
# A record rougher than RECORD_SE is the kernel's doing only where it is rougher than this
# times the error the anchor's own jitter, in the same sweeps, gives a rate over it: a kernel
# that spins a random while is far rougher than the anchor beside it; on a loaded machine the
# anchor jitters too. The anchor is no agent's, and it runs while every runner is frozen, so a
# best that makes itself rough beside its successor (both the agent's) excuses nothing.
MACHINE_ROUGHNESS = 2.0
# The widest the check's bound may grow with the readings' errors and the session's noise (a
# log: 5%). Past it the check cannot tell a best that slowed itself beside its successor from
# a rough machine, and a decision that leans on the best's reading beside the candidate is
# undecided (gate.py). On a GPU every record is within ±0.3% and the bound stays near 2-3%.
ANCHOR_BOUND_LIMIT = -math.log(1 - 0.05)

@dataclass(frozen=True)
class IncumbentCheck:
    """The best's rate over the anchor's as recorded and as read beside a candidate (logs of
    the geometric means over the configurations timed), with their standard errors, and how
    far below its record it may read (``allowed``, a log)."""

    version: str
    anchor: str
    recorded: float
    recorded_se: float
    measured: float
    measured_se: float
    dof: int
    allowed: float
    # how far below its record it may read before the operator is told (a flag): wider
    flag_allowed: float = math.inf
    noise_pct: float = 0.0  # the session's noise the bound was drawn with

    @property
    def slower(self) -> bool:
        """It read slower than recorded, past what the errors and the noise allow: the
        decision is taken against its record."""
        return self.recorded - self.measured > self.allowed

    @property
    def too_rough(self) -> bool:
        """Its bound grew past ANCHOR_BOUND_LIMIT: a best that read as recorded may still
        have slowed itself by up to ``allowed`` beside the candidate, unseen."""
        return self.allowed > ANCHOR_BOUND_LIMIT

    def roughness_words(self) -> str:
        """What the check could not tell, how rough the machine measured, and what would
        settle it."""
        limit = 100 * -math.expm1(-ANCHOR_BOUND_LIMIT)
        return (f"the machine is too rough to check {self.version} beside the candidate: it "
                f"could have read up to -{self.allowed_pct:.1f}% below its record unseen (its "
                f"rate over {self.anchor} read to ±{100 * self.measured_se:.2f}%, recorded to "
                f"±{100 * self.recorded_se:.2f}%, and the session's noise), past the "
                f"-{limit:.1f}% the gate allows; {self.settling_words()}")

    def largest_error(self) -> str:
        """Which of the bound's three parts is the largest: the best's ``reading`` beside the
        candidate, its ``record``, or the session's ``noise``."""
        z = futile_z(self.dof)
        between = anchor_bound(0.0, self.dof, self.noise_pct)  # the noise's part alone
        parts = {"reading": z * self.measured_se, "record": z * self.recorded_se,
                 "noise": between}
        return max(parts, key=lambda part: parts[part])

    def settling_words(self) -> str:
        """What would settle the check, for its largest error: more time shrinks only the
        reading's; the record was taken when the best was committed, and the noise is the
        spread of the session's recent pairs of readings."""
        part = self.largest_error()
        if part == "reading":
            return "more time (--gate-cap) or a quieter machine would settle it"
        if part == "record":
            return (f"most of that is {self.version}'s record, which no time spent here "
                    f"shrinks: `avo rescore {self.version}` on a quiet machine records it again")
        return (f"most of that is the session's noise (two readings of one kernel "
                f"{self.noise_pct:.1f}% apart, the median of its recent pairs), which no time "
                "spent here shrinks: a quieter machine settles it as new readings come in")

    @property
    def flagged(self) -> bool:
        """It read slower past the flag's wider bound: the operator is told."""
        return self.recorded - self.measured > self.flag_allowed

    @property
    def allowed_pct(self) -> float:
        return 100 * -math.expm1(-self.allowed)

    @property
    def flag_allowed_pct(self) -> float:
        return 100 * -math.expm1(-self.flag_allowed)

    def words(self) -> str:
        """'v3 read 0.502x seed beside the candidate against 1.003x recorded (-49.9%, past the
        -4.1% its errors and the noise allow)'."""
        change = 100 * math.expm1(self.measured - self.recorded)
        return (f"{self.version} read {math.exp(self.measured):.4g}x {self.anchor} beside the "
                f"candidate against {math.exp(self.recorded):.4g}x recorded ({change:+.1f}%, "
                f"past the -{self.allowed_pct:.1f}% its errors and the noise allow)"
                if self.slower else
                f"{self.version} read {math.exp(self.measured):.4g}x {self.anchor} beside the "
                f"candidate against {math.exp(self.recorded):.4g}x recorded ({change:+.1f}%)")


def check_incumbent(best: Version, result: EvalResult, noise_pct: float) -> IncumbentCheck | None:
    """``best``'s reading against the anchor in ``result`` beside its recorded one; None where
    there is nothing to check: no anchor timed beside it, or no record on that anchor and on
    every configuration timed (a score from before anchors has its ratios to its primary
    baseline: scores.anchor_ratios)."""
    read = result.incumbent_versus_anchor
    record = recorded_rate(best, result, read)
    if read is None or read.se is None or record is None:
        return None
    anchor, recorded, recorded_se = record
    se = math.hypot(read.se, recorded_se)
    allowed = anchor_bound(se, read.dof, noise_pct)
    flag_allowed = anchor_bound(se, read.dof, noise_pct, t_quantile(read.dof, SUSPECT_Z))
    return IncumbentCheck(best.id, anchor, recorded, recorded_se, read.log_gain, read.se,
                          read.dof, allowed, max(allowed, flag_allowed), noise_pct)


def anchor_bound(se: float, dof: int, noise_pct: float, z: float | None = None) -> float:
    """How far below its record (a log) a best may read, its reading and record known to ``se``
    together over ``dof`` degrees of freedom, in a session whose noise is ``noise_pct``: the
    readings' errors at ``z`` (the gate's t99 unless given) and the spread between two evaluations
    at SUSPECT_Z. Two evaluations of one kernel differ by more than either's error says (each
    process has biases of its own): with both errors small, an honest best read below its record by
    several times either (benchmarks/RESULTS.md). That difference is a third error, independent of
    the two, so it is added in quadrature; its bound takes the normal quantile, as it is not
    estimated from the reading."""
    between = math.log1p(noise_pct / 100) / MEDIAN_ABS_NORMAL
    return math.hypot((futile_z(dof) if z is None else z) * se, SUSPECT_Z * between)


def recorded_rate(best: Version, result: EvalResult, read: PairedGain | None
                  ) -> tuple[str, float, float] | None:
    """``best``'s recorded rate over the anchor's (a log) on the configurations ``read`` has,
    as (anchor, rate, its standard error); None where it has no record on ``result``'s anchor
    and every one of them (a score from before anchors: scores.anchor_ratios)."""
    score = best.score
    found = anchor_ratios(score) if score is not None else None
    if read is None or found is None or found[0] != result.anchor:
        return None
    anchor, ratios = found
    if not set(read.blocks) <= set(ratios) or any(ratios[c] <= 0 for c in read.blocks):
        return None
    recorded = statistics.fmean(math.log(ratios[c]) for c in read.blocks)
    # A score from before anchors kept no error for its ratio: the noise stands for it.
    return anchor, recorded, (score.anchor_se if score is not None else None) or 0.0


def against_its_record(best: Version, result: EvalResult
                       ) -> tuple[float, float, int, str] | None:
    """The candidate in ``result``, measured without ``best`` beside it, against the best's
    recorded rate, both over the anchor: as :func:`against_the_record`, and the anchor's name;
    None where either is missing."""
    read = result.versus_anchor
    record = recorded_rate(best, result, read)
    if read is None or read.se is None or record is None:
        return None
    anchor, recorded, recorded_se = record
    return read.log_gain - recorded, math.hypot(read.se, recorded_se), read.dof, anchor


def against_the_record(check: IncumbentCheck, result: EvalResult
                       ) -> tuple[float, float, int] | None:
    """The candidate's gain over the best's recorded rate, both against the anchor: the log of
    the candidate's rate over the anchor's, as read in ``result``, less the best's recorded
    one, with its standard error and degrees of freedom; None where the candidate's was not
    read."""
    read = result.versus_anchor
    if read is None or read.se is None:
        return None
    return (read.log_gain - check.recorded, math.hypot(read.se, check.recorded_se), read.dof)


def rough_record(result: EvalResult, best: Version) -> str | None:
    """Why ``result``, a gate's re-evaluation that its gain would commit, cannot be recorded:
    its rate over the anchor's is known less precisely than RECORD_SE, on a machine that
    recorded ``best`` to it, and more than MACHINE_ROUGHNESS times less precisely than the
    anchor's own jitter in the same sweeps allows (EvalResult.anchor_jitter_se). None where it
    can be (or nothing says: no anchor timed).

    The gate measures until the record reaches RECORD_SE or its cap. A kernel that adds random spins
    to its own launches reaches the cap with a record of several percent, and once it is the best it
    can slow itself beside its successors by that much unseen (the check's bound grows with the
    record's error). On a machine whose records reach RECORD_SE (a GPU), such a record is refused.
    Where the best's own record is rougher (a loaded CPU, where the anchor's own error is several
    percent or more), every record is rough, the kernel is not the cause, and the rule would refuse
    every commit; a best's record is the machine's word, as no kernel can change a stored score. A
    machine can be quiet when the best is recorded and loaded at the gate: an honest gain, large and
    plain, on a CPU loaded so was refused (its record several times rougher at the cap than the
    seed's), as the anchor itself jittered. So the roughness is the kernel's only where the anchor,
    timed in the same sweeps, was well steadier. The best's reading is no witness: a colluding best
    can make itself as rough as its successor, beside it only."""
    read = result.versus_anchor
    recorded_se = best.score.anchor_se if best.score is not None else None
    if read is None or read.se is None or recorded_se is None:
        return None
    if read.se <= RECORD_SE or recorded_se > RECORD_SE:
        return None
    machine_se = result.anchor_jitter_se
    if machine_se is not None and read.se <= MACHINE_ROUGHNESS * machine_se:
        return None
    machine = (f" and the anchor alone jittered as for ±{100 * machine_se:.2f}%"
               if machine_se is not None else "")
    return (f"its rate over {result.anchor}, the anchor, stayed known to ±{100 * read.se:.2f}% "
            f"at the gate's cap, where {best.id} was recorded to ±{100 * recorded_se:.2f}%"
            f"{machine}; a record needs ±{100 * RECORD_SE:.2f}%: a kernel whose time varies "
            "this much cannot be checked later as the best; make its time steady")
