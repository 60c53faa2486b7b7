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
