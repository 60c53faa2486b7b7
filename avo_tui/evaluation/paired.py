"""The candidate against the best version, launch beside launch: the estimate of its gain, its
standard error, and the sequential rule that says when the measurement has decided.

The two kernels are timed in **blocks**: on one configuration, PAIRS_PER_BLOCK adjacent pairs
of launches in an A B B A ... order (which kernel is A alternates from block to block), each
launch on fresh inputs, a poisoned output and a cold L2, both kernels drawing from the same
input and output buffers. A block's value is the median over its pairs of log(best's time /
candidate's time): a launch slowed by something else moves one pair, not the block. A
**sweep** is one block on every configuration; the gain is the geometric mean over
configurations of each one's mean block value, and its standard error comes from how the
blocks of each configuration spread, so whatever drifts between blocks (a process renewed, a
clock that moved) is in it.

The measurement looks at the estimate after doubling numbers of sweeps (MIN_SWEEPS, twice
that, ...) and at its time cap, and decides:

- ``accept`` when the gain's lower bound clears the floor: log(gain) - t * SE > GAIN_FLOOR;
- ``reject`` when its upper bound cannot: log(gain) + t_futile * SE < GAIN_FLOOR (clearly
  slower, or clearly no gain worth a version);
- otherwise it goes on, and at the cap what has not been accepted is rejected.

Looking several times would let noise through more often than one look does, so the accepting
quantile is the one that keeps the chance that *any* of up to MAX_LOOKS doubling looks accepts
a change that does nothing at 1% (SEQUENTIAL_Z, found by simulating the looks' correlated
statistics); stopping for futility only ever lowers that chance.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field

GAIN_Z = 2.326  # the normal distribution's one-sided 99% quantile
# The least log-gain accepted whatever the standard error: what no estimate from one
# evaluation can see, such as a bias that holds for the whole life of a process.
GAIN_FLOOR = 0.001


def t_quantile(dof: int | None, z: float = GAIN_Z) -> float:
    """Student's t quantile for ``dof`` degrees of freedom (None: infinitely many) at the
    probability where the normal quantile is ``z`` (by default the one-sided 99%): exact for 1
    and 2 degrees of freedom, by the Cornish-Fisher expansion around ``z`` from 3 on (close
    to the exact value at the 99% quantile: tests/functional/test_gate.py)."""
    if dof is None:
        return z
    p = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    if dof <= 1:
        return math.tan(math.pi * (p - 0.5))
    if dof == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    return (z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3))


PAIRS_PER_BLOCK = 6  # an even number: as many pairs with each kernel first
MIN_SWEEPS = 3  # the first look; the standard error needs a few blocks per configuration
MAX_LOOKS = 8
# P(max over 8 looks at 1, 2, 4, ... 128 units of information of a standard Brownian motion's
# z-statistic > 2.96) = 1% (simulated, 400,000 paths; 6 looks: 2.875, 4 looks: 2.738).
SEQUENTIAL_Z = 2.96
MIN_CHECKED = 8  # candidate launches checked against the reference before a gain is accepted
# The standard error (log) to which a decision measures both kernels' rates over the anchor
# before it accepts. A commit's rate becomes its record, which every later decision checks
# the best against (engine/anchor_check.py); a gain decided in three sweeps left records
# known to 0.6-1.3%, so a best 5% slower beside its successor was within its errors about
# half the time (issue 69). At 0.25% the anchor, timed once a block and so noisier than the
# pair, took 48 to 1083 sweeps (2 to 60 s) on mha on an H200, holding the gate's lock.
RECORD_SE = 0.005


@dataclass(frozen=True)
class GatePlan:
    """How long the gate may measure, and from which gain on it accepts."""

    cap_s: float
    floor: float = GAIN_FLOOR  # log-gain
    min_checked: int = MIN_CHECKED
    early: bool = True  # stop at a look that decides; False: measure to the cap (calibration)
    record_se: float = RECORD_SE  # an accept waits for the rates over the anchor to reach it


@dataclass
class PairedGain:
    """Block values per configuration (log(best time / candidate time)), in sweep order."""

    blocks: dict[str, list[float]] = field(default_factory=dict)

    def add(self, config: str, value: float) -> None:
        self.blocks.setdefault(config, []).append(value)

    @property
    def sweeps(self) -> int:
        return min((len(v) for v in self.blocks.values()), default=0)

    @property
    def log_gain(self) -> float:
        return statistics.fmean(statistics.fmean(v) for v in self.blocks.values())

    @property
    def dof(self) -> int:
        return sum(len(v) - 1 for v in self.blocks.values())

    @property
    def se(self) -> float | None:
        """The standard error of log_gain: the blocks' variance pooled over configurations
        (each configuration around its own mean), over the number of blocks of each."""
        if self.dof <= 0:
            return None
        squares = sum((x - statistics.fmean(v)) ** 2 for v in self.blocks.values() for x in v)
        return _mean_se(squares / self.dof, self.blocks)


def jitter_se(blocks: dict[str, list[float]]) -> float | None:
    """The standard error, as PairedGain.se gives it, that blocks of the same spread would
    have about a steady mean: the variance estimated from successive differences (half the
    mean square of block i+1 less block i), pooled over configurations, so that a slow drift
    in the blocks counts for nothing and only their jitter does. None with fewer than two
    blocks in some configuration."""
    if not blocks or any(len(v) < 2 for v in blocks.values()):
        return None
    squares = sum((b - a) ** 2 for v in blocks.values() for a, b in itertools.pairwise(v))
    return _mean_se(squares / (2 * sum(len(v) - 1 for v in blocks.values())), blocks)


def _mean_se(variance: float, blocks: dict[str, list[float]]) -> float:
    """The standard error of the mean over configurations of each one's mean block, the
    blocks' variance pooled at ``variance``."""
    return math.sqrt(sum(variance / len(v) for v in blocks.values())) / len(blocks)


def block_value(best_s: list[float], candidate_s: list[float]) -> float:
    """A block's log-gain: the median over its adjacent pairs of log(best / candidate)."""
    return statistics.median(math.log(b / c) for b, c in zip(best_s, candidate_s, strict=True))


def sequential_z(dof: int | None) -> float:
    return t_quantile(dof, SEQUENTIAL_Z)


def futile_z(dof: int | None) -> float:
    return t_quantile(dof, GAIN_Z)


def bar(se: float | None, dof: int | None, floor: float = GAIN_FLOOR) -> float:
    """The smallest log-gain accepted at this standard error."""
    return floor + sequential_z(dof) * (se if se is not None else math.inf)


def decide(log_gain: float, se: float | None, dof: int | None, floor: float = GAIN_FLOOR,
           final: bool = False) -> str:
    """``accept``, ``reject`` or (before the last look) ``continue``."""
    if se is None:
        return "reject" if final else "continue"
    if log_gain - sequential_z(dof) * se > floor:
        return "accept"
    if final or log_gain + futile_z(dof) * se < floor:
        return "reject"
    return "continue"


def is_look(sweeps: int) -> bool:
    """Looks come after MIN_SWEEPS sweeps, then after each doubling of that."""
    if sweeps < MIN_SWEEPS or sweeps % MIN_SWEEPS:
        return False
    ratio = sweeps // MIN_SWEEPS
    return ratio & (ratio - 1) == 0


def describe(log_gain: float, se: float | None) -> str:
    """A gain with its standard error, as the operator and the agent read it."""
    spread = f" ± {100 * se:.2f}%" if se is not None else ""
    return f"{100 * math.expm1(log_gain):+.2f}%{spread}"
