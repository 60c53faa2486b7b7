"""The stage seed's lowering of reductions, scans, softmax and log-sum-exp.

Reductions fold in double: a max keeps a NaN (as torch's does), an argmax the first index of
the best value, a NaN before any number; var and std are two passes, a mean and the squares
about it. Softmax, log-softmax and log-sum-exp are a max, a sum of exponentials shifted by it
(by 0 where the max is infinite, as torch shifts), and a map. A scan is a cumulative sum or
product in double along its dimension.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..problem.aten_trace import Call
from ..problem.size_expr import SizeExpr
from .stage_ir import FLOAT32, FLOAT64, INT64, Def, Index, Reduction, Scope
from .stage_lowering import Lowering, handles
from .stage_ops import NAN_KEEPING, as_float, number, operand, pointwise

ONE = SizeExpr.constant(1)


def reduced_dims(low: Lowering, dim: Any, rank: int) -> tuple[int, ...]:
    """The dims a reduction runs over (None or []: all of them), sorted."""
    if dim is None or dim == []:
        return tuple(range(rank))
    dims = dim if isinstance(dim, list | tuple) else [dim]
    return tuple(sorted({low.constant(d, "reduction dim") % max(rank, 1) for d in dims}))


def kept_shape(shape: Sequence[SizeExpr], dims: Sequence[int]) -> tuple[SizeExpr, ...]:
    return tuple(ONE if axis in dims else size for axis, size in enumerate(shape))


def zeroed(index: Index, dims: Sequence[int]) -> Index:
    """``index`` with the reduced dims at 0: where a statistic kept with its dimensions
    (keepdim) is read."""
    return tuple("0" if axis in dims else coordinate for axis, coordinate in enumerate(index))


def source_index(index: Index, loop: Index, dims: Sequence[int], rank: int,
                 keepdim: bool) -> Index:
    """The element of the reduced tensor (``rank`` dims) that output element ``index`` reads
    at loop variables ``loop`` (one per reduced dim)."""
    coordinates, position, step = [], 0, iter(loop)
    for axis in range(rank):
        if axis in dims:
            coordinates.append(next(step))
            position += int(keepdim)
        else:
            coordinates.append(index[position])
            position += 1
    return tuple(coordinates)


def reduce_over(x: Def, dims: Sequence[int], keepdim: bool, kind: str, shape: tuple[
                SizeExpr, ...], what: str, term: Callable[[Scope, Index], str] | None = None,
                finish: Callable[[Scope, Index, str], str] | None = None,
                reads: Sequence[Def] = (), dtype: str = FLOAT32, costly: int = 0) -> Def:
    """``kind`` of ``term`` (of x's coordinates; default: x's element) over ``dims`` of
    x, one element of ``shape`` per line; ``reads`` the other definitions the term and the
    finish read."""
    rank = len(x.shape)

    def element_term(scope: Scope, index: Index, loop: Index) -> str:
        coordinates = source_index(index, loop, dims, rank, keepdim)
        if term is not None:
            return term(scope, coordinates)
        value = scope.read(x, coordinates)
        # an integer folded exactly: a double holds every int32 and int64 sums up to 2^53
        return value if x.dtype in ("float32", "float64") else f"(double){value}"

    reduction = Reduction(kind, tuple(x.shape[d] for d in dims), element_term,
                          finish=finish or (lambda scope, index, acc: acc))
    operands = [x, *reads]
    return Def(what, shape, dtype=dtype, reduction=reduction, operands=operands,
               once=[True, *(False for _ in reads)], costly=costly)


def count(low: Lowering, x: Def, dims: Sequence[int]) -> str:
    """The elements of one line over ``dims``, as a double in C."""
    return double_product([low.c(x.shape[d]) for d in dims])


def double_product(sizes: Sequence[str]) -> str:
    """The product of ``sizes`` (C longs) as a double, parenthesised."""
    return f"((double){' * '.join(sizes) or '1'})"


@handles("sum", "mean", "amax", "amin", "prod")
def _reduce(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dims = reduced_dims(low, args.get("dim"), len(x.shape))
    keepdim = bool(args.get("keepdim", False))
    kind = {"amax": "max", "amin": "min", "mean": "sum"}.get(call.name, call.name)
    lines = count(low, x, dims)
    finish = (lambda scope, index, acc: f"{acc} / {lines}") if call.name == "mean" else None
    return [reduce_over(x, dims, keepdim, kind, low.out_shape(call), call.name, finish=finish,
                        dtype=low.dtype(call))]


@handles("max", "min")
def _max(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def | None]:
    x = low.tensor(args["self"])
    if "other" in args:  # max.other: the elementwise maximum
        return _binary_named(low, call, args, {"max": "maximum", "min": "minimum"}[call.name])
    dim = args.get("dim")
    dims = reduced_dims(low, dim, len(x.shape))
    keepdim = bool(args.get("keepdim", False))
    values = reduce_over(x, dims, keepdim, call.name, low.out_shape(call), call.name,
                         dtype=low.dtype(call))
    if dim is None:
        return [values]
    indices = reduce_over(x, dims, keepdim, f"arg{call.name}", low.out_shape(call, 1),
                          f"arg{call.name}", dtype=INT64)
    return [values, indices]


def _binary_named(low: Lowering, call: Call, args: dict[str, Any],
                  name: str) -> list[Def | None]:
    template = NAN_KEEPING[name]
    return [pointwise(low, call, [low.tensor(args["self"]), operand(low, args["other"])],
                      lambda v: template.format(a=v[0], b=v[1]))]


@handles("argmax", "argmin")
def _argmax(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dims = reduced_dims(low, args.get("dim"), len(x.shape))
    return [reduce_over(x, dims, bool(args.get("keepdim", False)), call.name,
                        low.out_shape(call), call.name, dtype=INT64)]


def mean_and_variance(low: Lowering, x: Def, dims: Sequence[int], shape: tuple[SizeExpr, ...],
                      what: str, correction: float = 0.0,
                      at: Callable[[Index], Index] | None = None) -> tuple[Def, Def]:
    """The mean over ``dims`` of x and the variance about it (``correction`` off the count),
    each kept in double, of ``shape``; ``at`` maps x's coordinates to the statistics'
    (default: the reduced dims at 0)."""
    place = at or (lambda coordinates: zeroed(coordinates, dims))
    lines = count(low, x, dims)
    mean = reduce_over(x, dims, True, "sum", shape, f"{what}: the mean",
                       finish=lambda scope, index, acc: f"{acc} / {lines}", dtype=FLOAT64)

    def square(scope: Scope, coordinates: Index) -> str:
        centred = scope.let(f"{as_float(scope.read(x, coordinates), x.dtype)} - "
                            f"{scope.read(mean, place(coordinates))}", "double")
        return f"{centred} * {centred}"

    divisor = lines if not correction else f"({lines} - {float(correction)!r})"
    variance = reduce_over(x, dims, True, "sum", shape, f"{what}: the variance", term=square,
                           finish=lambda scope, index, acc: f"{acc} / {divisor}",
                           reads=[mean], dtype=FLOAT64)
    return mean, variance


@handles("var", "std", "var_mean", "std_mean")
def _variance(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dims = reduced_dims(low, args.get("dim"), len(x.shape))
    keepdim = bool(args.get("keepdim", False))
    correction = args.get("correction")
    correction = 1.0 if correction is None else number(correction)
    mean, variance = mean_and_variance(low, x, dims, kept_shape(x.shape, dims), call.name,
                                       correction)
    root = call.name.startswith("std")

    def result(source: Def, square_root: bool, position: int) -> Def:
        shape = low.out_shape(call, position)

        def element(scope: Scope, index: Index) -> str:
            value = scope.read(source, _kept_index(index, dims, len(x.shape), keepdim))
            return scope.let(f"(float)sqrt({value})" if square_root else f"(float){value}")
        return Def(call.name, shape, element=element, operands=[source], once=[True])

    made = [result(variance, root, 0)]
    if call.name.endswith("_mean"):
        made.append(result(mean, False, 1))
    return made


def _kept_index(index: Index, dims: Sequence[int], rank: int, keepdim: bool) -> Index:
    """An output element's index in a statistic kept with its dimensions."""
    if keepdim:
        return zeroed(index, dims)
    return source_index(index, tuple("0" for _ in dims), dims, rank, False)


@handles("logsumexp")
def _logsumexp(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dims = reduced_dims(low, args.get("dim"), len(x.shape))
    keepdim = bool(args.get("keepdim", False))
    peak, total = _shifted_sum(low, x, dims, "logsumexp")

    def element(scope: Scope, index: Index) -> str:
        at = _kept_index(index, dims, len(x.shape), keepdim)
        # torch shifts by 0 where the max is infinite (a line of -inf gives -inf, not NaN)
        top = scope.read(peak, at)
        shift = scope.let(f"isinf({top}) ? 0.0 : {top}", "double")
        return scope.let(f"(float)(log({scope.read(total, at)}) + {shift})")
    return [Def("logsumexp", low.out_shape(call), element=element, operands=[peak, total],
                once=[True, True], costly=1)]


def _shifted_sum(low: Lowering, x: Def, dims: Sequence[int], what: str) -> tuple[Def, Def]:
    """The max over ``dims`` of x, and the sum of exp(x - max) (a shift of 0 where the max
    is infinite), both kept with their dimensions, in double."""
    shape = kept_shape(x.shape, dims)
    peak = reduce_over(x, dims, True, "max", shape, f"{what}: the max", dtype=FLOAT64)

    def exponential(scope: Scope, coordinates: Index) -> str:
        top = scope.read(peak, zeroed(coordinates, dims))
        shift = scope.let(f"isinf({top}) ? 0.0 : {top}", "double")
        return f"exp({as_float(scope.read(x, coordinates), x.dtype)} - {shift})"

    total = reduce_over(x, dims, True, "sum", shape, f"{what}: the sum of exponentials",
                        term=exponential, reads=[peak], dtype=FLOAT64, costly=1)
    return peak, total


@handles("_softmax", "_log_softmax", "_safe_softmax")
def _softmax(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dims = reduced_dims(low, args["dim"], len(x.shape))
    peak, total = _shifted_sum(low, x, dims, call.name.strip("_"))

    def element(scope: Scope, index: Index) -> str:
        at = zeroed(index, dims)
        top, value = scope.read(peak, at), as_float(scope.read(x, index), x.dtype)
        if call.name == "_log_softmax":
            return scope.let(f"(float)({value} - {top} - log({scope.read(total, at)}))")
        ratio = f"(float)(exp({value} - {top}) / {scope.read(total, at)})"
        if call.name == "_safe_softmax":  # a line of -inf gives zeros, not NaN
            return scope.let(f"isinf({top}) && {top} < 0.0 ? 0.0f : {ratio}")
        return scope.let(ratio)
    return [Def(call.name.strip("_"), low.out_shape(call), element=element,
                operands=[x, peak, total], once=[True, False, False], costly=1)]


@handles("cumsum", "cumprod")
def _scan(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dim = low.constant(args["dim"], "scan dim") % max(len(x.shape), 1)
    return [Def(call.name, low.out_shape(call), scan=(call.name[3:], dim), operands=[x],
                once=[True])]
