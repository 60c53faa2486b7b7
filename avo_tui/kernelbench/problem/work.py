"""The work of one launch of an imported problem, measured rather than guessed: its FLOPs, as
torch's FLOP counter counts them, and the bytes it must move, each a formula of the
configuration's dimensions that the target file states (the parent process counts it without
torch), at any sizes.

- **FLOPs**: the matrix work the forward dispatches (products, convolutions, attention),
  fitted exactly as a polynomial of the varied sizes (flop_fit.py); where none fits exactly
  (strided stages floor the sizes inside), torch's own formula for each call it counts,
  of the recorded forward's sizes, summed (flop_trace.py); an epilogue, a pooling or a norm
  is not counted, as torch does not. None where torch counts nothing.
- **Bytes**: every input read once and every output written once (an integer input or output
  at its own width: an int64 index is 8 bytes).

Which of the two the score counts follows the work's arithmetic intensity, FLOPs per byte,
at the timed sizes, beside what the device does per byte it moves (MACHINE_BALANCE): above
it the kernel is bound by its arithmetic and scored in FLOP/s, below it by its memory and
scored in GB/s (a matrix-vector product: 2 FLOPs for every 4-byte weight read once).
The configurations (target/configs.py) estimate a launch's time from both, at any sizes
(``flops_at``, ``bytes_at``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .flop_count import FlopCount
from .flop_fit import Fitted, Polynomial, Term, fit_flops
from .flop_trace import traced_flops
from .forward_sizes import SymbolicTrace
from .graph import Unsupported
from .problem_module import KernelBenchProblem, ProbeFailed
from .shapes import Shapes
from .size_expr import SizeExpr

FLOAT32_BYTES = 4
# FLOPs a kernel can do per byte it moves, by the target's kind: one x86 core's float32 FMAs
# (about 100 GFLOP/s with AVX2) over what it streams from memory (about 12 GB/s); an H100's
# float32 FMAs without tensor cores (67 TFLOP/s) over its HBM (3.35 TB/s).
MACHINE_BALANCE = {"cpu": 8.0, "cuda": 20.0}


@dataclass(frozen=True)
class Work:
    """What the score counts (``kind``: "flops" or "bytes"), the FLOPs (None: torch counts
    none, or no formula fits, and ``note`` says why), and the bytes: every input's elements,
    ``element_bytes`` each (an integer input its ``input_bytes``: int64 labels 8), and every
    output's, ``output_bytes`` each (an int64 index 8, a bool 1)."""

    kind: str
    flops: Polynomial | None = None
    element_bytes: int = FLOAT32_BYTES
    note: str = ""
    flops_error: float = 0.0  # the FLOP formula's largest relative miss off its grid
    output_bytes: tuple[int, ...] = (FLOAT32_BYTES,)
    input_bytes: tuple[int, ...] = ()  # each of Shapes.inputs'; (): element_bytes each
    by_call: bool = False  # the FLOP formula is torch's call by call (flop_trace.py), no fit

    def read_bytes(self, count: int) -> tuple[int, ...]:
        """The width of each of the ``count`` tensors read: the inputs, then the weights."""
        return tuple(self.input_bytes[i] if i < len(self.input_bytes) else self.element_bytes
                     for i in range(count))

    def flops_at(self, sizes: Mapping[str, int]) -> float:
        """The FLOPs of a launch at ``sizes`` (every dimension); 0 where none are counted."""
        return 0.0 if self.flops is None else self.flops.value(sizes)

    def bytes_at(self, shapes: Shapes, sizes: Mapping[str, int]) -> float:
        """The bytes a launch moves at ``sizes``: its inputs read and outputs written once."""
        tensors = (*shapes.inputs, *shapes.weights.values())
        return float(sum(size * _numel(t, sizes) for size, t in zip(
            self.read_bytes(len(tensors)), tensors, strict=True)) + sum(
            size * _numel(t, sizes) for size, t in zip(self.output_bytes, shapes.outputs,
                                                       strict=True)))

    def at(self, shapes: Shapes, sizes: Mapping[str, int]) -> float:
        """The work the score counts, at ``sizes``."""
        return self.flops_at(sizes) if self.kind == "flops" else self.bytes_at(shapes, sizes)

    def scored_for(self, device: str, shapes: Shapes, timed: Mapping[str, int]) -> Work:
        """This work scored by what bounds a ``device`` ("cpu" or "cuda") kernel at the
        ``timed`` sizes: its FLOPs where their intensity is above the device's balance, else
        its bytes (a note says so where torch counts FLOPs)."""
        if self.flops is None:
            return self
        flops, moved = self.flops_at(timed), self.bytes_at(shapes, timed)
        intensity = flops / moved
        if intensity >= MACHINE_BALANCE[device]:
            return dataclasses.replace(self, kind="flops")
        return dataclasses.replace(self, kind="bytes", note=(
            f"{intensity:.2g} FLOPs a byte at the timed sizes, under the "
            f"{MACHINE_BALANCE[device]:g} a {device} kernel does per byte it moves: bound by "
            "its memory"))


def work_of(problem: KernelBenchProblem, shapes: Shapes,
            recorded: Callable[[], SymbolicTrace], element_bytes: int = FLOAT32_BYTES
            ) -> Work:
    """The problem's work: its FLOPs fitted to torch's counter around the sizes its shapes
    were probed at (else, where no polynomial fits exactly, torch's formulas of the sizes
    of the forward ``recorded``, summed), and its bytes; scored by FLOPs where torch counts
    any (scored_for decides at the timed sizes)."""
    outputs = tuple(element_bytes if t.is_floating_point() else t.element_size()
                    for t in problem.base.outputs)
    inputs = tuple(element_bytes if t.is_floating_point() else t.element_size()
                   for t in problem.base.inputs)
    if all(width == element_bytes for width in inputs):
        inputs = ()
    bytes_only = Work("bytes", element_bytes=element_bytes, output_bytes=outputs,
                      input_bytes=inputs)
    flops = FlopCount()
    if shapes.literal:  # one shape: its count is the formula
        counted = _flops_at(problem, problem.sizes, flops)
        return dataclasses.replace(bytes_only, kind="flops", flops=Polynomial(
            (Term(Fraction(counted), ()),))) if counted else bytes_only
    counted = _flops_at(problem, shapes.probe_base, flops)
    if not counted:
        return bytes_only

    def count(sizes: Mapping[str, int]) -> int | None:
        return _flops_at(problem, {**shapes.probe_base, **shapes.problem_sizes(sizes)}, flops)

    base = {dim: shapes.probe_base.get(dim, size) for dim, size in shapes.dims.items()}
    fitted = fit_flops(count, base, shapes.varied, _forms(shapes, shapes.varied))
    if fitted.polynomial is not None and not fitted.error:
        return dataclasses.replace(bytes_only, kind="flops", flops=fitted.polynomial)
    try:
        by_call = traced_flops(recorded(), count, base, shapes.varied)
    except Unsupported as error:
        by_call = Fitted(None, str(error))
    if by_call.polynomial is not None:
        return dataclasses.replace(bytes_only, kind="flops", flops=by_call.polynomial,
                                   by_call=True)
    if fitted.polynomial is None:
        return dataclasses.replace(bytes_only, note=(
            f"torch counts {counted:.3g} FLOPs a launch at the sizes probed, and no formula "
            f"of the sizes fits them ({fitted.why}; nor do its formulas call by call: "
            f"{by_call.why}): scored by the bytes it moves"))
    return dataclasses.replace(bytes_only, kind="flops", flops=fitted.polynomial,
                               flops_error=fitted.error)


def _forms(shapes: Shapes, variables: Sequence[str]) -> dict[str, list[SizeExpr]]:
    """Each variable's tensor sizes that follow it and no other variable (a strided
    convolution's output length, of the length and the fixed dilation), but itself: the
    forms its FLOPs may be a polynomial of, their strides the steps along it."""
    forms: dict[str, list[SizeExpr]] = {v: [] for v in variables}
    for shape in shapes.all():
        for size in shape:
            moving = [d for d in size.dims if d in forms]
            if len(moving) == 1 and not size.product and size != SizeExpr.of(moving[0]) \
                    and size not in forms[moving[0]]:
                forms[moving[0]].append(size)
    return forms


def _flops_at(problem: KernelBenchProblem, sizes: Mapping[str, int], flops: FlopCount
              ) -> int | None:
    try:
        return flops.count(lambda watch: problem.instantiate(sizes, watch=watch))
    except (ProbeFailed, ValueError):
        return None


def _numel(shape: Sequence[SizeExpr], sizes: Mapping[str, int]) -> int:
    return math.prod(size.value(sizes) for size in shape)
