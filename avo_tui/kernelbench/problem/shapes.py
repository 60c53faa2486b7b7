"""How every tensor of a problem follows its size globals: learnt by building the problem at
sizes around its own (problem_module.py, on the meta device) and fitting each tensor size to
a SizeExpr that every probe agrees with.

A global whose probes do not build (a size that must divide another), or on which some size
depends in a form the importer does not write, is fixed: it keeps the problem's value in
every configuration, and the target file says so. Where a size depends on several globals in
no such form (a convolution's output height on height, kernel_size, stride, padding and
dilation), the fewest are held that let it fit over the rest, settings first (a stride, a
padding, a dilation, a kernel's size: SETTINGS names them, then the smallest values), so the
height still varies.

A problem whose forward dispatches many operations (a recurrent network, a step at a time) is
probed around smaller sizes, where a build is quick (MAX_PROBE_OPS), and its fits are checked
at its own sizes. A global no size depends on (a reduction's
dim, a kernel's stride) is no dimension at all. A problem with no size global left is given
its first input's sizes as fixed dimensions d0, d1 ... (the target then has one shape).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .problem_module import Instance, KernelBenchProblem, ProbeFailed, Sizes
from .size_expr import SizeExpr

PROBE_STEPS = range(1, 9)  # each global moved by 1 .. 8: strides up to 4 seen twice over
MAX_STRIDE = 4
# Moves far enough to see a size that a wider stride floors (an average pooling of 11, whose
# stride is its kernel's): seen there, it is fitted by moves of one up to WIDE_STRIDE.
FAR_STEPS = (16, 37)
WIDE_STRIDE = 16
# Past that, a size of one global is fitted by where it steps: five stride-2 convolutions
# give ceil(height / 32) (ResNet, MobileNet), which no move of up to 37 pins down. The next
# step is looked for up to this many sizes on.
WIDEST_STRIDE = 512
UNFIT = ("a tensor size depends on it in a form the importer does not write (an affine size "
         "floored by a stride, or a product of sizes)")
HELD = ("a setting: the sizes it shapes follow the others in a form the importer writes only "
        "with it held")
VARIED_FROM = 8  # smaller sizes are settings, kept at the problem's values (Shapes.varied)
JOINT_PROBES = 3  # every global moved at once, by different steps, to check the fits together
# Words of the globals that set how an operation works rather than how much it does: held
# first where a size fits only with some global held.
SETTINGS = ("stride", "padding", "dilation", "kernel", "groups", "pool")
# A build of more operations than this is probed around smaller sizes: each probe of a
# 512-step, 6-layer GRU dispatches 46,000 operations (9 s on the meta device).
MAX_PROBE_OPS = 2000
SMALLEST_HALVED = 32  # a global is halved towards the smaller probe sizes from this up

Shape = tuple[SizeExpr, ...]
ShapeSet = tuple[tuple[int, ...], ...]  # every tensor's shape at one set of sizes, in order


@dataclass(frozen=True)
class Shapes:
    """Every tensor's shape as expressions of ``dims`` (the problem's own values, in the
    order the file defines them); ``variable`` the dims the problem can be rebuilt at (all
    of them, but for the d0, d1 ... of a problem with no size global), ``fixed`` the globals
    kept at the problem's values, each with why."""

    dims: Sizes
    variable: tuple[str, ...]
    fixed: dict[str, str]
    # the size globals each dimension sets: itself, and those tied to it (bias_shape_0 set
    # from out_features, which it equals and must follow for the problem to build)
    tied: dict[str, tuple[str, ...]]
    inputs: tuple[Shape, ...]
    weights: dict[str, Shape]
    outputs: tuple[Shape, ...]  # one per tensor the forward returns, in order
    literal: bool = field(default=False)
    # the problem's size globals the fits were probed around (its own, or smaller where a
    # build is long): where further probes (the work's, the smallest sizes) are quick
    probe_base: Sizes = field(default_factory=dict)

    @property
    def varied(self) -> tuple[str, ...]:
        """The dimensions the configurations vary: the variable ones of VARIED_FROM or more;
        smaller ones are settings of the problem (a kernel size, three colour channels) and
        keep its values."""
        return tuple(d for d in self.variable if self.dims[d] >= VARIED_FROM)

    def all(self) -> tuple[Shape, ...]:
        return (*self.inputs, *self.weights.values(), *self.outputs)

    def problem_sizes(self, config: Mapping[str, int]) -> Sizes:
        """The problem's size globals at ``config`` (a dimension sets those tied to it)."""
        return {name: config[dim] for dim, names in self.tied.items() for name in names}


def tensor_shapes(instance: Instance) -> ShapeSet:
    """Every tensor of ``instance`` in a fixed order: inputs, weights, the outputs."""
    tensors = (*instance.inputs, *instance.weights.values(), *instance.outputs)
    return tuple(tuple(t.shape) for t in tensors)


def fit_shapes(problem: KernelBenchProblem) -> Shapes:
    smaller = _probe_base(problem)
    if smaller is not None:
        shapes = _fit_around(problem, *smaller)
        own = tensor_shapes(problem.base)
        if shapes.literal or all(
                tuple(size.value(shapes.dims) for size in shape) == sizes
                for shape, sizes in zip(shapes.all(), own, strict=True)):
            return shapes
    return _fit_around(problem, dict(problem.sizes), tensor_shapes(problem.base))


def _fit_around(problem: KernelBenchProblem, sizes: Sizes, base: ShapeSet) -> Shapes:
    """The fits of every tensor size, probed around the size globals ``sizes`` (where the
    problem's tensors are ``base``)."""
    probe = _Prober(problem, base, sizes)
    fixed: dict[str, str] = {}
    varying: list[str] = []
    for dim in problem.sizes:
        if any(dim in group for group in probe.ties.values()):
            continue
        why = probe.why_not_varied(dim)
        if why and probe.tie(dim, [*varying, *fixed]):
            why = probe.why_not_varied(dim)
        if why == "":
            varying.append(dim)
        elif why is not None:
            fixed[dim] = why
    while True:
        fits, unfit = probe.fit_all(varying)
        if not unfit:
            break
        fixed.update(unfit)
        varying = [dim for dim in varying if dim not in unfit]
    used = {dim for shape in fits for size in shape for dim in size.dims}
    dims = {dim: problem.sizes[dim] for dim in problem.sizes if dim in used}
    shapes = _grouped(fits, problem.base)
    if dims:
        tied = {dim: probe.ties.get(dim, (dim,)) for dim in dims}
        return Shapes(dims, tuple(dims), fixed, tied, *shapes, probe_base=sizes)
    return _literal(problem.base, fixed, shapes)


def _probe_base(problem: KernelBenchProblem) -> tuple[Sizes, ShapeSet] | None:
    """Smaller sizes to probe a problem around whose build dispatches more than
    MAX_PROBE_OPS operations, and its tensors' shapes there; None where its own are quick.
    Every global of SMALLEST_HALVED or more is halved at once (one at a time, the largest
    first, where that does not build) until a build is quick or nothing more halves."""
    sizes, ops, shapes = dict(problem.sizes), problem.base.ops, None
    while ops > MAX_PROBE_OPS:
        big = sorted((d for d in sizes if sizes[d] >= SMALLEST_HALVED), key=lambda d: -sizes[d])
        tries = [{**sizes, **{d: sizes[d] // 2 for d in big}}] if len(big) > 1 else []
        tries += [{**sizes, d: sizes[d] // 2} for d in big]
        for smaller in tries:
            try:
                built = problem.instantiate(smaller, count=True)
            except (ProbeFailed, ValueError):
                continue
            sizes, ops, shapes = smaller, built.ops, tensor_shapes(built)
            break
        else:
            break
    return None if shapes is None else (sizes, shapes)


def _grouped(fits: list[Shape], base: Instance) -> tuple[tuple[Shape, ...], dict[str, Shape],
                                                        tuple[Shape, ...]]:
    count = len(base.inputs)
    names = list(base.weights)
    weights = {name: fits[count + i] for i, name in enumerate(names)}
    return tuple(fits[:count]), weights, tuple(fits[count + len(names):])


def _literal(base: Instance, fixed: dict[str, str],
             shapes: tuple[tuple[Shape, ...], dict[str, Shape], tuple[Shape, ...]]) -> Shapes:
    """No size global: the first input's sizes named d0, d1 ..., fixed at their values."""
    first = tuple(base.inputs[0].shape)
    dims = {f"d{i}": size for i, size in enumerate(first)}
    inputs = (tuple(SizeExpr.of(dim) for dim in dims), *shapes[0][1:])
    return Shapes(dims, (), fixed, {}, inputs, shapes[1], shapes[2], literal=True)


class _Prober:
    """The problem's tensor shapes at sizes off its own, each set of sizes built once."""

    def __init__(self, problem: KernelBenchProblem, base: ShapeSet, sizes: Sizes) -> None:
        self.problem = problem
        self.base = base
        self.base_sizes = dict(sizes)
        self.ties: dict[str, tuple[str, ...]] = {}  # a dimension: the globals it moves
        self._seen: dict[tuple[tuple[tuple[str, ...], int], ...], ShapeSet | None] = {}

    def moved(self, moves: Mapping[str, int]) -> Sizes:
        """The problem's sizes with each dimension in ``moves`` (and the globals tied to it)
        moved by its step."""
        sizes = dict(self.base_sizes)
        for dim, step in moves.items():
            for name in self.ties.get(dim, (dim,)):
                sizes[name] += step
        return sizes

    def tie(self, dim: str, decided: list[str]) -> bool:
        """Tie ``dim`` to the other globals of its value where they build only together
        (``bias_shape = (out_features,)``): whether it found such a group. One global at a
        time first, those not ``decided`` yet before those that are (in_features, varied on
        its own, stays apart when it equals out_features), then all of them."""
        same = [d for d in self.base_sizes
                if d != dim and self.base_sizes[d] == self.base_sizes[dim]
                and not any(d in group for group in self.ties.values())]
        singles = sorted(same, key=lambda d: d in decided)
        for group in [(d,) for d in singles] + ([tuple(same)] if len(same) > 1 else []):
            self.ties[dim] = (dim, *group)
            if all(self.shapes_at({dim: step}) is not None for step in PROBE_STEPS):
                return True
            del self.ties[dim]
        return False

    def shapes_at(self, moves: Mapping[str, int]) -> ShapeSet | None:
        """Every tensor's shape with the dimensions in ``moves`` moved by their steps, or None
        where the problem does not build there (or a tensor's rank changes)."""
        key = tuple(sorted((self.ties.get(d, (d,)), v) for d, v in moves.items()))
        if key not in self._seen:
            sizes = self.moved(moves)
            try:
                shapes = tensor_shapes(self.problem.instantiate(sizes))
            except (ProbeFailed, ValueError):
                shapes = None
            if shapes is not None and [len(s) for s in shapes] != [len(s) for s in self.base]:
                shapes = None
            self._seen[key] = shapes
        return self._seen[key]

    def why_not_varied(self, dim: str) -> str | None:
        """"" where ``dim`` can be a varied dimension, None where no tensor size depends on
        it, else why it stays fixed."""
        moved = [self.shapes_at({dim: step}) for step in PROBE_STEPS]
        failed = next((step for step, shapes in zip(PROBE_STEPS, moved, strict=True)
                       if shapes is None), None)
        if failed is not None:
            value = self.base_sizes[dim] + failed
            return f"the problem does not build with {dim} = {value}"
        return "" if any(shapes != self.base for shapes in moved) else None

    def joints(self, varying: list[str]) -> list[tuple[Sizes, ShapeSet]]:
        """The sizes and shapes of JOINT_PROBES sets of moves of every varying global at
        once (those that build)."""
        found = []
        for probe in range(JOINT_PROBES):
            moves = {dim: (index + probe) % 4 + 1 for index, dim in enumerate(varying)}
            shapes = self.shapes_at(moves)
            if shapes is not None:
                found.append((self.moved(moves), shapes))
        return found

    def fit_all(self, varying: list[str]) -> tuple[list[Shape], dict[str, str]]:
        """Every tensor size fitted over ``varying``; and the globals to hold where a size
        fits no form over them all (to be fixed, and the fit tried again without them), each
        with why."""
        joints = self.joints(varying)
        fits: list[Shape] = []
        unfit: dict[str, str] = {}
        for t, shape in enumerate(self.base):
            sizes: list[SizeExpr] = []
            for axis, size in enumerate(shape):
                def at(moves: Mapping[str, int], t: int = t, axis: int = axis) -> int | None:
                    shapes = self.shapes_at(moves)
                    return None if shapes is None else shapes[t][axis]
                involved = [d for d in varying if any(
                    at({d: s}) not in (None, size) for s in (*PROBE_STEPS, *FAR_STEPS))]
                fit = fit_size(size, involved, self.base_sizes, at,
                           [(sizes_, shapes[t][axis]) for sizes_, shapes in joints])
                if fit is None:
                    held = _held(size, involved, self.base_sizes, at)
                    unfit.update({d: HELD if len(held) < len(involved) else UNFIT
                                  for d in held})
                    fit = SizeExpr.constant(size)
                sizes.append(fit)
            fits.append(tuple(sizes))
        return fits, unfit


def _held(size: int, involved: list[str], base: Sizes,
          at: Callable[[Mapping[str, int]], int | None]) -> list[str]:
    """The fewest of the ``involved`` globals to hold at their values for ``size`` to fit
    over the others (each moved alone), settings before the rest and smaller values before
    larger; all of them where no such few exist."""
    ranked = sorted(involved, key=lambda d: (not any(w in d for w in SETTINGS), base[d]))
    for count in range(1, len(ranked)):
        for held in sorted(itertools.combinations(ranked, count),
                           key=lambda group: sum(ranked.index(d) for d in group)):
            rest = [d for d in involved if d not in held]
            if fit_size(size, rest, base, at, []) is not None:
                return list(held)
    return involved


def fit_size(size: int, involved: list[str], base: Sizes, at: Callable[[Mapping[str, int]],
         int | None], joints: list[tuple[Sizes, int]]) -> SizeExpr | None:
    """The first form of ``size`` over the ``involved`` globals that every single move (the
    far ones where the problem builds there) and every joint probe agrees with: an affine map
    floored by a stride, then a product. A stride past MAX_STRIDE, of a size that follows one
    global, is seen over every move up to twice WIDE_STRIDE."""
    if not involved:
        return SizeExpr.constant(size)
    observed = [({**base, dim: base[dim] + step}, at({dim: step}))
                for dim in involved for step in PROBE_STEPS] + list(joints)
    observed += [(sizes, value) for sizes, value in (
        ({**base, dim: base[dim] + step}, at({dim: step}))
        for dim in involved for step in FAR_STEPS) if value is not None]

    def agrees(expr: SizeExpr) -> bool:
        return expr.value(base) == size and all(
            value is not None and expr.value(sizes) == value for sizes, value in observed)

    wide = range(MAX_STRIDE + 1, WIDE_STRIDE + 1) if len(involved) == 1 else range(0)
    for divisor in (*range(1, MAX_STRIDE + 1), *wide):
        if divisor == MAX_STRIDE + 1:  # every move over two of the widest strides
            dim = involved[0]
            observed += [({**base, dim: base[dim] + step}, at({dim: step}))
                         for step in range(PROBE_STEPS.stop, 2 * WIDE_STRIDE + 1)]
        steps = [at({dim: divisor}) for dim in involved]
        if any(step is None for step in steps):
            continue
        terms = tuple((dim, (step or 0) - size) for dim, step in zip(involved, steps,
                                                                         strict=True))
        low = divisor * size - sum(c * base[d] for d, c in terms)
        for offset in range(low, low + divisor):
            expr = SizeExpr(terms, offset, divisor)
            if agrees(expr):
                return expr
    if len(involved) == 1:
        stepped = _past_wide_stride(size, involved[0], base, at)
        if stepped is not None and agrees(stepped):
            return stepped
    unit = 1
    for dim in involved:
        unit *= base[dim]
    if unit and size % unit == 0:
        expr = SizeExpr(tuple((dim, 1) for dim in involved), size // unit, product=True)
        if agrees(expr):
            return expr
    return None


def _past_wide_stride(size: int, dim: str, base: Sizes,
                      at: Callable[[Mapping[str, int]], int | None]) -> SizeExpr | None:
    """``(coefficient * dim + offset) // stride`` read off two steps of ``size`` as ``dim``
    grows (the sizes where it changes, each found by doubling the move, then halving the
    interval): the stride is their distance, the coefficient the change at the second. Found
    with some dozen probes, each a build of the problem; None where a probe does not build
    or ``size`` does not step within WIDEST_STRIDE."""

    def value(step: int) -> int | None:
        return size if step == 0 else at({dim: step})

    def next_step(after: int) -> int | None:
        """The least move past ``after`` where the size differs from its value there."""
        start = value(after)
        low, high = after, after + 1
        while True:
            found = value(high)
            if found is None:
                return None
            if found != start:
                break
            if high - after > 2 * WIDEST_STRIDE:
                return None
            low, high = high, after + 2 * (high - after)
        while high - low > 1:  # value(low) == start, value(high) != start
            middle = (low + high) // 2
            found = value(middle)
            if found is None:
                return None
            low, high = (middle, high) if found == start else (low, middle)
        return high

    first = next_step(0)
    second = None if first is None else next_step(first)
    if first is None or second is None:
        return None
    before, at_first, at_second = value(first - 1), value(first), value(second)
    if before is None or at_first is None or at_second is None:
        return None
    stride, coefficient = second - first, at_second - at_first
    if coefficient <= 0 or at_first - before != coefficient:
        return None
    # at the first step, coefficient * (base + first) + offset lands on a multiple of stride
    offset = at_first * stride - coefficient * (base[dim] + first)
    return SizeExpr(((dim, coefficient),), offset, stride)

