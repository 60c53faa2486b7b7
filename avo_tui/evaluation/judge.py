"""Whether an output is correct: its distance to the float64 reference, against a tolerance
derived from the distance an honest computation at the target's precision keeps on the same
inputs, over the whole output and over each query row on its own."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import attention
from .attention import InputSet, RowSample
from .results import ConfigResult, Failure
from .targets import Config, Tolerance

MANTISSA_BITS = {torch.float32: 23, torch.bfloat16: 7, torch.float16: 10}


class Rejected(Exception):
    def __init__(self, kind: str, message: str, config: str | None = None) -> None:
        super().__init__(message)
        self.failure = Failure(kind, message, config)


def judge_output(
    tolerance: Tolerance, inputs: InputSet, out: torch.Tensor, entry: ConfigResult
) -> None:
    """The whole output of a checked launch, recorded on ``entry``; raises Rejected
    ("nonfinite" or "incorrect") unless it is correct."""
    config = entry.config
    dtype = attention.DTYPES[config.dtype]
    expected, honest_out = attention.references(config, inputs, emulate=dtype)
    assert honest_out is not None
    errors = attention.compare(out, expected)
    entry.max_abs_err, entry.rel_l2_err = errors.max_abs, errors.rel_l2
    honest = attention.compare(honest_out, expected)
    bounds = _bounds(tolerance, config, honest, float(expected.abs().max()))
    entry.tolerance, entry.honest_rel_l2 = bounds, honest.rel_l2
    rows = attention.row_errors(out, expected, honest_out)
    for reference in (expected, honest_out):
        reference.zero_()  # no reference stays readable in the device's memory
    if not errors.finite:
        entry.passed = False
        count = int((~torch.isfinite(out)).sum())
        raise Rejected(
            "nonfinite", f"{count} of {out.numel()} output values are NaN or Inf", config.name
        )
    shape = (config.batch, config.heads_q, config.seq_len)
    _judge_rows(tolerance, rows, lambda index: _unravel(index, shape), entry, "incorrect", "")
    _judge(errors, bounds, entry, "incorrect", "")
    entry.passed = True


def judge_sample(
    tolerance: Tolerance, config: Config, inputs: InputSet, out: torch.Tensor, sample: RowSample
) -> None:
    """A timed launch drawn for checking: no NaN left anywhere, and the sample's rows correct;
    raises Rejected("stale_output") otherwise."""
    if not bool(torch.isfinite(out).all()):
        count = int((~torch.isfinite(out)).sum())
        raise Rejected(
            "stale_output",
            f"{count} of {out.numel()} output values are NaN or Inf after a timed launch",
            config.name,
        )
    exact = attention.reference_rows(config, inputs, sample)
    dtype = attention.DTYPES[config.dtype]
    honest_rows = attention.reference_rows(config, inputs, sample, emulate=dtype)
    honest = attention.compare(honest_rows, exact)
    bounds = _bounds(tolerance, config, honest, float(exact.abs().max()))
    gathered = sample.gather(out)
    entry = ConfigResult(config)
    when = " in a timed launch"
    rows = attention.row_errors(gathered, exact, honest_rows)
    _judge_rows(tolerance, rows, sample.row, entry, "stale_output", when)
    _judge(attention.compare(gathered, exact), bounds, entry, "stale_output", when)


def _bounds(
    tolerance: Tolerance, config: Config, honest: attention.Errors, scale: float
) -> tuple[float, float]:
    """The whole output's (relative L2, max abs) bounds on these inputs; ``scale`` is the
    largest exact value, for the floor in ulps."""
    dtype = attention.DTYPES[config.dtype]
    ulp = 2.0 ** (math.floor(math.log2(scale)) - MANTISSA_BITS[dtype]) if scale > 0 else 0.0
    return tolerance.bounds(honest.rel_l2, honest.max_abs, ulp)


def _judge(
    errors: attention.Errors,
    bounds: tuple[float, float],
    entry: ConfigResult,
    kind: str,
    when: str,
) -> None:
    rel_tol, abs_tol = bounds
    if not errors.finite or errors.rel_l2 > rel_tol or errors.max_abs > abs_tol:
        entry.passed = False
        raise Rejected(
            kind,
            f"relative L2 error {errors.rel_l2:.3g} (tolerance {rel_tol:.3g}), "
            f"max abs error {errors.max_abs:.3g} (tolerance {abs_tol:.3g}){when}",
            entry.config.name,
        )


def _judge_rows(
    tolerance: Tolerance,
    rows: attention.RowErrors,
    where: Callable[[int], tuple[int, int, int]],
    entry: ConfigResult,
    kind: str,
    when: str,
) -> None:
    """Every query row within the tolerance on its own (Tolerance.row_bounds). The whole
    output's bounds are set by its largest values and its many rows: a kernel wrong on a few
    rows of small values (a dropped tail of keys, a mask off at a tile's edge) stays inside
    them, and not inside its rows' own."""
    bound = tolerance.row_bounds(rows.honest, rows.norm)
    outside = rows.error > bound
    ratio = torch.where(
        bound > 0, rows.error / bound, torch.where(outside, math.inf, 0.0).to(bound.dtype)
    )
    entry.row_error_ratio = float(ratio.max()) if ratio.numel() else 0.0
    count = int(outside.sum())
    if not count:
        return
    worst = int(ratio.argmax())
    batch, head, row = where(worst)
    norm = float(rows.norm[worst]) or 1.0
    entry.passed = False
    raise Rejected(
        kind,
        f"query row {row} of head {head}, batch {batch}: relative error "
        f"{float(rows.error[worst]) / norm:.3g} (tolerance {float(bound[worst]) / norm:.3g}); "
        f"{count} of {ratio.numel()} rows outside their tolerance{when}",
        entry.config.name,
    )


def _unravel(index: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    rest, row = divmod(index, shape[2])
    batch, head = divmod(rest, shape[1])
    return batch, head, row
