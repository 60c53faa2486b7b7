"""The stage seed's lowering of elementwise calls, reductions, scans, softmax and the norms
(stage_plan.py registers them by their aten names).

Elementwise calls are maps whose C expressions are elementwise.py's (torch's float32
arithmetic; a Python number as a float literal; an integer tensor read as a float, as torch
promotes it). Reductions fold in double: a max keeps a NaN (as torch's does), an argmax the
first index of the best value, a NaN before any number. Softmax, log-softmax and
log-sum-exp are a max, a sum of exponentials shifted by it, and a map; LayerNorm, GroupNorm
and BatchNorm a mean, a variance about it (biased, in double) and a map; a BatchNorm in
training mode takes its statistics from the batch, as torch does, and one in eval mode its
running ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .aten_trace import Call
from .elementwise import TRANSCENDENTAL, expression, literal
from .graph import Unsupported
from .size_expr import SizeExpr
from .stage_ir import FLOAT32, FLOAT64, INT64, Def, Index, Reduction, Scope, divided, is_one
from .stage_plan import Lowering, fitted, handles
from .stage_shapes import Scale, Unfit

ONE = SizeExpr.constant(1)
FLOATS = ("float32", "float64")

# aten unary calls: elementwise.py's operation, and its attributes from the call's arguments
UNARY: dict[str, tuple[str, dict[str, str]]] = {
    **{name: (name, {}) for name in (
        "relu", "sigmoid", "tanh", "exp", "log", "sqrt", "rsqrt", "abs", "neg", "reciprocal",
        "silu", "hardsigmoid", "hardswish", "erf", "log1p", "expm1", "sin", "cos", "floor",
        "ceil", "round", "trunc", "sign", "mish")},
    "sgn": ("sign", {}),
    "leaky_relu": ("leaky_relu", {"negative_slope": "negative_slope"}),
    "hardtanh": ("hardtanh", {"min_val": "min_val", "max_val": "max_val"}),
    "softplus": ("softplus", {"beta": "beta", "threshold": "threshold"}),
}
COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
BINARY = {"mul": "{a} * {b}", "maximum": "fmaxf({a}, {b})", "minimum": "fminf({a}, {b})",
          "fmax": "fmaxf({a}, {b})", "fmin": "fminf({a}, {b})", "atan2": "atan2f({a}, {b})",
          "fmod": "fmodf({a}, {b})", "logical_and": "(float)({a} != 0.0f && {b} != 0.0f)",
          "logical_or": "(float)({a} != 0.0f || {b} != 0.0f)",
          "logical_xor": "(float)(({a} != 0.0f) != ({b} != 0.0f))",
          "xlogy": "({b} != {b} ? {b} : {a} == 0.0f ? 0.0f : {a} * logf({b}))"}
COSTLY_BINARY = {"atan2", "xlogy", "pow"}
FUNCTIONS = {"mish": 3, "softplus": 2}  # libm calls of each; one for the rest of TRANSCENDENTAL
# a max or min keeps a NaN, as torch's maximum and minimum do (fmaxf would drop it)
NAN_KEEPING = {"maximum": "({a} != {a} || {a} > {b} ? {a} : {b})",
               "minimum": "({a} != {a} || {a} < {b} ? {a} : {b})"}
Operand = Def | float | SizeExpr | Unfit | Scale


def pointwise(low: Lowering, call: Call, operands: Sequence[Any],
              formula: Callable[[list[str]], str], costly: int = 0,
              what: str | None = None) -> Def:
    """The map of ``formula`` (a C expression of its operands' values) over the call's
    output, each operand a tensor (read through a broadcast) or a number."""
    shape, dtype = low.out_shape(call), low.dtype(call)
    tensors = [o for o in operands if isinstance(o, Def)]
    values = [_scalar(low, o) if not isinstance(o, Def) else None for o in operands]
    # integers computed from integers stay integers (an index chosen by a where); anything
    # else is computed in float, as torch promotes it
    integral = dtype not in FLOATS and dtype != "bool" and all(
        t.dtype not in FLOATS for t in tensors)

    def element(scope: Scope, index: Index) -> str:
        read = [value if value is not None else
                (lambda v: v if integral else _as_float(v, operand.dtype))(
                    scope.read(operand, broadcast(index, operand.shape, shape)))
                for operand, value in zip(operands, values, strict=True)]
        return scope.let(formula(read), "long" if integral else "float")

    return Def(what or call.name, shape, dtype=dtype, element=element,
               operands=tensors, once=[_same(t.shape, shape) for t in tensors],
               costly=costly)


def broadcast(index: Index, shape: Sequence[SizeExpr], out: Sequence[SizeExpr]) -> Index:
    """The element of a tensor of ``shape`` that element ``index`` of ``out`` reads under
    torch's broadcasting (sizes aligned from the last; a size of 1 read at 0)."""
    skip = len(out) - len(shape)
    return tuple("0" if is_one(size) and not is_one(out[skip + axis]) else index[skip + axis]
                 for axis, size in enumerate(shape))


def _same(shape: Sequence[SizeExpr], out: Sequence[SizeExpr]) -> bool:
    return len(shape) == len(out) and all(is_one(a) == is_one(b) for a, b in zip(shape, out,
                                                                                 strict=True))


def _as_float(value: str, dtype: str) -> str:
    return value if dtype in FLOATS else f"((float){value})"


def _scalar(low: Lowering, value: Any) -> str:
    value = fitted(value)
    if isinstance(value, SizeExpr):
        return literal(float(value.offset)) if not value.dims else f"((float){low.c(value)})"
    if isinstance(value, bool | int | float):
        return literal(float(value))
    if isinstance(value, Scale):  # computed in double from the size, as Python computed it
        size = f"(double){low.c(value.size)}"
        power = {-1.0: f"1.0 / {size}", -0.5: f"1.0 / sqrt({size})", 0.5: f"sqrt({size})",
                 1.0: size}.get(value.power, f"pow({size}, {value.power!r})")
        return f"((float)({value.coefficient!r} * {power}))"
    raise Unsupported(f"its forward passes {type(value).__name__} where a number is expected")


def _operand(low: Lowering, value: Any) -> Operand:
    if isinstance(value, bool | int | float | SizeExpr | Unfit | Scale):
        return value
    return low.tensor(value)


@handles(*UNARY)
def _unary(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    name, attrs = UNARY[call.name]
    values = {k: float(_number(args[a])) for k, a in attrs.items() if args.get(a) is not None}
    return [pointwise(low, call, [low.tensor(args["self"])],
                      lambda v: expression(name, (v[0],), values),
                      costly=FUNCTIONS.get(name, int(name in TRANSCENDENTAL)))]


def _number(value: Any) -> float:
    value = fitted(value)
    if isinstance(value, SizeExpr | Scale) and (isinstance(value, Scale) or value.dims):
        raise Unsupported("its forward passes a setting (a slope, a bound, an epsilon) a "
                          "number that follows its sizes")
    if isinstance(value, SizeExpr):
        return float(value.offset)
    return float(value)


@handles("gelu")
def _gelu(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    name = "gelu_tanh" if args["approximate"] == "tanh" else "gelu"
    return [pointwise(low, call, [low.tensor(args["self"])],
                      lambda v: expression(name, (v[0],), {}), costly=1)]


@handles("elu")
def _elu(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    alpha, scale, inner = (literal(_number(args[k])) for k in ("alpha", "scale", "input_scale"))
    return [pointwise(low, call, [low.tensor(args["self"])], lambda v: (
        f"({v[0]} > 0.0f ? {v[0]} * {scale} : (expf({v[0]} * {inner}) - 1.0f) * {alpha} * "
        f"{scale})"), costly=1)]


@handles("clamp", "clamp_min", "clamp_max")
def _clamp(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    bounds = [(args.get(k), f) for k, f in (("min", "fmaxf"), ("max", "fminf"))
              if args.get(k) is not None]
    operands = [low.tensor(args["self"]), *(_operand(low, b) for b, _ in bounds)]

    def formula(v: list[str]) -> str:
        text = v[0]
        for (_, function), bound in zip(bounds, v[1:], strict=True):
            text = f"{function}({text}, {bound})"
        # a NaN stays a NaN, as torch's clamp keeps it
        return f"({v[0]} != {v[0]} ? {v[0]} : {text})"
    return [pointwise(low, call, operands, formula)]


@handles("add", "sub", "rsub")
def _add(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    a, b = _operand(low, args["self"]), _operand(low, args["other"])
    alpha = _number(args.get("alpha", 1) or 1)
    sign = "+" if call.name == "add" else "-"

    def formula(v: list[str]) -> str:
        first, second = (v[1], v[0]) if call.name == "rsub" else (v[0], v[1])
        scaled = second if alpha == 1 else f"{literal(alpha)} * {second}"
        return f"{first} {sign} {scaled}"
    return [pointwise(low, call, [a, b], formula)]


@handles("mul", "maximum", "minimum", "fmax", "fmin", "atan2", "fmod", "logical_and",
         "logical_or", "logical_xor", "xlogy")
def _binary(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    template = NAN_KEEPING.get(call.name, BINARY[call.name])
    return [pointwise(low, call, [_operand(low, args["self"]), _operand(low, args["other"])],
                      lambda v: template.format(a=v[0], b=v[1]),
                      costly=int(call.name in COSTLY_BINARY))]


@handles("div")
def _div(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    rounding = args.get("rounding_mode")
    wrap = {"trunc": "truncf", "floor": "floorf"}.get(str(rounding), "")
    return [pointwise(low, call, [_operand(low, args["self"]), _operand(low, args["other"])],
                      lambda v: f"{wrap}({v[0]} / {v[1]})" if wrap else f"{v[0]} / {v[1]}")]


@handles("remainder")
def _remainder(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    # Python's modulo: the result takes the divisor's sign
    return [pointwise(low, call, [_operand(low, args["self"]), _operand(low, args["other"])],
                      lambda v: f"{v[0]} - floorf({v[0]} / {v[1]}) * {v[1]}")]


@handles("pow")
def _pow(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    base, exponent = _operand(low, args["self"]), _operand(low, args["exponent"])
    if isinstance(exponent, Def) or isinstance(base, float | int | SizeExpr):
        return [pointwise(low, call, [base, exponent], lambda v: f"powf({v[0]}, {v[1]})",
                          costly=1)]
    power = _number(exponent)
    special = {2.0: "{a} * {a}", 3.0: "{a} * {a} * {a}", 1.0: "{a}", 0.5: "sqrtf({a})",
               -1.0: "1.0f / {a}", 0.0: "1.0f", -0.5: "1.0f / sqrtf({a})"}
    if power in special:
        return [pointwise(low, call, [base], lambda v: special[power].format(a=v[0]))]
    return [pointwise(low, call, [base], lambda v: f"powf({v[0]}, {literal(power)})", costly=1)]


@handles(*COMPARISONS)
def _compare(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    sign = COMPARISONS[call.name]
    return [pointwise(low, call, [_operand(low, args["self"]), _operand(low, args["other"])],
                      lambda v: f"(float)({v[0]} {sign} {v[1]})")]


@handles("logical_not", "bitwise_not")
def _not(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    if low.dtype(call) != "bool":
        raise Unsupported("its forward inverts the bits of an integer tensor")
    return [pointwise(low, call, [low.tensor(args["self"])], lambda v: f"(float)({v[0]} == 0.0f)")]


@handles("where")
def _where(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [_operand(low, args[k]) for k in ("condition", "self", "other")]
    return [pointwise(low, call, operands, lambda v: f"({v[0]} != 0.0f ? {v[1]} : {v[2]})")]


@handles("masked_fill")
def _masked_fill(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [_operand(low, args[k]) for k in ("self", "mask", "value")]
    return [pointwise(low, call, operands, lambda v: f"({v[1]} != 0.0f ? {v[2]} : {v[0]})")]


@handles("lerp")
def _lerp(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [_operand(low, args[k]) for k in ("self", "end", "weight")]
    return [pointwise(low, call, operands, lambda v: f"{v[0]} + {v[2]} * ({v[1]} - {v[0]})")]


@handles("addcmul", "addcdiv")
def _addc(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [_operand(low, args[k]) for k in ("self", "tensor1", "tensor2")]
    sign = "*" if call.name == "addcmul" else "/"
    value = literal(_number(args.get("value", 1)))
    return [pointwise(low, call, operands,
                      lambda v: f"{v[0]} + {value} * ({v[1]} {sign} {v[2]})")]


# -- reductions ---------------------------------------------------------------------------

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
        return _as_float(scope.read(x, coordinates), x.dtype)

    reduction = Reduction(kind, tuple(x.shape[d] for d in dims), element_term,
                          finish=finish or (lambda scope, index, acc: acc))
    operands = [x, *reads]
    return Def(what, shape, dtype=dtype, reduction=reduction, operands=operands,
               once=[True, *(False for _ in reads)], costly=costly)


def count(low: Lowering, x: Def, dims: Sequence[int]) -> str:
    """The elements of one line over ``dims``, as a double in C."""
    return _double_product([low.c(x.shape[d]) for d in dims])


def _double_product(sizes: Sequence[str]) -> str:
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
    return [reduce_over(x, dims, keepdim, kind, low.out_shape(call), call.name, finish=finish)]


@handles("max", "min")
def _max(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def | None]:
    x = low.tensor(args["self"])
    if "other" in args:  # max.other: the elementwise maximum
        return _binary_named(low, call, args, {"max": "maximum", "min": "minimum"}[call.name])
    dim = args.get("dim")
    dims = reduced_dims(low, dim, len(x.shape))
    keepdim = bool(args.get("keepdim", False))
    values = reduce_over(x, dims, keepdim, call.name, low.out_shape(call), call.name)
    if dim is None:
        return [values]
    indices = reduce_over(x, dims, keepdim, f"arg{call.name}", low.out_shape(call, 1),
                          f"arg{call.name}", dtype=INT64)
    return [values, indices]


def _binary_named(low: Lowering, call: Call, args: dict[str, Any],
                  name: str) -> list[Def | None]:
    template = NAN_KEEPING[name]
    return [pointwise(low, call, [low.tensor(args["self"]), _operand(low, args["other"])],
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
        centred = scope.let(f"{_as_float(scope.read(x, coordinates), x.dtype)} - "
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
    correction = 1.0 if correction is None else _number(correction)
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
        return f"exp({_as_float(scope.read(x, coordinates), x.dtype)} - {shift})"

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
        top, value = scope.read(peak, at), _as_float(scope.read(x, index), x.dtype)
        if call.name == "_log_softmax":
            return scope.let(f"(float)({value} - {top} - log({scope.read(total, at)}))")
        ratio = f"(float)(exp({value} - {top}) / {scope.read(total, at)})"
        if call.name == "_safe_softmax":  # a line of -inf gives zeros, not NaN
            return scope.let(f"isinf({top}) && {top} < 0.0 ? 0.0f : {ratio}")
        return scope.let(ratio)
    return [Def(call.name.strip("_"), low.out_shape(call), element=element,
                operands=[x, peak, total], once=[True, False, False], costly=1)]


# -- norms --------------------------------------------------------------------------------

def _normalized(low: Lowering, call: Call, x: Def, mean: Def, variance: Def, eps: float,
                at: Callable[[Index], Index], weight: Def | None, bias: Def | None,
                along: Callable[[Index], Index], what: str) -> Def:
    """(x - mean) / sqrt(variance + eps) * weight + bias, the statistics read at ``at`` of
    x's index and the weight and bias at ``along`` of it."""
    epsilon = repr(float(eps))

    def element(scope: Scope, index: Index) -> str:
        stat = at(index)
        value = _as_float(scope.read(x, index), x.dtype)
        scale = scope.let(f"1.0 / sqrt({scope.read(variance, stat)} + {epsilon})", "double")
        out = f"({value} - {scope.read(mean, stat)}) * {scale}"
        if weight is not None:
            out = f"{out} * {scope.read(weight, along(index))}"
        if bias is not None:
            out = f"{out} + {scope.read(bias, along(index))}"
        return scope.let(f"(float)({out})")

    affine = [d for d in (weight, bias) if d is not None]
    return Def(what, low.out_shape(call), element=element,
               operands=[x, mean, variance, *affine],
               once=[True, False, False, *(False for _ in affine)])


def _inverse_std(low: Lowering, call: Call, position: int, variance: Def, eps: float,
                 at: Callable[[Index], Index]) -> Def:
    """A norm's saved 1 / sqrt(variance + eps), an output of its call."""
    epsilon = repr(float(eps))

    def element(scope: Scope, index: Index) -> str:
        return scope.let(f"(float)(1.0 / sqrt({scope.read(variance, at(index))} + {epsilon}))")
    return Def("1 / std", low.out_shape(call, position), element=element,
               operands=[variance], once=[True])


def _cast(low: Lowering, call: Call, position: int, source: Def,
          at: Callable[[Index], Index]) -> Def:
    """A statistic, an output of its call, as float32."""
    def element(scope: Scope, index: Index) -> str:
        return scope.let(f"(float){scope.read(source, at(index))}")
    return Def(source.what, low.out_shape(call, position), element=element,
               operands=[source], once=[True])


def _unchanged(index: Index) -> Index:
    return index


def _optional(low: Lowering, value: Any) -> Def | None:
    return None if value is None else low.tensor(value)


@handles("native_layer_norm")
def _layer_norm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["input"])
    rank, width = len(x.shape), len(args["normalized_shape"])
    dims = tuple(range(rank - width, rank))
    mean, variance = mean_and_variance(low, x, dims, kept_shape(x.shape, dims), "layer norm")
    out = _normalized(low, call, x, mean, variance, _number(args["eps"]),
                      lambda index: zeroed(index, dims), _optional(low, args["weight"]),
                      _optional(low, args["bias"]), lambda index: index[rank - width:],
                      "layer norm")
    return [out, _cast(low, call, 1, mean, _unchanged),
            _inverse_std(low, call, 2, variance, _number(args["eps"]), _unchanged)]


@handles("native_group_norm")
def _group_norm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["input"])
    groups = low.constant(args["group"], "number of groups")
    if len(x.shape) < 2:
        raise Unsupported("its forward group-normalises a tensor of fewer than 2 dims")
    per_group = divided(x.shape[1], groups)
    size = low.c(per_group)
    shape = low.out_shape(call, 1)  # [N, groups]
    # the statistics' domain: a group's channels, then every spatial position
    domain = (per_group, *x.shape[2:])
    lines = _double_product([low.c(s) for s in domain])

    def coordinates(index: Index, loop: Index) -> Index:
        return (index[0], f"{index[1]} * {size} + {loop[0]}", *loop[1:])

    def group_of(index: Index) -> Index:
        return (index[0], f"{index[1]} / {size}")

    def fold(term: Callable[[Scope, Index, Index], str], what: str, reads: list[Def]) -> Def:
        return Def(what, shape, dtype=FLOAT64, operands=[x, *reads],
                   once=[True, *(False for _ in reads)], reduction=Reduction(
                       "sum", domain, term, finish=lambda scope, index, acc: f"{acc} / {lines}"))

    mean = fold(lambda scope, index, loop: _as_float(scope.read(x, coordinates(index, loop)),
                                                     x.dtype), "group norm: the mean", [])

    def square(scope: Scope, index: Index, loop: Index) -> str:
        value = _as_float(scope.read(x, coordinates(index, loop)), x.dtype)
        centred = scope.let(f"{value} - {scope.read(mean, index)}", "double")
        return f"{centred} * {centred}"

    variance = fold(square, "group norm: the variance", [mean])
    eps = _number(args["eps"])
    out = _normalized(low, call, x, mean, variance, eps, group_of,
                      _optional(low, args["weight"]), _optional(low, args["bias"]),
                      lambda index: (index[1],), "group norm")
    return [out, _cast(low, call, 1, mean, _unchanged),
            _inverse_std(low, call, 2, variance, eps, _unchanged)]


@handles("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
         "_native_batch_norm_legit_no_training")
def _batch_norm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def | None]:
    x = low.tensor(args["input"])
    if len(x.shape) < 2:
        raise Unsupported("its forward batch-normalises a tensor of fewer than 2 dims")
    training = bool(args.get("training", False)) or args.get("running_mean") is None
    eps = _number(args["eps"])
    dims = tuple(d for d in range(len(x.shape)) if d != 1)
    rest = tuple("0" for _ in x.shape[2:])

    def channel(index: Index) -> Index:
        return (index[1],)

    def stat(index: Index) -> Index:  # a batch statistic's, kept with its dims
        return zeroed(index, dims) if training else channel(index)

    def saved(index: Index) -> Index:  # a saved statistic [C]'s in the kept one
        return ("0", index[0], *rest)

    if training:
        stats = (ONE, x.shape[1], *(ONE for _ in x.shape[2:]))
        mean, variance = mean_and_variance(low, x, dims, stats, "batch norm (batch statistics)")
    else:
        mean, variance = low.tensor(args["running_mean"]), low.tensor(args["running_var"])
    out = _normalized(low, call, x, mean, variance, eps, stat, _optional(low, args["weight"]),
                      _optional(low, args["bias"]), channel, "batch norm")
    made: list[Def | None] = [out]
    if training:
        made += [_cast(low, call, 1, mean, saved), _inverse_std(low, call, 2, variance, eps,
                                                                saved)]
    for out_id in call.outs[len(made):]:  # the running statistics' update; eval's saved ones
        low.unavailable[out_id] = "its forward reads a BatchNorm's saved or updated statistics"
    return made


# -- scans --------------------------------------------------------------------------------

@handles("cumsum", "cumprod")
def _scan(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dim = low.constant(args["dim"], "scan dim") % max(len(x.shape), 1)
    return [Def(call.name, low.out_shape(call), scan=(call.name[3:], dim), operands=[x],
                once=[True])]
