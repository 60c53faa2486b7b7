"""Flags on scores too good to believe: they go to review, they are not celebrated."""

from __future__ import annotations

from dataclasses import dataclass

from ..results import ConfigResult, EvalResult
from ..targets.problem import WorkKind
from ..targets.spec import TargetSpec

# A correct kernel cannot run faster than the machine multiplies matrices, nor move memory
# faster than a large copy does; allow some measurement slack before calling it impossible.
PEAK_SLACK = 1.25


@dataclass(frozen=True)
class Peaks:
    """What the device measured it does per second: matrix-multiply FLOPs, and bytes moved by
    a large device-to-device copy (None: no bandwidth bounds a launch there, Device's
    bandwidth_note says why)."""

    flops: float
    bytes: float | None = None


def plausibility_flags(
    result: EvalResult, target: TargetSpec, peaks: Peaks, previous_best: float | None
) -> list[str]:
    flags = []
    for config in result.timed:
        flags += _beyond_peaks(config, target, peaks)
        ratio = config.ratio
        if ratio is not None and ratio > target.max_plausible_ratio:
            flags.append(
                f"{config.name}: {ratio:.1f}x the {config.primary_baseline} baseline, beyond the "
                f"plausible {target.max_plausible_ratio:g}x"
            )
    jump = _jump(result, previous_best)
    if jump is not None and jump[0] > target.max_plausible_jump:
        flags.append(f"geomean {result.geomean:.4g} is {jump[0]:.2f}x {jump[1]}")
    return flags


BESIDE_THE_BEST = "the best timed beside it"  # what a jump flag is told against, there


def _jump(result: EvalResult, previous_best: float | None) -> tuple[float, str] | None:
    """How many times faster than the best the result is, and against what: the best timed beside it
    where it was (the same moment, the same inputs), else the best's stored score. A stored score is
    from another moment: on a CPU whose load changes, an honest candidate read several times a
    best's score stored at a busier moment, and was held (benchmarks/lanes_run.py approved such
    suspects by hand)."""
    if result.incumbent_gain is not None:
        return result.incumbent_gain, BESIDE_THE_BEST
    if previous_best:
        return result.geomean / previous_best, f"the best committed score {previous_best:.4g}"
    return None


PEAK_WORDS = {"flops": "matrix-multiply peak", "bytes": "memory bandwidth"}


def _beyond_peaks(config: ConfigResult, target: TargetSpec, peaks: Peaks) -> list[str]:
    """For each kind of work the configuration counts (FLOPs, bytes), its rate against the
    device's measured peak for that kind."""
    flags = []
    work = config.config.work
    measured: tuple[tuple[WorkKind, float | None], ...] = (
        ("flops", peaks.flops), ("bytes", peaks.bytes))
    for kind, peak in measured:
        amount: float | None = getattr(work, kind)
        if amount is None or peak is None or peak <= 0 or config.timing is None:
            continue
        rate = (config.throughput * target.unit_scale if kind == target.score_by
                else amount / config.timing.median_s)
        if rate > PEAK_SLACK * peak:
            scale, unit = _unit(kind, target)
            copy = ", a large device-to-device copy" if kind == "bytes" else ""
            flags.append(f"{config.name}: {rate / scale:.4g} {unit} exceeds the measured "
                         f"{PEAK_WORDS[kind]} of this device ({peak / scale:.4g} {unit}{copy})")
    return flags


def _unit(kind: WorkKind, target: TargetSpec) -> tuple[float, str]:
    """The scale and unit a rate of ``kind`` is told in: the target's own for the work it
    scores, GB/s for bytes, TFLOP/s on a GPU and GFLOP/s on the CPU for FLOPs."""
    if kind == target.score_by:
        return target.unit_scale, target.unit
    if kind == "bytes":
        return 1e9, "GB/s"
    return (1e12, "TFLOP/s") if target.device == "cuda" else (1e9, "GFLOP/s")
