"""Whether an output is correct: its distance to the float64 reference, against a tolerance
derived from the distance an honest computation at the target's precision keeps on the same
inputs, over the whole output and over each row (along its last dimension) on its own."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..results import ConfigResult, Failure, OutputErrors
from ..targets.problem import (
    Config,
    InputSet,
    OutputSet,
    RowSample,
    case_inputs,
    output_param,
    unravel,
)
from ..targets.spec import TINY_COLUMN, Tolerance
from .finite_reference import not_finite
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


def column_errors(output: torch.Tensor, expected: torch.Tensor, honest: torch.Tensor
                  ) -> RowErrors | None:
    """The same norms per column (the output's last dimension, over all its rows), or None
    for an output with one column or one row. An output that packs values of different
    scales side by side (probabilities and a log-sum-exp column) is otherwise held to the
    bound its largest columns set: an error in the probabilities far past their own columns'
    bound passed."""
    width = expected.shape[-1] if expected.dim() > 1 else 1
    if width < 2 or expected.numel() == width:
        return None
    exact = expected.reshape(-1, width)
    return RowErrors(
        _column_norms(output.reshape(-1, width).to(exact.dtype) - exact),
        _column_norms(honest.reshape(-1, width).to(exact.dtype) - exact),
        _column_norms(exact),
    )


# Below this many rows, a column's norm is summed a row at a time: torch reduces a few long
# rows down their columns at a fraction of its speed along them (4 rows of 2M float64 values:
# 180 ms), and a checked timed launch of a wide CPU target took seconds.
FEW_ROWS = 16


def _column_norms(matrix: torch.Tensor) -> torch.Tensor:
    if matrix.shape[0] >= FEW_ROWS or not matrix.dtype.is_floating_point:
        norms: torch.Tensor = torch.linalg.vector_norm(matrix, dim=0)
        return norms
    squares = torch.zeros(matrix.shape[1], dtype=matrix.dtype, device=matrix.device)
    for row in matrix.unbind(0):
        squares.addcmul_(row, row)
    return squares.sqrt()


# A tolerance for every output, or one that holds for each (TargetSpec.tolerance_for is the
# first kind: an output of another dtype, or one that declares its own, is held to its own).
Tolerances = Tolerance | Callable[[str | None], Tolerance]


@dataclass(frozen=True)
class Judged:
    """One output being judged: its name (None where the problem has one), tolerance and
    dtype, and how a message names it."""

    name: str | None
    tolerance: Tolerance
    dtype: torch.dtype

    @property
    def prefix(self) -> str:
        return f"{self.name}: " if self.name else ""


def _outputs(tolerances: Tolerances, config: Config, out: torch.Tensor | OutputSet
             ) -> list[tuple[Judged, torch.Tensor]]:
    """Each output of a launch with what it is judged by; a bare tensor is the only one."""
    if isinstance(out, torch.Tensor):
        out = OutputSet({output_param(config.problem).name: out})
    several = len(out.named) > 1
    judged = []
    for name, tensor in out.named.items():
        tolerance = (tolerances if isinstance(tolerances, Tolerance)
                     else tolerances(name if several else None))
        judged.append((Judged(name if several else None, tolerance,
                              output_dtype(config, name)), tensor))
    return judged


def judge_output(tolerances: Tolerances, inputs: InputSet, out: torch.Tensor | OutputSet,
                 entry: ConfigResult) -> None:
    """Every output of a checked launch, whole, each on its own, recorded on ``entry``;
    raises Rejected ("nonfinite" or "incorrect") unless each is correct."""
    judged = _outputs(tolerances, entry.config, out)
    for output, tensor in judged:
        _judge_whole(output, inputs, tensor, entry)
        if output.name:
            entry.outputs[output.name] = OutputErrors(entry.max_abs_err, entry.rel_l2_err,
                                                      entry.tolerance, entry.row_error_ratio)
    if entry.outputs:  # the first output's figures, as the entry's own
        first = next(iter(entry.outputs.values()))
        entry.max_abs_err, entry.rel_l2_err = first.max_abs_err, first.rel_l2_err
        entry.tolerance, entry.row_error_ratio = first.tolerance, first.row_error_ratio
    entry.passed = True


def _judge_whole(output: Judged, inputs: InputSet, out: torch.Tensor, entry: ConfigResult
                 ) -> None:
    config = entry.config
    expected, honest_out = config.problem.numerics().references(config, inputs, output.dtype,
                                                                 output=output.name)
    if not bool(torch.isfinite(expected).all()):  # else every output compares as NaN: a pass
        expected.zero_()
        raise not_finite(config, entry.case, expected.device.type, output.name)
    when = f" on {case_inputs(entry.case)}"
    if is_integral(out.dtype):
        honest_out.zero_()
        try:
            _judge_exact(output, out, expected, entry, "incorrect", when)
        finally:
            expected.zero_()  # no reference stays readable in the device's memory
        entry.tolerance = entry.row_error_ratio = None
        return
    errors = compare(out, expected)
    entry.max_abs_err, entry.rel_l2_err = errors.max_abs, errors.rel_l2
    honest = compare(honest_out, expected)
    bounds = _bounds(output, honest, float(expected.abs().max()))
    entry.tolerance, entry.honest_rel_l2 = bounds, honest.rel_l2
    rows = row_errors(out, expected, honest_out)
    columns = column_errors(out, expected, honest_out)
    for reference in (expected, honest_out):
        reference.zero_()  # no reference stays readable in the device's memory
    if not errors.finite:
        entry.passed = False
        count = int((~torch.isfinite(out)).sum())
        raise Rejected(
            "nonfinite",
            f"{output.prefix}{count} of {out.numel()} output values are NaN or Inf{when}",
            config.name
        )
    shape = tuple(out.shape[:-1]) if out.dim() > 1 else tuple(out.shape)
    _judge_rows(output, rows, lambda index: unravel(index, shape), entry, "incorrect", when)
    if columns is not None:
        _judge_columns(output, columns, entry, when)
    _judge(output, errors, honest, bounds, entry, "incorrect", when)


def draw_samples(out: torch.Tensor | OutputSet, rng: random.Random
                 ) -> dict[str, RowSample] | RowSample:
    """The rows a checked timed launch is judged on: of its output, or of each output."""
    if isinstance(out, torch.Tensor):
        return RowSample.draw(tuple(out.shape), rng)
    return {name: RowSample.draw(tuple(t.shape), rng) for name, t in out.named.items()}


def judge_sample(tolerances: Tolerances, config: Config, inputs: InputSet,
                 out: torch.Tensor | OutputSet, sample: RowSample | dict[str, RowSample]
                 ) -> None:
    """A timed launch drawn for checking: no NaN left anywhere in any output, and the
    sample's rows of each correct; raises Rejected("stale_output") otherwise."""
    for output, tensor in _outputs(tolerances, config, out):
        _judge_rows_sampled(output, inputs, tensor, _rows_of(output, sample),
                            ConfigResult(config), TIMED_LAUNCH)


def judge_output_sampled(tolerances: Tolerances, inputs: InputSet, out: torch.Tensor | OutputSet,
                         sample: RowSample | dict[str, RowSample], entry: ConfigResult) -> None:
    """A timed shape under a hostile case, in the correctness pass: no NaN anywhere in any
    output, and the sample's rows of each correct (each row, each column over them, and the
    rows together), recorded on ``entry``; raises Rejected ("nonfinite" or "incorrect")
    otherwise. The sample is drawn after nothing the kernel sees, as a checked timed
    launch's is; the whole float64 reference of every timed shape under every case took
    the longest of mha's evaluation (on an H100, it nearly doubled it)."""
    on = f" on {case_inputs(entry.case)}"
    kinds = Kinds("nonfinite", "incorrect", on, on)
    for output, tensor in _outputs(tolerances, entry.config, out):
        _judge_rows_sampled(output, inputs, tensor, _rows_of(output, sample), entry, kinds)
    entry.passed = True


@dataclass(frozen=True)
class Kinds:
    """What a failure on sampled rows is called, and the words that say when it happened: a
    wrong value ``when``, a value left unwritten ``after``."""

    nonfinite: str
    wrong: str
    when: str
    after: str


TIMED_LAUNCH = Kinds("stale_output", "stale_output", " in a timed launch", " after a timed launch")


def _rows_of(output: Judged, sample: RowSample | dict[str, RowSample]) -> RowSample:
    return sample if isinstance(sample, RowSample) else sample[output.name or next(iter(sample))]


def _judge_rows_sampled(output: Judged, inputs: InputSet, out: torch.Tensor,
                        sample: RowSample, entry: ConfigResult, kinds: Kinds) -> None:
    config = entry.config
    numerics = config.problem.numerics()
    if is_integral(out.dtype):
        exact = numerics.reference_rows(config, inputs, sample, output=output.name)
        _unwritten(output, out, kinds.wrong, kinds.after, entry)
        _judge_exact(output, sample.gather(out), exact, entry, kinds.wrong, kinds.when,
                     sample.row)
        return
    if not bool(torch.isfinite(out).all()):
        entry.passed = False
        count = int((~torch.isfinite(out)).sum())
        raise Rejected(
            kinds.nonfinite,
            f"{output.prefix}{count} of {out.numel()} output values are NaN or Inf{kinds.after}",
            config.name,
        )
    exact = numerics.reference_rows(config, inputs, sample, output=output.name)
    if not bool(torch.isfinite(exact).all()):  # else every row compares as NaN: a pass
        raise not_finite(config, entry.case, exact.device.type, output.name)
    honest_rows = numerics.reference_rows(config, inputs, sample, emulate=output.dtype,
                                          output=output.name, exact=exact)
    honest = compare(honest_rows, exact)
    bounds = _bounds(output, honest, float(exact.abs().max()))
    gathered = sample.gather(out)
    errors = compare(gathered, exact)
    entry.max_abs_err, entry.rel_l2_err = errors.max_abs, errors.rel_l2
    entry.tolerance, entry.honest_rel_l2 = bounds, honest.rel_l2
    rows = row_errors(gathered, exact, honest_rows)
    columns = column_errors(gathered, exact, honest_rows)
    _judge_rows(output, rows, sample.row, entry, kinds.wrong, kinds.when)
    if columns is not None:
        _judge_columns(output, columns, entry, kinds.when, kinds.wrong, "the rows checked")
    _judge(output, errors, honest, bounds, entry, kinds.wrong, kinds.when)


def _unwritten(output: Judged, out: torch.Tensor, kind: str, when: str, entry: ConfigResult
               ) -> None:
    """A bool output's values that are neither true nor false: left as poisoned (an integer
    has no such value; its poison is drawn afresh, and the comparison finds it)."""
    if out.dtype != torch.bool:
        return
    left = int((out.view(torch.uint8) > 1).sum())
    if left:
        entry.passed = False
        raise Rejected(kind, f"{output.prefix}{left} of {out.numel()} output values were never "
                             f"written (neither true nor false){when}", entry.config.name)


def _judge_exact(output: Judged, out: torch.Tensor, expected: torch.Tensor, entry: ConfigResult,
                 kind: str, when: str, where: Callable[[int], tuple[int, ...]] | None = None
                 ) -> None:
    """An integer or bool output (``out``, or rows of it gathered) equal to the exact one
    (float64, whole numbers) everywhere; ``where`` gives a gathered row's position (None: the
    output is whole)."""
    _unwritten(output, out, kind, when, entry)
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
    label = entry.config.problem.row_label(position, output.name)
    raise Rejected(kind, f"{label}: {value:g} where the "
                         f"reference has {right:g}; {count} of {out.numel()} values differ "
                         f"(an integer output is compared exactly){when}", entry.config.name)


def _bounds(output: Judged, honest: Errors, scale: float) -> tuple[float, float]:
    """An output's (relative L2, max abs) bounds on these inputs; ``scale`` is its largest
    exact value, for the floor in ulps of its dtype."""
    bits = MANTISSA_BITS[output.dtype]
    ulp = 2.0 ** (math.floor(math.log2(scale)) - bits) if scale > 0 else 0.0
    return output.tolerance.bounds(honest.rel_l2, honest.max_abs, ulp)


def _rule(tolerance: Tolerance, bound: float, honest: float, floor: str) -> str:
    """Which rule set ``bound``: the margin over the honest computation's error ``honest``, the
    ``floor`` under it, or the target's declaration."""
    if tolerance.declared:
        return "declared by the target"
    if tolerance.margin * honest >= bound:
        return f"{tolerance.margin:g}x the honest computation's {honest:.3g}"
    return floor


def _judge(
    output: Judged,
    errors: Errors,
    honest: Errors,
    bounds: tuple[float, float],
    entry: ConfigResult,
    kind: str,
    when: str,
) -> None:
    rel_tol, abs_tol = bounds
    tolerance = output.tolerance
    if not errors.finite or errors.rel_l2 > rel_tol or errors.max_abs > abs_tol:
        entry.passed = False
        rel_rule = _rule(tolerance, rel_tol, honest.rel_l2, "the floor")
        abs_rule = _rule(tolerance, abs_tol, honest.max_abs,
                         f"{tolerance.max_abs_ulps:g} ulps at the output's scale")
        raise Rejected(
            kind,
            f"{output.prefix}relative L2 error {errors.rel_l2:.3g} (tolerance {rel_tol:.3g}: "
            f"{rel_rule}), "
            f"max abs error {errors.max_abs:.3g} (tolerance {abs_tol:.3g}: {abs_rule}){when}",
            entry.config.name,
        )


def _judge_columns(output: Judged, columns: RowErrors, entry: ConfigResult, when: str,
                   kind: str = "incorrect", over: str = "every row") -> None:
    """Every column within the tolerance on its own, as every row is (_judge_rows), over
    ``over``."""
    tolerance = output.tolerance
    bound = tolerance.row_bounds(columns.honest, columns.norm, TINY_COLUMN)
    outside = columns.error > bound
    count = int(outside.sum())
    if not count:
        return
    ratio = torch.where(
        bound > 0, columns.error / bound, torch.where(outside, math.inf, 0.0).to(bound.dtype)
    )
    worst = int(ratio.argmax())
    norm = float(columns.norm[worst]) or 1.0
    rule = _rule(tolerance, float(bound[worst]) / norm, float(columns.honest[worst]) / norm,
                 "the floor for a column")
    entry.passed = False
    name = output.name or output_param(entry.config.problem).name
    raise Rejected(
        kind,
        f"column {worst} of {name} (the last dimension, over {over}): relative error "
        f"{float(columns.error[worst]) / norm:.3g} (tolerance {float(bound[worst]) / norm:.3g}: "
        f"{rule}); {count} of {ratio.numel()} columns outside their tolerance{when}",
        entry.config.name,
    )


def _judge_rows(
    output: Judged,
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
    tolerance = output.tolerance
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
        f"{entry.config.problem.row_label(where(worst), output.name)}: relative error "
        f"{float(rows.error[worst]) / norm:.3g} (tolerance {float(bound[worst]) / norm:.3g}: "
        f"{rule}); {count} of {ratio.numel()} rows outside their tolerance{when}",
        entry.config.name,
    )
