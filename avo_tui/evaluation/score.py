"""Flags on scores too good to believe: they go to review, they are not celebrated."""

from __future__ import annotations

from .results import EvalResult
from .targets import TargetSpec

# A correct kernel cannot run attention faster than the machine multiplies matrices; allow
# some measurement slack before calling it impossible.
PEAK_SLACK = 1.25


def plausibility_flags(
    result: EvalResult, target: TargetSpec, peak: float, previous_best: float | None
) -> list[str]:
    flags = []
    for config in result.timed:
        if peak > 0 and config.throughput > PEAK_SLACK * peak:
            flags.append(
                f"{config.name}: {config.throughput:.4g} {target.unit} exceeds the measured "
                f"matrix-multiply peak of this device ({peak:.4g} {target.unit})"
            )
        ratio = config.ratio
        if ratio is not None and ratio > target.max_plausible_ratio:
            flags.append(
                f"{config.name}: {ratio:.1f}x the {config.primary_baseline} baseline, beyond the "
                f"plausible {target.max_plausible_ratio:g}x"
            )
    if previous_best and result.geomean > target.max_plausible_jump * previous_best:
        flags.append(
            f"geomean {result.geomean:.4g} is {result.geomean / previous_best:.2f}x the best "
            f"committed score {previous_best:.4g}"
        )
    return flags


# The commit gate's bar for a candidate timed beside the incumbent (engine/gate.py): its gain
# must exceed GAIN_Z standard errors of that very comparison, and never less than GAIN_FLOOR,
# which covers what no estimate from one evaluation can show. The standard error is estimated
# from a few timing rounds, so the bar takes Student's t quantile for those degrees of freedom
# instead of the normal one: either way, a change that does nothing passes 1% of the time.
GAIN_Z = 2.326  # the normal distribution's one-sided 99% quantile
GAIN_FLOOR = 0.002


def t_quantile(dof: int | None) -> float:
    """Student's t one-sided 99% quantile for ``dof`` degrees of freedom (None: infinitely
    many), by the Cornish-Fisher expansion around GAIN_Z (within 2% of the exact value from 3
    degrees of freedom on; tabled below)."""
    if dof is None:
        return GAIN_Z
    if dof < 3:
        return {1: 31.82, 2: 6.965}.get(max(dof, 1), 31.82)
    z = GAIN_Z
    return (z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3))


def gain_threshold(gain_se: float | None, dof: int | None = None) -> float:
    """The smallest log-gain the gate accepts, given log(gain)'s standard error and the
    degrees of freedom it was estimated with."""
    return max(GAIN_FLOOR, t_quantile(dof) * (gain_se or 0.0))
