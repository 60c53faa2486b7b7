"""The stage seed's plan: a problem's forward, recorded at the aten level with every size in
terms of its dimensions (problem/forward_sizes.py), lowered call by call to definitions
(stage_lowering.py, stage_ir.py; each call's lowering is in stage_ops.py (elementwise),
stage_reduce.py (reductions, softmax, scans), stage_norms.py, stage_window.py (products,
convolutions, pooling) and stage_layout.py (views and copies)), and the definitions sorted
into stages.

Which definitions get a buffer: every reduction and scan, every output, and every map whose
elements would otherwise be computed more than once (a map read through a broadcast or by a
window is computed once into a buffer; one read once, by one reader, is computed where it is
read). A map that only moves elements (a view, a permutation, a slice) is always read
through, as an index. A buffer that is not an output is the kernel's own scratch memory,
allocated before its stage and freed after the last stage that reads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial

from ..problem.forward_sizes import SymbolicTrace, symbolic_trace
from ..problem.problem_module import KernelBenchProblem
from ..problem.shapes import Shapes
from ..problem.size_expr import SizeExpr

# each lowering module registers its calls' lowerings with stage_lowering as it is imported
from . import stage_layout, stage_norms, stage_ops, stage_reduce, stage_window  # noqa: F401
from .kernel_text import Kernel, c_name
from .stage_ir import Def, Index, Scope, Sizes
from .stage_lowering import Lowering, lowered

MANY = 1 << 30  # a map's elements read "many times" (through a broadcast or a window)


@dataclass
class Stage:
    """A definition computed into ``buffer`` (an output's parameter or scratch ``v<n>``);
    ``frees`` the scratch buffers no later stage reads."""

    definition: Def
    buffer: str
    scratch: bool
    frees: list[str] = field(default_factory=list)


@dataclass
class StagePlan:
    stages: list[Stage]
    sizes: Sizes
    buffers: dict[int, str]  # id(Def) -> its buffer
    calls: int  # the aten calls lowered
    kind: str = "stage"

    def seconds(self, dims: Mapping[str, int], rates: Mapping[str, float]) -> float:
        """A launch's time at ``dims``, the sum of its stages' (stage_seconds)."""
        return sum(stage_seconds(stage.definition, dims, rates, *self._inlined(stage))
                   for stage in self.stages)

    def _inlined(self, stage: Stage) -> tuple[int, int]:
        """What a stage computes per step besides its own fold: its transcendental functions
        (its own, and those of the maps it computes where it reads them), and those maps'
        other operations."""
        functions, operations = stage.definition.costly, 0
        todo = list(stage.definition.operands)
        while todo:
            operand = todo.pop()
            if id(operand) not in self.buffers and operand.leaf is None:
                functions += operand.costly
                operations += not operand.moves_only
                todo += operand.operands
        return functions, operations


def stage_seconds(definition: Def, dims: Mapping[str, int], rates: Mapping[str, float],
                  functions: int = 0, operations: int = 0) -> float:
    """A stage's time at ``dims``: each step of a reduction's or a scan's fold at
    rates["step"] seconds (one add into a double accumulator after another: its latency,
    not the bytes, bounds it) or, for a product folded in vectors (BLOCK_N outputs or LANES
    partial sums at once), rates["vector_step"], and each element of a fold's at
    rates["element"] (its loops' set-up, its store), and every operation of a map it
    computes where it reads it at rates["operation"] a step; a map's bytes at
    rates["bytes"] (each element written, and read from each operand read element for
    element); every transcendental function at rates["transcendental"] seconds."""
    elements = _numel(definition.shape, dims)
    reduction = definition.reduction
    steps = elements * (reduction.volume(dims) if reduction is not None else 1)
    functions_s = steps * functions * rates["transcendental"]
    if reduction is None and definition.scan is None:
        streamed = sum(definition.once) + 1
        return 4.0 * elements * streamed / rates["bytes"] + functions_s
    step = rates["vector_step"] if reduction is not None and reduction.form != "plain" \
        else rates["step"]
    return (steps * (step + operations * rates["operation"]) + elements * rates["element"]
            + functions_s)


def _numel(shape: Sequence[SizeExpr], dims: Mapping[str, int]) -> float:
    return float(math.prod(size.value(dims) for size in shape))


def recorded(problem: KernelBenchProblem, shapes: Shapes) -> Callable[[], SymbolicTrace]:
    """The forward recorded as the stage seed lowers it (symbolic_trace), once however often
    it is asked for: the work's FLOPs may read it first (problem/work.py)."""
    return cache(partial(symbolic_trace, problem, shapes, lowered))


def stage_plan(symbolic: SymbolicTrace, kernel: Kernel,
               input_names: Sequence[str]) -> StagePlan:
    """The plan of the forward ``symbolic`` (recorded()); Unsupported, naming what, where
    the forward has a call no stage is written for."""
    lowering = Lowering(symbolic, kernel, input_names)
    outputs = lowering.lower()
    return _Planner(outputs, lowering).plan()


class _Planner:
    def __init__(self, outputs: list[Def], lowering: Lowering) -> None:
        self.outputs = outputs
        self.lowering = lowering
        self.kernel = lowering.kernel

    def plan(self) -> StagePlan:
        outputs = self._output_defs()
        order = self._live(list(outputs))
        inline = self._inlined(order, set(outputs))
        buffers: dict[int, str] = {}
        stages: list[Stage] = []
        for definition in order:
            if definition.leaf is not None:
                buffers[id(definition)] = definition.leaf
            elif definition in outputs:
                name = outputs[definition]
                buffers[id(definition)] = name
                stages.append(Stage(definition, name, scratch=False))
            elif id(definition) not in inline:
                name = f"v{len(stages)}"
                buffers[id(definition)] = name
                stages.append(Stage(definition, name, scratch=True))
        self._frees(stages, buffers, inline)
        return StagePlan(stages, self.lowering.sizes, buffers, len(self.lowering.trace.calls))

    def _output_defs(self) -> dict[Def, str]:
        """Each output's definition and the parameter it is written to: a copy where the
        forward returns an input, or one tensor twice."""
        found: dict[Def, str] = {}
        for definition, name in zip(self.outputs, self.kernel.outputs, strict=True):
            if definition.leaf is not None or definition in found:
                definition = _copy(definition)
            found[definition] = c_name(name)
        return found

    def _live(self, roots: list[Def]) -> list[Def]:
        """Every definition the roots need, each after those it reads."""
        order: list[Def] = []
        seen: set[int] = set()
        stack: list[tuple[Def, bool]] = [(root, False) for root in reversed(roots)]
        while stack:
            definition, done = stack.pop()
            if done:
                order.append(definition)
                continue
            if id(definition) in seen:
                continue
            seen.add(id(definition))
            stack.append((definition, True))
            for operand in reversed(definition.operands):
                if id(operand) not in seen:
                    stack.append((operand, False))
        return order

    def _inlined(self, order: list[Def], outputs: set[Def]) -> set[int]:
        """The maps computed where they are read: those that only move elements, and those
        whose every element is computed at most once there."""
        readers: dict[int, list[tuple[Def, bool]]] = {}
        for definition in order:
            for operand, once in zip(definition.operands, definition.once, strict=True):
                readers.setdefault(id(operand), []).append((definition, once))
        inline: set[int] = set()
        effective: dict[int, int] = {}
        for definition in reversed(order):
            if definition.kind != "map" or definition in outputs:
                continue
            count = 0
            for reader, once in readers.get(id(definition), []):
                times = effective.get(id(reader), 1) if id(reader) in inline else 1
                count += times if once else MANY
            if definition.moves_only or count <= 1:
                inline.add(id(definition))
                effective[id(definition)] = count
        return inline

    def _frees(self, stages: list[Stage], buffers: dict[int, str], inline: set[int]) -> None:
        """Each scratch buffer freed after the last stage that reads it."""
        last: dict[str, int] = {}
        for position, stage in enumerate(stages):
            for name in _reads(stage.definition, buffers, inline):
                last[name] = position
        for stage in stages:
            if stage.scratch and stage.buffer not in last:
                last[stage.buffer] = stages.index(stage)
        for name, position in last.items():
            if name.startswith("v") and name[1:].isdigit():
                stages[position].frees.append(name)


def _copy(source: Def) -> Def:
    """A map that reads ``source`` element by element (an output that is an input)."""
    def element(scope: Scope, index: Index) -> str:
        return scope.read(source, index)
    return Def(f"a copy of {source.what}", source.shape, dtype=source.dtype, element=element,
               operands=[source], once=[True], moves_only=True)


def _reads(definition: Def, buffers: dict[int, str], inline: set[int]) -> set[str]:
    """The buffers a stage computing ``definition`` reads (through what it inlines)."""
    found: set[str] = set()
    todo = list(definition.operands)
    while todo:
        operand = todo.pop()
        if id(operand) in buffers:
            found.add(buffers[id(operand)])
        if id(operand) in inline or id(operand) not in buffers:
            todo += operand.operands
    return found
