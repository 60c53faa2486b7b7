"""Whether an output is correct: its distance to the float64 reference, against a tolerance
derived from the distance an honest computation at the target's precision keeps on the same
inputs, over the whole output and over each row (along its last dimension) on its own."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .problem import Config, InputSet, RowSample, unravel
from .results import ConfigResult, Failure
from .targets import Tolerance
from .tensors import is_integral, output_dtype

MANTISSA_BITS = {torch.float32: 23, torch.bfloat16: 7, torch.float16: 10}


class Rejected(Exception):
    def __init__(self, kind: str, message: str, config: str | None = None,
                 phase: str | None = None) -> None:
        super().__init__(message)
        self.failure = Failure(kind, message, config, phase)


@dataclass
class Errors:
    max_abs: float
    rel_l2: float
    finite: bool


def compare(output: torch.Tensor, expected: torch.Tensor) -> Errors:
    if not bool(torch.isfinite(output).all()):
        return Errors(math.inf, math.inf, False)
    diff = output.to(expected.dtype) - expected
    norm = float(torch.linalg.vector_norm(expected))
    rel = float(torch.linalg.vector_norm(diff)) / norm if norm else float(diff.abs().max())
    return Errors(float(diff.abs().max()), rel, True)


@dataclass
class RowErrors:
    """Per row (the output's last dimension), the L2 norms of the output's distance to the
    exact rows, of the honest computation's distance to them, and of the exact rows
    themselves. A kernel wrong on a few rows (a dropped tail, a mask off by one at a tile's
    edge) moves the whole output's errors by little; each row's own tolerance still catches
    it."""

    error: torch.Tensor
    honest: torch.Tensor
    norm: torch.Tensor


def row_errors(output: torch.Tensor, expected: torch.Tensor, honest: torch.Tensor) -> RowErrors:
    """``output``, ``expected`` and ``honest`` shaped [..., width]; rows are flattened."""
    width = expected.shape[-1] if expected.dim() > 1 else 1  # a vector's rows are its elements
    exact = expected.reshape(-1, width)
    return RowErrors(
        torch.linalg.vector_norm(output.reshape(-1, width).to(exact.dtype) - exact, dim=-1),
        torch.linalg.vector_norm(honest.reshape(-1, width).to(exact.dtype) - exact, dim=-1),
        torch.linalg.vector_norm(exact, dim=-1),
    )


def judge_output(
    tolerance: Tolerance, inputs: InputSet, out: torch.Tensor, entry: ConfigResult
) -> None:
    """The whole output of a checked launch, recorded on ``entry``; raises Rejected
    ("nonfinite" or "incorrect") unless it is correct."""
    config = entry.config
    expected, honest_out = config.problem.numerics().references(config, inputs,
                                                                 output_dtype(config))
    if is_integral(out.dtype):
        honest_out.zero_()
        try:
            _judge_exact(out, expected, entry, "incorrect", f" on {entry.case} inputs")
        finally:
            expected.zero_()  # no reference stays readable in the device's memory
        entry.passed = True
        return
    errors = compare(out, expected)
    entry.max_abs_err, entry.rel_l2_err = errors.max_abs, errors.rel_l2
    honest = compare(honest_out, expected)
    bounds = _bounds(tolerance, config, honest, float(expected.abs().max()))
    entry.tolerance, entry.honest_rel_l2 = bounds, honest.rel_l2
    rows = row_errors(out, expected, honest_out)
    for reference in (expected, honest_out):
        reference.zero_()  # no reference stays readable in the device's memory
    when = f" on {entry.case} inputs"
    if not errors.finite:
        entry.passed = False
        count = int((~torch.isfinite(out)).sum())
        raise Rejected(
            "nonfinite", f"{count} of {out.numel()} output values are NaN or Inf{when}",
            config.name
        )
    shape = tuple(out.shape[:-1]) if out.dim() > 1 else tuple(out.shape)
    _judge_rows(tolerance, rows, lambda index: unravel(index, shape), entry, "incorrect", when)
    _judge(tolerance, errors, honest, bounds, entry, "incorrect", when)
    entry.passed = True


def judge_sample(
    tolerance: Tolerance, config: Config, inputs: InputSet, out: torch.Tensor, sample: RowSample
) -> None:
    """A timed launch drawn for checking: no NaN left anywhere, and the sample's rows correct;
    raises Rejected("stale_output") otherwise."""
    if is_integral(out.dtype):
        exact = config.problem.numerics().reference_rows(config, inputs, sample)
        entry = ConfigResult(config)
        _unwritten(out, "stale_output", " after a timed launch", entry)
        _judge_exact(sample.gather(out), exact, entry, "stale_output", " in a timed launch",
                     sample.row)
        return
    if not bool(torch.isfinite(out).all()):
        count = int((~torch.isfinite(out)).sum())
        raise Rejected(
            "stale_output",
            f"{count} of {out.numel()} output values are NaN or Inf after a timed launch",
            config.name,
        )
    numerics = config.problem.numerics()
    exact = numerics.reference_rows(config, inputs, sample)
    honest_rows = numerics.reference_rows(config, inputs, sample, emulate=output_dtype(config))
    honest = compare(honest_rows, exact)
    bounds = _bounds(tolerance, config, honest, float(exact.abs().max()))
    gathered = sample.gather(out)
    entry = ConfigResult(config)
    when = " in a timed launch"
    rows = row_errors(gathered, exact, honest_rows)
    _judge_rows(tolerance, rows, sample.row, entry, "stale_output", when)
    _judge(tolerance, compare(gathered, exact), honest, bounds, entry, "stale_output", when)


def _unwritten(out: torch.Tensor, kind: str, when: str, entry: ConfigResult) -> None:
    """A bool output's values that are neither true nor false: left as poisoned (an integer
    has no such value; its poison is drawn afresh, and the comparison finds it)."""
    if out.dtype != torch.bool:
        return
    left = int((out.view(torch.uint8) > 1).sum())
    if left:
        entry.passed = False
        raise Rejected(kind, f"{left} of {out.numel()} output values were never written "
                             f"(neither true nor false){when}", entry.config.name)


def _judge_exact(out: torch.Tensor, expected: torch.Tensor, entry: ConfigResult, kind: str,
                 when: str, where: Callable[[int], tuple[int, ...]] | None = None) -> None:
    """An integer or bool output (``out``, or rows of it gathered) equal to the exact one
    (float64, whole numbers) everywhere; ``where`` gives a gathered row's position (None: the
    output is whole)."""
    _unwritten(out, kind, when, entry)
    got = out.to(torch.float64)
    wrong = got != expected
    count = int(wrong.sum())
    entry.max_abs_err = float((got - expected).abs().max()) if out.numel() else 0.0
    entry.rel_l2_err = None  # no relative error: the values are equal, or they are not
    if not count:
        return
    entry.passed = False
    flat = int(wrong.reshape(-1).to(torch.uint8).argmax())
    value, right = float(got.reshape(-1)[flat]), float(expected.reshape(-1)[flat])
    width = expected.shape[-1] if expected.dim() > 1 else 1
    row = flat // width
    if where is not None:
        position = where(row)
    else:
        shape = tuple(out.shape[:-1]) if out.dim() > 1 else tuple(out.shape)
        position = unravel(row, shape)
    raise Rejected(kind, f"{entry.config.problem.row_label(position)}: {value:g} where the "
                         f"reference has {right:g}; {count} of {out.numel()} values differ "
                         f"(an integer output is compared exactly){when}", entry.config.name)


def _bounds(
    tolerance: Tolerance, config: Config, honest: Errors, scale: float
) -> tuple[float, float]:
    """The whole output's (relative L2, max abs) bounds on these inputs; ``scale`` is the
    largest exact value, for the floor in ulps of the output's dtype."""
    bits = MANTISSA_BITS[output_dtype(config)]
    ulp = 2.0 ** (math.floor(math.log2(scale)) - bits) if scale > 0 else 0.0
    return tolerance.bounds(honest.rel_l2, honest.max_abs, ulp)


def _rule(tolerance: Tolerance, bound: float, honest: float, floor: str) -> str:
    """Which rule set ``bound``: the margin over the honest computation's error ``honest``, the
    ``floor`` under it, or the target's declaration."""
    if tolerance.declared:
        return "declared by the target"
    if tolerance.margin * honest >= bound:
        return f"{tolerance.margin:g}x the honest computation's {honest:.3g}"
    return floor


def _judge(
    tolerance: Tolerance,
    errors: Errors,
    honest: Errors,
    bounds: tuple[float, float],
    entry: ConfigResult,
    kind: str,
    when: str,
) -> None:
    rel_tol, abs_tol = bounds
    if not errors.finite or errors.rel_l2 > rel_tol or errors.max_abs > abs_tol:
        entry.passed = False
        rel_rule = _rule(tolerance, rel_tol, honest.rel_l2, "the floor")
        abs_rule = _rule(tolerance, abs_tol, honest.max_abs,
                         f"{tolerance.max_abs_ulps:g} ulps at the output's scale")
        raise Rejected(
            kind,
            f"relative L2 error {errors.rel_l2:.3g} (tolerance {rel_tol:.3g}: {rel_rule}), "
            f"max abs error {errors.max_abs:.3g} (tolerance {abs_tol:.3g}: {abs_rule}){when}",
            entry.config.name,
        )


def _judge_rows(
    tolerance: Tolerance,
    rows: RowErrors,
    where: Callable[[int], tuple[int, ...]],
    entry: ConfigResult,
    kind: str,
    when: str,
) -> None:
    """Every row within the tolerance on its own (Tolerance.row_bounds). The whole
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
    norm = float(rows.norm[worst]) or 1.0
    rule = _rule(tolerance, float(bound[worst]) / norm, float(rows.honest[worst]) / norm,
                 "the floor for a row")
    entry.passed = False
    raise Rejected(
        kind,
        f"{entry.config.problem.row_label(where(worst))}: relative error "
        f"{float(rows.error[worst]) / norm:.3g} (tolerance {float(bound[worst]) / norm:.3g}: "
        f"{rule}); {count} of {ratio.numel()} rows outside their tolerance{when}",
        entry.config.name,
    )
