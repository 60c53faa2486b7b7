"""A target file's terms in words (problem.Contract), for the agent's instructions: its entry
point's parameters with their shapes, what it means to skip no work, its checked rows, its
drawn inputs and how its work is counted.

Shapes and the work are read off the file's own functions by calling them on symbols instead
of numbers (``lambda c: (c["m"], c["k"])`` reads ``[m, k]``, ``2 * c["m"] * c["n"]`` reads
``2*m*n``). A function that branches on a dimension, or does anything a symbol cannot, is
described by its values on the first timed configuration instead, or by its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .api import INTEGER_DTYPES, Float, Input, Int, Output, Target
from .problem import Contract, case_word

PRECISION = {
    "bfloat16": "bf16 inputs and output, fp32 accumulation",
    "float16": "fp16 inputs and output, fp32 accumulation",
    "float32": "float32 inputs, output and accumulation",
    **{dtype: f"{dtype} inputs and output; the output must equal the reference exactly"
       for dtype in INTEGER_DTYPES},
}
# What an output of each non-float dtype holds when the kernel starts (tensors.poison).
POISON_WORDS = {"bool": "bytes that are neither 0 nor 1",
                **{d: "an unpredictable value" for d in INTEGER_DTYPES if d != "bool"}}
# The element type a kernel takes each tensor dtype as: a C kernel (the integer types from
# <stdint.h>, bool from <stdbool.h>), and a CUDA kernel (the built-in types of each width:
# NVRTC may have no <stdint.h>; bf16 and fp16 are the CUDA headers' types).
# C has no portable bfloat16 (GCC 13 and Clang 17 have __bf16, GCC 12 does not), so a C kernel
# takes one as its bits, and float16 as _Float16 (GCC 12, Clang 15 and later, on x86-64 and Arm).
C_TYPES = {"float32": "float", "bfloat16": "uint16_t", "float16": "_Float16", "int8": "int8_t",
           "int32": "int32_t", "int64": "int64_t", "uint8": "uint8_t", "bool": "bool"}
CUDA_TYPES = {"float32": "float", "bfloat16": "__nv_bfloat16", "float16": "__half",
              "int8": "signed char", "int32": "int", "int64": "long long",
              "uint8": "unsigned char", "bool": "bool"}
# What a kernel needs told about a dtype's element type beyond its name, by language.
TYPE_NOTES = {"C": {"bool": "one byte, 0 or 1",
                    "bfloat16": "its bits, the upper half of a float32's: widen by shifting "
                                "them 16 left into a float32's bits; narrow by rounding the "
                                "low half to nearest even (NaN stays NaN)"},
              "CUDA": {"bool": "one byte, 0 or 1"}}
# Dtypes whose element type the contract names: CUDA's float types are its headers' own.
NAMED_TYPES = {"C": (*INTEGER_DTYPES, "bfloat16", "float16"), "CUDA": INTEGER_DTYPES}


class Symbol(str):
    """A dimension's name standing in for its value; arithmetic on it builds the expression.
    Truth and comparison are refused, so a function that branches on a dimension fails here
    rather than describing one branch as the whole."""

    sum = False  # whether the expression is a sum or difference, bracketed inside a product

    def __bool__(self) -> bool:
        raise TypeError("a symbol has no truth value")

    def _compared(self, other: object) -> bool:
        raise TypeError("a symbol cannot be compared")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _compared
    __hash__ = str.__hash__

    def _join(self, op: str, other: object, swap: bool = False) -> Symbol:
        left, right = (other, self) if swap else (self, other)
        if op in "*/%" or op == "//":
            left, right = _bracketed(left), _bracketed(right)
        joined = Symbol(f"{left}{op}{right}")
        joined.sum = op in "+-"
        return joined

    def __add__(self, other: object) -> Symbol:
        return self._join("+", _number(other))

    def __radd__(self, other: object) -> Symbol:
        return self._join("+", _number(other), swap=True)

    def __sub__(self, other: object) -> Symbol:
        return self._join("-", _number(other))

    def __rsub__(self, other: object) -> Symbol:
        return self._join("-", _number(other), swap=True)

    def __mul__(self, other: object) -> Symbol:
        return self._join("*", _number(other))

    def __rmul__(self, other: object) -> Symbol:
        return self._join("*", _number(other), swap=True)

    def __truediv__(self, other: object) -> Symbol:
        return self._join("/", _number(other))

    def __rtruediv__(self, other: object) -> Symbol:
        return self._join("/", _number(other), swap=True)

    def __floordiv__(self, other: object) -> Symbol:
        return self._join("//", _number(other))

    def __mod__(self, other: object) -> Symbol:
        return self._join("%", _number(other))


def _number(other: object) -> object:
    """An operand a symbol may meet: a number or another symbol, nothing else."""
    if isinstance(other, bool) or not isinstance(other, int | float | Symbol):
        raise TypeError(f"a symbol cannot meet {type(other).__name__}")
    return other


def _bracketed(operand: object) -> str:
    return f"({operand})" if isinstance(operand, Symbol) and operand.sum else str(operand)


def _symbols(target: Target) -> dict[str, Symbol]:
    return {name: Symbol(name) for name in target.dims}


def _read(function: Callable[[Any], Any], target: Target) -> Any:
    """``function`` on the dimensions as symbols; None where it cannot be read so."""
    try:
        return function(_symbols(target))
    except Exception:  # the user's code, on something it was never written for
        return None


def shape_words(tensor: Input | Output, target: Target) -> str:
    """``[m, k]``; or the shape on the first timed configuration, named so."""
    read = _read(tensor.shape, target)
    if isinstance(read, tuple | list) and read and all(isinstance(s, Symbol | int) and
                                                       not isinstance(s, bool) for s in read):
        return f"[{', '.join(str(s) for s in read)}]"
    first = dict(target.configs[0])
    shape = ", ".join(str(s) for s in tensor.shape(first))
    return f"[{shape}] on {_named(first)}"


def work_words(target: Target) -> str:
    """How the score counts a launch's work: ``2*m*n*k FLOPs``, or the bytes it must move."""
    kind = target.score_by or ("flops" if target.flops is not None else "bytes")
    function = target.flops if kind == "flops" else target.bytes
    unit = "FLOPs" if kind == "flops" else "bytes moved (inputs read once, the output written once)"
    read = _read(function, target) if function is not None else None
    if isinstance(read, Symbol):
        return f"this target counts {read} {unit} a launch"
    return f"this target counts a launch's {unit} with its own function ({kind}, in its file)"


def entry_words(target: Target) -> str:
    """The entry point's parameters, in order, each with its shape or meaning."""
    words = []
    for p in target.parameters:
        own = f" {p.dtype}" if isinstance(p, Input | Output) and _differs(target, p) else ""
        if isinstance(p, Input):
            drawn = f"; {p.values.words()}" if p.values is not None else ""
            words.append(f"{p.name} {shape_words(p, target)}{own} (input, read only{drawn})")
        elif isinstance(p, Output):
            words.append(f"{p.name} {shape_words(p, target)}{own} ({_the_output(target)}; "
                         f"{POISON_WORDS.get(target.dtype_of(p), 'NaN')} when the kernel "
                         "starts)")
        elif isinstance(p, Int):
            words.append(f"int {p.name}" + (" (the dimension)" if p.value is None else ""))
        elif isinstance(p, Float):
            words.append(f"float {p.name}")
    language, types = ("CUDA", CUDA_TYPES) if target.kind == "cuda" else ("C", C_TYPES)
    notes = TYPE_NOTES[language]
    named_dtypes = sorted({target.dtype_of(t) for t in target.tensors} & set(NAMED_TYPES[language]))
    named = "; ".join(f"{d} is {types[d]}" + (f" ({notes[d]})" if d in notes else "")
                      for d in named_dtypes)
    types_words = f" In {language}: {named}." if named_dtypes else ""
    return (f"{target.entry}({', '.join(p.name for p in target.parameters)}): "
            + "; ".join(words) + f". Tensors are contiguous {target.dtype}"
            + (" unless named otherwise." if _mixed(target) else ".") + types_words)


def _differs(target: Target, tensor: Input | Output) -> bool:
    return target.dtype_of(tensor) != target.dtype


def _mixed(target: Target) -> bool:
    return any(_differs(target, t) for t in target.tensors)


def contract_of(target: Target) -> Contract:
    outs = _listed([p.name for p in target.parameters if isinstance(p, Output)], "and")
    cases_words = _listed([case_word(case) for case in ("normal", *target.cases)], "or")
    drawn = ("shapes the target draws afresh each time" if target.draw is not None
             else "the edge shapes again")
    several = sum(isinstance(p, Output) for p in target.parameters) > 1
    return Contract(
        entry=entry_words(target),
        exact=(f"Every element of {outs} is computed from the inputs as the target "
               "defines it: no row, column or term skipped."
               + (" Each output is checked on its own." if several else "")),
        rows=f"Each row of {outs} (along its last dimension)",
        drawn=f"{drawn}, inputs {cases_words}",
        work=work_words(target),
        precision=precision_words(target),
    )


def precision_words(target: Target) -> dict[str, str]:
    """The precision an honest kernel keeps, per dtype; a target whose tensors differ in dtype
    names each one's, and the output's, whose precision the checks hold it to."""
    if not _mixed(target):
        return PRECISION
    tensors = ", ".join(f"{t.name} {target.dtype_of(t)}" for t in target.tensors)
    outs = [t for t in target.tensors if isinstance(t, Output)]
    held = "; ".join(
        (f"{out.name} " if len(outs) > 1 else "the output ")
        + ("compared with the reference exactly" if target.dtype_of(out) in INTEGER_DTYPES
           else f"held to {target.dtype_of(out)} precision")
        for out in outs)
    return {target.dtype: f"{tensors}; fp32 accumulation; {held}"}


def _the_output(target: Target) -> str:
    several = sum(isinstance(p, Output) for p in target.parameters) > 1
    return "an output" if several else "the output"


def _listed(names: list[str], joined: str) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {joined} {names[-1]}"


def _named(dims: dict[str, int | bool]) -> str:
    return " ".join(f"{name}={value}" for name, value in dims.items())
