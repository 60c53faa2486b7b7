"""The stage seed's lowering of elementwise calls (stage_plan.py registers them by their aten
names): maps whose C expressions are problem/elementwise.py's (torch's float32 arithmetic; a Python
number as a float literal, a number that follows a size computed from it; an integer tensor
read as a float, as torch promotes it, and integers computed from integers kept integers).
A max or a min keeps a NaN, as torch's do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..problem.aten_trace import Call
from ..problem.elementwise import TRANSCENDENTAL, expression, literal
from ..problem.forward_sizes import Scale, Unfit
from ..problem.graph import Unsupported
from ..problem.size_expr import SizeExpr
from .stage_ir import Def, Index, Scope, is_one
from .stage_lowering import Lowering, fitted, handles

ONE = SizeExpr.constant(1)
FLOATS = ("float32", "float64")

# aten unary calls: problem/elementwise.py's operation, and its attributes from the call's arguments
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
                (lambda v: v if integral else as_float(v, operand.dtype))(
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


def as_float(value: str, dtype: str) -> str:
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


def operand(low: Lowering, value: Any) -> Operand:
    if isinstance(value, bool | int | float | SizeExpr | Unfit | Scale):
        return value
    return low.tensor(value)


@handles(*UNARY)
def _unary(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    name, attrs = UNARY[call.name]
    values = {k: float(number(args[a])) for k, a in attrs.items() if args.get(a) is not None}
    return [pointwise(low, call, [low.tensor(args["self"])],
                      lambda v: expression(name, (v[0],), values),
                      costly=FUNCTIONS.get(name, int(name in TRANSCENDENTAL)))]


def number(value: Any) -> float:
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
    alpha, scale, inner = (literal(number(args[k])) for k in ("alpha", "scale", "input_scale"))
    return [pointwise(low, call, [low.tensor(args["self"])], lambda v: (
        f"({v[0]} > 0.0f ? {v[0]} * {scale} : (expf({v[0]} * {inner}) - 1.0f) * {alpha} * "
        f"{scale})"), costly=1)]


@handles("clamp", "clamp_min", "clamp_max")
def _clamp(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    bounds = [(args.get(k), f) for k, f in (("min", "fmaxf"), ("max", "fminf"))
              if args.get(k) is not None]
    operands = [low.tensor(args["self"]), *(operand(low, b) for b, _ in bounds)]

    def formula(v: list[str]) -> str:
        text = v[0]
        for (_, function), bound in zip(bounds, v[1:], strict=True):
            text = f"{function}({text}, {bound})"
        # a NaN stays a NaN, as torch's clamp keeps it
        return f"({v[0]} != {v[0]} ? {v[0]} : {text})"
    return [pointwise(low, call, operands, formula)]


@handles("add", "sub", "rsub")
def _add(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    a, b = operand(low, args["self"]), operand(low, args["other"])
    alpha = number(args.get("alpha", 1) or 1)
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
    return [pointwise(low, call, [operand(low, args["self"]), operand(low, args["other"])],
                      lambda v: template.format(a=v[0], b=v[1]),
                      costly=int(call.name in COSTLY_BINARY))]


@handles("div")
def _div(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    rounding = args.get("rounding_mode")
    wrap = {"trunc": "truncf", "floor": "floorf"}.get(str(rounding), "")
    return [pointwise(low, call, [operand(low, args["self"]), operand(low, args["other"])],
                      lambda v: f"{wrap}({v[0]} / {v[1]})" if wrap else f"{v[0]} / {v[1]}")]


@handles("remainder")
def _remainder(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    # Python's modulo: the result takes the divisor's sign
    return [pointwise(low, call, [operand(low, args["self"]), operand(low, args["other"])],
                      lambda v: f"{v[0]} - floorf({v[0]} / {v[1]}) * {v[1]}")]


@handles("pow")
def _pow(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    base, exponent = operand(low, args["self"]), operand(low, args["exponent"])
    if isinstance(exponent, Def) or isinstance(base, float | int | SizeExpr):
        return [pointwise(low, call, [base, exponent], lambda v: f"powf({v[0]}, {v[1]})",
                          costly=1)]
    power = number(exponent)
    special = {2.0: "{a} * {a}", 3.0: "{a} * {a} * {a}", 1.0: "{a}", 0.5: "sqrtf({a})",
               -1.0: "1.0f / {a}", 0.0: "1.0f", -0.5: "1.0f / sqrtf({a})"}
    if power in special:
        return [pointwise(low, call, [base], lambda v: special[power].format(a=v[0]))]
    return [pointwise(low, call, [base], lambda v: f"powf({v[0]}, {literal(power)})", costly=1)]


@handles(*COMPARISONS)
def _compare(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    sign = COMPARISONS[call.name]
    return [pointwise(low, call, [operand(low, args["self"]), operand(low, args["other"])],
                      lambda v: f"(float)({v[0]} {sign} {v[1]})")]


@handles("logical_not", "bitwise_not")
def _not(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    if low.dtype(call) != "bool":
        raise Unsupported("its forward inverts the bits of an integer tensor")
    return [pointwise(low, call, [low.tensor(args["self"])], lambda v: f"(float)({v[0]} == 0.0f)")]


@handles("where")
def _where(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [operand(low, args[k]) for k in ("condition", "self", "other")]
    return [pointwise(low, call, operands, lambda v: f"({v[0]} != 0.0f ? {v[1]} : {v[2]})")]


@handles("masked_fill")
def _masked_fill(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [operand(low, args[k]) for k in ("self", "mask", "value")]
    return [pointwise(low, call, operands, lambda v: f"({v[1]} != 0.0f ? {v[2]} : {v[0]})")]


@handles("lerp")
def _lerp(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [operand(low, args[k]) for k in ("self", "end", "weight")]
    return [pointwise(low, call, operands, lambda v: f"{v[0]} + {v[2]} * ({v[1]} - {v[0]})")]


@handles("addcmul", "addcdiv")
def _addc(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    operands = [operand(low, args[k]) for k in ("self", "tensor1", "tensor2")]
    sign = "*" if call.name == "addcmul" else "/"
    value = literal(number(args.get("value", 1)))
    return [pointwise(low, call, operands,
                      lambda v: f"{v[0]} + {value} * ({v[1]} {sign} {v[2]})")]
