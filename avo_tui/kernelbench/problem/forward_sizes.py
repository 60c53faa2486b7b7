"""Every size inside a problem's forward as a SizeExpr of its dimensions: the shape of each
tensor the forward makes and each int it passes (a view's sizes, a slice's bounds), learnt as
shapes.py learns those of its inputs and outputs: the forward is recorded (aten_trace.py) at
sizes moved off the problem's own, one dimension at a time and all together, and each int
is fitted to the form every recording agrees with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .aten_trace import Trace, record
from .graph import Unsupported
from .problem_module import KernelBenchProblem, ProbeFailed
from .shapes import FAR_STEPS, JOINT_PROBES, PROBE_STEPS, Shapes, fit_size
from .size_expr import SizeExpr

Shape = tuple[SizeExpr, ...]


UNFIT = ("a size inside its forward follows its dimensions in a form the importer does not "
         "write")


@dataclass(frozen=True)
class Unfit:
    """An int of the trace no form fits: an error only where the lowering uses it (a group
    norm's count of elements, which no stage reads, may be one)."""

    value: int


@dataclass(frozen=True)
class SymbolicTrace:
    """The forward recorded at the problem's sizes, with each value's shape and each call's
    int arguments as SizeExprs (an int argument that no size moves is a constant one)."""

    trace: Trace
    shapes: tuple[tuple[SizeExpr | Unfit, ...], ...]  # by value id
    # by call index: the arguments, each int a SizeExpr, each float that follows the sizes a
    # Scale
    args: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Scale:
    """A float argument that follows the sizes: ``coefficient * size ** power`` (a softmax
    scale 1 / sqrt(head_dim), a size one of the forward's tensors has)."""

    coefficient: float
    size: SizeExpr
    power: float


def symbolic_trace(problem: KernelBenchProblem, shapes: Shapes,
                   keep: Callable[[torch._ops.OpOverload], bool]) -> SymbolicTrace:
    """Unsupported where the forward cannot be recorded, runs other calls at other sizes, or
    has a size in no form the importer writes."""
    base = record(problem.base, keep, problem.memo)
    base_ints = base.ints()
    probes = _Probes(problem, shapes, keep, base)
    varied = [] if shapes.literal else list(shapes.varied)  # settings keep their values
    joints = probes.joints(varied)
    base_sizes = dict(shapes.dims)
    fitted: list[SizeExpr | Unfit] = []
    for position, value in enumerate(base_ints):
        def at(moves: Mapping[str, int], position: int = position) -> int | None:
            found = probes.built(moves)  # None past where it builds (fit_size's far moves)
            return None if found is None else found[0][position]
        # the far moves too, as shapes.py fits a tensor's sizes: a pooling of 11 over 200
        # rows gives 18 for every move up to 8
        involved = [d for d in varied if any(at({d: s}) not in (None, value)
                                             for s in (*PROBE_STEPS, *FAR_STEPS))]
        fit = fit_size(value, involved, base_sizes, at,
                       [(sizes, ints[position]) for sizes, ints in joints])
        fitted.append(Unfit(value) if fit is None else fit)
    sizes = sorted({s for s in fitted if isinstance(s, SizeExpr) and s.dims}, key=str)
    points = [(base_sizes, base.floats())] + [
        ({**base_sizes, d: base_sizes[d] + s}, probes.floats({d: s}))
        for d in varied for s in PROBE_STEPS] + [(sizes_, probes.floats(moves))
                                                 for sizes_, moves in probes.joint_moves]
    scales = [_scale(position, value, sizes, points)
              for position, value in enumerate(base.floats())]
    return _placed(base, fitted, scales)


POWERS = (-1.0, -0.5, -0.25, 0.25, 0.5, 1.0)


def _scale(position: int, value: float, sizes: list[SizeExpr],
           points: list[tuple[dict[str, int], list[float]]]) -> float | Scale | Unfit:
    """The float at ``position``: itself where no move changes it, else the first Scale of
    a size of the forward every recording agrees with."""
    if all(floats[position] == value for _, floats in points):
        return value
    for size in sizes:
        for power in POWERS:
            base = size.value(points[0][0]) ** power
            if not base:
                continue
            coefficient = value / base
            if all(math.isclose(coefficient * size.value(dims) ** power, floats[position],
                                rel_tol=1e-12) for dims, floats in points):
                return Scale(coefficient, size, power)
    return Unfit(0)


def _placed(trace: Trace, fitted: list[SizeExpr | Unfit],
            scales: list[float | Scale | Unfit]) -> SymbolicTrace:
    """The fitted ints and floats put back where Trace.ints() and floats() found them."""
    found = iter(fitted)
    value_shapes = tuple(tuple(next(found) for _ in value.shape) for value in trace.values)
    found_scales = iter(scales)

    def replace(arg: Any) -> Any:
        if isinstance(arg, bool) or not isinstance(arg, int | float | list | tuple):
            return arg
        if isinstance(arg, float):
            return next(found_scales)
        if isinstance(arg, int):
            return next(found)
        return type(arg)(replace(a) for a in arg)

    args = tuple({name: replace(arg) for name, arg in call.args.items()}
                 for call in trace.calls)
    return SymbolicTrace(trace, value_shapes, args)


class _Probes:
    """The forward recorded with some dimensions moved (and the globals tied to each), each
    set of moves once."""

    def __init__(self, problem: KernelBenchProblem, shapes: Shapes,
                 keep: Callable[[torch._ops.OpOverload], bool], base: Trace) -> None:
        self.problem = problem
        self.shapes = shapes
        self.keep = keep
        self.signature = base.signature()
        self._seen: dict[tuple[tuple[str, int], ...], tuple[list[int], list[float]] | None] = {}
        self.joint_moves: list[tuple[dict[str, int], dict[str, int]]] = []

    def sizes(self, moves: Mapping[str, int]) -> dict[str, int]:
        """The problem's size globals with each dimension in ``moves`` moved."""
        sizes = dict(self.problem.sizes)
        for dim, step in moves.items():
            for name in self.shapes.tied.get(dim, (dim,)):
                sizes[name] += step
        return sizes

    def floats(self, moves: Mapping[str, int]) -> list[float]:
        found = self.built(moves)
        if found is None:
            raise Unsupported("its forward does not build at sizes its dimensions take "
                              "(the importer records it at several)")
        return found[1]

    def built(self, moves: Mapping[str, int]) -> tuple[list[int], list[float]] | None:
        """The recording's ints and floats with ``moves``, or None where the problem does
        not build."""
        key = tuple(sorted(moves.items()))
        if key not in self._seen:
            try:
                trace = record(self.problem.instantiate(self.sizes(moves)), self.keep,
                               self.problem.memo)
            except (ProbeFailed, ValueError):
                self._seen[key] = None
                return None
            if trace.signature() != self.signature:
                raise Unsupported("its forward runs other operations at other sizes")
            self._seen[key] = (trace.ints(), trace.floats())
        return self._seen[key]

    def joints(self, varied: list[str]) -> list[tuple[dict[str, int], list[int]]]:
        """JOINT_PROBES sets of moves of every varied dimension at once, as shapes.py makes
        them: the dimensions' sizes there, and the recording's ints."""
        found = []
        for probe in range(JOINT_PROBES if varied else 0):
            moves = {dim: (index + probe) % 4 + 1 for index, dim in enumerate(varied)}
            sizes = {**self.shapes.dims, **{d: self.shapes.dims[d] + m
                                             for d, m in moves.items()}}
            numbers = self.built(moves)
            if numbers is not None:
                found.append((sizes, numbers[0]))
                self.joint_moves.append((sizes, moves))
        return found
