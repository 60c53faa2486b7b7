"""The elementwise operations a seed can write, each as one C expression of its operands (C
and CUDA spell these functions alike: expf, tanhf, erff, fmaxf ...).

An operation is written into a statement of its own, ``const float t7 = <expression>;``, whose
operands are names, array reads or parenthesised literals, so no template needs to care about
the precedence of what it is given. Attributes (a slope, bounds) arrive as float literals.
"""

from __future__ import annotations

from collections.abc import Mapping

# name -> the expression of its operand {a}, and its attributes' defaults (torch's)
UNARY: dict[str, tuple[str, dict[str, float]]] = {
    "relu": ("fmaxf({a}, 0.0f)", {}),
    "gelu": ("0.5f * {a} * (1.0f + erff({a} * 0.70710678118654752f))", {}),
    "gelu_tanh": ("0.5f * {a} * (1.0f + tanhf(0.79788456080286536f * ({a} + 0.044715f * {a} "
                  "* {a} * {a})))", {}),
    "tanh": ("tanhf({a})", {}),
    "sigmoid": ("1.0f / (1.0f + expf(-{a}))", {}),
    "silu": ("{a} / (1.0f + expf(-{a}))", {}),
    "exp": ("expf({a})", {}),
    "log": ("logf({a})", {}),
    "sqrt": ("sqrtf({a})", {}),
    "rsqrt": ("1.0f / sqrtf({a})", {}),
    "abs": ("fabsf({a})", {}),
    "neg": ("-{a}", {}),
    "reciprocal": ("1.0f / {a}", {}),
    "square": ("{a} * {a}", {}),
    "softsign": ("{a} / (1.0f + fabsf({a}))", {}),
    "hardsigmoid": ("fminf(fmaxf({a} / 6.0f + 0.5f, 0.0f), 1.0f)", {}),
    "hardswish": ("{a} * fminf(fmaxf({a} + 3.0f, 0.0f), 6.0f) / 6.0f", {}),
    "leaky_relu": ("({a} > 0.0f ? {a} : {negative_slope} * {a})", {"negative_slope": 0.01}),
    "elu": ("({a} > 0.0f ? {a} : {alpha} * (expf({a}) - 1.0f))", {"alpha": 1.0}),
    "selu": ("1.0507009848776724f * ({a} > 0.0f ? {a} : 1.6732632423543772f * "
             "(expf({a}) - 1.0f))", {}),
    "hardtanh": ("fminf(fmaxf({a}, {min_val}), {max_val})", {"min_val": -1.0, "max_val": 1.0}),
    "softplus": ("({a} * {beta} > {threshold} ? {a} : log1pf(expf({beta} * {a})) / {beta})",
                 {"beta": 1.0, "threshold": 20.0}),
    "clamp_min": ("fmaxf({a}, {min})", {}),
    "clamp_max": ("fminf({a}, {max})", {}),
    "erf": ("erff({a})", {}),
    "log1p": ("log1pf({a})", {}),
    "expm1": ("expm1f({a})", {}),
    "sin": ("sinf({a})", {}),
    "cos": ("cosf({a})", {}),
    "floor": ("floorf({a})", {}),
    "ceil": ("ceilf({a})", {}),
    "round": ("rintf({a})", {}),
    "trunc": ("truncf({a})", {}),
    "sign": ("(float)(({a} > 0.0f) - ({a} < 0.0f))", {}),
    "mish": ("{a} * tanhf({a} > 20.0f ? {a} : log1pf(expf({a})))", {}),
}

BINARY: dict[str, str] = {
    "add": "{a} + {b}",
    "sub": "{a} - {b}",
    "mul": "{a} * {b}",
    "div": "{a} / {b}",
    "pow": "powf({a}, {b})",
    "maximum": "fmaxf({a}, {b})",
    "minimum": "fminf({a}, {b})",
}


def literal(value: float) -> str:
    """A float32 literal C reads back as ``value`` (rounded to float32 as torch rounds a
    Python number it multiplies a float32 tensor by); parenthesised where negative."""
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        return {"inf": "INFINITY", "-inf": "(-INFINITY)", "nan": "NAN"}[text]
    if "e" not in text and "." not in text:
        text += ".0"
    return f"({text}f)" if text.startswith("-") else f"{text}f"


def expression(op: str, operands: tuple[str, ...], attrs: Mapping[str, float]) -> str:
    """The C expression of ``op`` on ``operands`` (names or literals)."""
    if op in BINARY:
        return BINARY[op].format(a=operands[0], b=operands[1])
    template, defaults = UNARY[op]
    values = {name: literal(attrs.get(name, default)) for name, default in defaults.items()}
    values.update({name: literal(value) for name, value in attrs.items()})
    return template.format(a=operands[0], **values)


# The operations that call a transcendental function of libm: each costs far more than the
# bytes it moves (target/configs.py estimates a launch's time by them).
TRANSCENDENTAL = frozenset({"gelu", "gelu_tanh", "tanh", "sigmoid", "silu", "exp", "log", "elu",
                            "selu", "softplus", "pow", "erf", "log1p", "expm1", "sin", "cos",
                            "mish"})


def is_elementwise(op: str) -> bool:
    return op in UNARY or op in BINARY
