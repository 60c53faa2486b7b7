"""What a kernel declares in its source: knobs, constraints and (for CUDA) launch geometry.

The declarations are comments the C preprocessor ignores, so the source stays an ordinary
kernel (knowledge/kernel-contract.md is the user's reference):

    #define BLOCK_Q 32        // avo:knob 16 32 64
    // avo:require BLOCK_Q * HEAD_DIM <= 8192
    // avo:launch grid=(ceil_div(S, BLOCK_Q), HQ, B) block=(NUM_THREADS,) smem=SMEM_BYTES
    // avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_Q, 64) swizzle=128B
    // avo:launch scratch=16

A knob is a ``#define`` whose allowed values follow ``avo:knob``; the tuner rewrites the value in
place, so a tuned kernel is still plain source. Expressions are a small, safe subset of Python
(integers, + - * / // % **, comparisons, and/or/not, ``&&``/``||``, min, max, ceil_div): they
may name knobs, other simple ``#define``s, and the variables the harness supplies. A tensor map
is a TMA descriptor the harness builds over one of the tensors for every launch and passes after
the fixed parameters, in declaration order. Scratch is device memory the harness zeroes before
every launch (a work counter a persistent grid draws tiles from) and passes last.

The kernel's author may be hostile, and the tuner evaluates declarations in the engine's own
process: values, expression sizes, nesting, #define chains and the work of one evaluation are
bounded (the MAX_* limits of expressions.py), and every refusal is a ContractError.

This module reads the declarations (parse) and rewrites knob values (set_knobs); expressions.py
evaluates their expressions safely, and tensormaps.py reads an ``avo:tensormap``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .expressions import (
    MAX_DECLARATION_CHARS,
    MAX_EXPRESSION_CHARS,
    ContractError,
    Environment,
    ceil_div,
    compile_expression,
)
from .tensormaps import FIELD_SPLIT, TensorMap, read_tensormap

# What callers read here: the contract's parts live in expressions.py and tensormaps.py.
__all__ = [
    "MAX_EXPRESSION_CHARS",
    "ContractError",
    "Declarations",
    "Environment",
    "Knob",
    "MissingEntry",
    "TensorMap",
    "ceil_div",
    "parse",
    "read_tensormap",
    "set_knobs",
]

KNOB = re.compile(
    r"^(?P<head>[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+)(?P<value>[^\s/]+)"
    r"(?P<gap>[ \t]*)//[ \t]*avo:knob\b(?P<choices>[^\n]*)$",
    re.MULTILINE,
)
# The value is the rest of the line up to a // comment, without trailing blanks; it is cut in
# Python, because a lazy value followed by [ \t]* backtracks quadratically on a long run of blanks.
DEFINE = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+(?P<rest>[^\n]*)$", re.MULTILINE
)
DIRECTIVE = re.compile(
    r"//[ \t]*avo:(?P<kind>require|launch|tensormap)\b(?P<body>[^\n]*)$", re.MULTILINE
)
LAUNCH_FIELDS = ("grid", "block", "smem", "cluster", "scratch")
# Tensor maps travel in Declarations.launch, each under this prefix and its name: whoever merges
# the launch fields of several files then keeps the maps too, in declaration order.
TENSORMAP_KEY = "tensormap:"


class MissingEntry(LookupError):
    """The compiled kernel does not export the entry point its target calls."""


@dataclass(frozen=True)
class Knob:
    name: str
    value: str
    choices: tuple[str, ...]
    line: int

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "choices": list(self.choices)}



@dataclass(frozen=True)
class Declarations:
    knobs: tuple[Knob, ...]
    requires: tuple[tuple[int, str], ...]  # (line, expression)
    launch: dict[str, str] = field(default_factory=dict)  # field -> expression
    defines: dict[str, str] = field(default_factory=dict)  # simple object-like #defines

    def knob(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        known = ", ".join(k.name for k in self.knobs) or "none"
        raise ContractError(f"the kernel declares no knob {name!r} (knobs: {known})")

    @property
    def tensormaps(self) -> tuple[TensorMap, ...]:
        return tuple(
            read_tensormap(key.removeprefix(TENSORMAP_KEY), body)
            for key, body in self.launch.items()
            if key.startswith(TENSORMAP_KEY)
        )

    def environment(self, variables: Mapping[str, object] | None = None) -> Environment:
        return Environment(self.defines, dict(variables or {}))

    def check_requirements(self, variables: Mapping[str, object] | None = None) -> None:
        env = self.environment(variables)
        for line, expression in self.requires:
            try:
                holds = env.evaluate(expression)
            except ContractError as error:
                raise ContractError(f"line {line}: {error}") from None
            if not holds:
                raise ContractError(f"line {line}: requirement not met: {expression.strip()}")


class _Lines:
    """Line numbers of offsets in one source, each found in logarithmic time (counting the
    newlines before every one of many declarations would be quadratic in the source's size)."""

    def __init__(self, source: str) -> None:
        self._newlines = [match.start() for match in re.finditer("\n", source)]

    def of(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1


def parse(source: str) -> Declarations:
    lines = _Lines(source)
    knobs = []
    for match in KNOB.finditer(source):
        choices = tuple(match["choices"].replace(",", " ").split())
        line = lines.of(match.start())
        if not choices:
            raise ContractError(f"line {line}: knob {match['name']} lists no allowed values")
        if match["value"] not in choices:
            raise ContractError(
                f"line {line}: knob {match['name']} = {match['value']} is not one of its "
                f"allowed values {' '.join(choices)}"
            )
        knobs.append(Knob(match["name"], match["value"], choices, line))
    names = [k.name for k in knobs]
    if len(set(names)) != len(names):
        raise ContractError(f"a knob is declared twice: {', '.join(names)}")

    requires: list[tuple[int, str]] = []
    launch: dict[str, str] = {}
    declared_chars = 0
    for match in DIRECTIVE.finditer(source):
        line = lines.of(match.start())
        body = match["body"].strip()
        declared_chars += len(match[0])
        if declared_chars > MAX_DECLARATION_CHARS:
            raise ContractError(
                f"line {line}: the avo:require, avo:launch and avo:tensormap declarations of "
                f"one file may hold at most {MAX_DECLARATION_CHARS:,} characters together"
            )
        if match["kind"] == "require":
            compile_expression(body, line)
            requires.append((line, body))
        elif match["kind"] == "launch":
            launch.update(_parse_launch(body, line))
        else:
            key, options = _parse_tensormap(body, line)
            if key in launch:
                raise ContractError(f"line {line}: a tensor map is declared twice: {body}")
            launch[key] = options

    defines = {}
    for match in DEFINE.finditer(source):
        if source[match.end("name") : match.end("name") + 1] == "(":
            continue  # function-like macro
        defines[match["name"]] = match["rest"].split("//", 1)[0].rstrip(" \t")
    return Declarations(tuple(knobs), tuple(requires), launch, defines)


def _parse_launch(body: str, line: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in FIELD_SPLIT.split(body):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or key not in LAUNCH_FIELDS:
            raise ContractError(
                f"line {line}: avo:launch takes {', '.join(f + '=' for f in LAUNCH_FIELDS)}; "
                f"got {part!r}"
            )
        compile_expression(value, line)
        fields[key] = value
    return fields


def _parse_tensormap(body: str, line: int) -> tuple[str, str]:
    name, *rest = body.split(maxsplit=1) or [""]
    options = rest[0] if rest else ""
    read_tensormap(name, options, line)
    return TENSORMAP_KEY + name, options



def set_knobs(source: str, values: Mapping[str, object], *, strict: bool = True) -> str:
    """Return ``source`` with the knobs' ``#define`` values replaced.

    With ``strict``, a value outside the knob's declared choices is refused."""
    declared = {k.name: k for k in parse(source).knobs}
    for name, value in values.items():
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise ContractError(f"the kernel declares no knob {name!r} (knobs: {known})")
        if strict and str(value) not in declared[name].choices:
            raise ContractError(
                f"{value} is not an allowed value of {name} "
                f"(allowed: {' '.join(declared[name].choices)})"
            )

    def replace(match: re.Match[str]) -> str:
        if match["name"] not in values:
            return match[0]
        return f"{match['head']}{values[match['name']]}{match['gap']}//{match[0].split('//', 1)[1]}"

    return KNOB.sub(replace, source)
