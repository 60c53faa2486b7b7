"""The work of one launch of an imported problem, as a formula of its tensors' shapes that the
target file states (the parent process counts it without torch).

torch's FLOP counter, run on the meta device, says whether the forward does matrix work (a
product, a convolution). Where it does, the FLOPs are written as 2 x the output's elements x
the trailing sizes of one of its tensors (a product's K, a convolution weight's
in_channels x kernel), the first such formula the counter agrees with at the problem's sizes
and two others; the score is then GFLOP/s (TFLOP/s on a GPU) and the epilogue is not
counted. Otherwise the problem is memory-bound: the bytes of every input read once and every
output written once (an integer input or output at its own width: an int64 index is 8 bytes),
scored in GB/s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from torch.utils.flop_counter import FlopCounterMode

from .problem_module import KernelBenchProblem, ProbeFailed
from .shapes import Shapes
from .size_expr import SizeExpr

FLOAT32_BYTES = 4


@dataclass(frozen=True)
class Work:
    """``flops``: 2 * numel(outputs[``output``]) * prod(shape of ``tensor`` from axis
    ``start`` on); ``bytes``: every input's elements, ``element_bytes`` each (an integer
    input its ``input_bytes``: int64 labels 8), and every output's, ``output_bytes`` each
    (an int64 index 8, a bool 1). ``tensor`` is an index into Shapes.inputs +
    Shapes.weights; ``note`` says why where FLOPs were counted but no formula fitted."""

    kind: str  # "flops" or "bytes"
    tensor: int = -1
    start: int = 0
    element_bytes: int = FLOAT32_BYTES
    note: str = ""
    output: int = 0
    output_bytes: tuple[int, ...] = (FLOAT32_BYTES,)
    input_bytes: tuple[int, ...] = ()  # each of Shapes.inputs'; (): element_bytes each

    def read_bytes(self, count: int) -> tuple[int, ...]:
        """The width of each of the ``count`` tensors read: the inputs, then the weights."""
        return tuple(self.input_bytes[i] if i < len(self.input_bytes) else self.element_bytes
                     for i in range(count))

    def at(self, shapes: Shapes, sizes: Mapping[str, int]) -> float:
        """The work at ``sizes`` (every dimension)."""
        tensors = (*shapes.inputs, *shapes.weights.values())
        if self.kind == "flops":
            return 2.0 * _numel(shapes.outputs[self.output], sizes) * _numel(
                tensors[self.tensor][self.start:], sizes)
        return float(sum(size * _numel(t, sizes) for size, t in zip(
            self.read_bytes(len(tensors)), tensors, strict=True)) + sum(
            size * _numel(t, sizes) for size, t in zip(self.output_bytes, shapes.outputs,
                                                       strict=True)))


def work_of(problem: KernelBenchProblem, shapes: Shapes, probes: Sequence[Mapping[str, int]],
            element_bytes: int = FLOAT32_BYTES) -> Work:
    """The problem's work formula; ``probes`` are sizes besides its own (every dimension)
    where a FLOP formula must agree with the counter too."""
    outputs = tuple(element_bytes if t.is_floating_point() else t.element_size()
                    for t in problem.base.outputs)
    inputs = tuple(element_bytes if t.is_floating_point() else t.element_size()
                   for t in problem.base.inputs)
    if all(width == element_bytes for width in inputs):
        inputs = ()
    counted = [(sizes, _flops_at(problem, sizes)) for sizes in (shapes.dims, *probes)]
    if not counted[0][1]:
        return Work("bytes", element_bytes=element_bytes, output_bytes=outputs,
                    input_bytes=inputs)
    tensors = (*shapes.inputs, *shapes.weights.values())
    for output in range(len(shapes.outputs)):
        for index, tensor in enumerate(tensors):
            for start in range(len(tensor)):
                work = Work("flops", index, start, element_bytes, output=output,
                            output_bytes=outputs, input_bytes=inputs)
                if all(flops is None or work.at(shapes, sizes) == flops
                       for sizes, flops in counted):
                    return work
    return Work("bytes", element_bytes=element_bytes, output_bytes=outputs, input_bytes=inputs,
                note=f"torch counts {counted[0][1]:.3g} FLOPs a launch, in no form the importer "
                     "writes (2 x the output's elements x a tensor's trailing sizes): scored "
                     "by the bytes it moves")


def _flops_at(problem: KernelBenchProblem, sizes: Mapping[str, int]) -> int | None:
    full = {**problem.sizes, **{d: v for d, v in sizes.items() if d in problem.sizes}}
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            problem.instantiate(full)
    except (ProbeFailed, ValueError):
        return None
    return int(counter.get_total_flops())


def _numel(shape: Sequence[SizeExpr], sizes: Mapping[str, int]) -> int:
    return math.prod(size.value(sizes) for size in shape)
