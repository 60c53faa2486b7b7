"""The ``avo:tensormap`` declaration: a TMA descriptor the harness builds over one of the
entry point's tensors for every launch, read from its fields, its box checked against what the
TMA unit accepts and against the tensor it maps (its rank, its element size)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .expressions import ContractError, Environment, compile_expression

# Blanks before a ``key=``; the look-behind starts a match only where a run of blanks starts (a
# match tried inside a long run of blanks, at every position, would be quadratic).
FIELD_SPLIT = re.compile(r"(?<!\s)\s+(?=\w+=)")
MAX_RANK = 5  # the TMA unit's tensors have 1 to 5 dimensions
SWIZZLES = {"none": 0, "32B": 32, "64B": 64, "128B": 128}  # name -> swizzle span in bytes
TENSORMAP_OPTIONS: dict[str, tuple[str, ...]] = {
    "swizzle": tuple(SWIZZLES),
    "l2": ("none", "64B", "128B", "256B"),
    "oob": ("zero", "nan"),
}
TENSORMAP_FIELDS = ("tensor", "box", "swizzle", "l2", "oob")
MAX_BOX = 256  # the TMA unit's limit on each box dimension, in elements
# Names whose value changes with the configuration: a box is a tile shape, fixed per kernel.
# (Attention's launch variables; a target file's own are unknown to a box's environment.)
CONFIG_VARIABLES = frozenset({"B", "HQ", "HKV", "S", "D", "CAUSAL", "NUM_SMS"})


@dataclass(frozen=True)
class TensorMap:
    """An ``avo:tensormap`` declaration: a TMA descriptor over one tensor, built by the harness."""

    name: str
    tensor: str  # the name of one of the entry point's tensors
    box: str  # expression: one size per dimension of the tensor, in elements, outermost first
    swizzle: str = "none"
    l2: str = "none"
    oob: str = "zero"

    def box_value(self, env: Environment) -> object:
        """The box expression's value, unchecked (box_shape checks it against a tensor)."""
        try:
            return env.evaluate(self.box)
        except ContractError as error:
            raise ContractError(f"avo:tensormap {self.name}: box: {error}") from None

    def box_shape(self, env: Environment, element_bytes: int, rank: int) -> tuple[int, ...]:
        """The box evaluated and checked against what the TMA unit accepts, over a tensor of
        ``rank`` dimensions of ``element_bytes``-byte elements."""
        return check_box(self, self.box_value(env), element_bytes, rank)


def check_box(tensormap: TensorMap, value: object, element_bytes: int,
              rank: int) -> tuple[int, ...]:
    where = f"avo:tensormap {tensormap.name}: box={value!r}"
    box = value if isinstance(value, tuple) else (value,)
    if len(box) != rank or not all(type(n) is int for n in box):
        raise ContractError(
            f"{where} must be {rank} integers, outermost first, one per dimension of "
            f"{tensormap.tensor} (rank {rank})"
        )
    if not all(1 <= n <= MAX_BOX for n in box):
        raise ContractError(f"{where}: every size must be 1 to {MAX_BOX} elements")
    row_bytes = box[-1] * element_bytes
    if row_bytes % 16:
        raise ContractError(
            f"{where}: the innermost size is {row_bytes} bytes; TMA needs a multiple of 16"
        )
    span = SWIZZLES[tensormap.swizzle]
    if span and row_bytes > span:
        raise ContractError(
            f"{where}: the innermost size is {row_bytes} bytes, more than the "
            f"{tensormap.swizzle} swizzle span; split the row into boxes of at most "
            f"{span // element_bytes} elements"
        )
    return box


def read_tensormap(name: str, body: str, line: int = 0) -> TensorMap:
    """``NAME tensor=q box=(...) [swizzle=] [l2=] [oob=]`` (the part after the name)."""
    where = f"line {line}: " if line else ""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ContractError(
            f"{where}avo:tensormap starts with a name, then tensor=... box=(...); got {name!r}"
        )
    prefix = f"{where}avo:tensormap {name}"
    fields: dict[str, str] = {}
    for part in FIELD_SPLIT.split(body.strip()):
        key, sep, value = part.partition("=")
        if not sep or key not in TENSORMAP_FIELDS:
            raise ContractError(
                f"{prefix} takes {', '.join(f + '=' for f in TENSORMAP_FIELDS)}; got {part!r}"
            )
        if key in fields:
            raise ContractError(f"{prefix} gives {key}= twice")
        allowed = TENSORMAP_OPTIONS.get(key)
        if allowed is not None and value not in allowed:
            raise ContractError(f"{prefix}: {key}={value} is not one of {' '.join(allowed)}")
        fields[key] = value
    for required in ("tensor", "box"):
        if required not in fields:
            raise ContractError(f"{prefix} needs {required}= ({_TENSORMAP_HINT[required]})")
    if not re.fullmatch(r"[A-Za-z_]\w*", fields["tensor"]):
        raise ContractError(f"{prefix}: tensor={fields['tensor']} is not a name; it names one "
                            "of the entry point's tensors")
    _check_box_expression(fields["box"], prefix, line)
    return TensorMap(name, **fields)


_TENSORMAP_HINT = {
    "tensor": "one of the entry point's tensors, by name: q, x, out ...",
    "box": "a tile size per dimension of the tensor, outermost first, e.g. (1, 1, 64, 64)",
}


def _check_box_expression(text: str, prefix: str, line: int) -> None:
    tree = compile_expression(text, line).body
    if isinstance(tree, ast.Tuple) and not 1 <= len(tree.elts) <= MAX_RANK:
        raise ContractError(
            f"{prefix}: box={text} has {len(tree.elts)} sizes; a TMA box has 1 to {MAX_RANK}, "
            "one per dimension of the tensor, outermost first"
        )
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} & CONFIG_VARIABLES
    if used:
        raise ContractError(
            f"{prefix}: box={text} uses {', '.join(sorted(used))}, known only per "
            "configuration; a box is a tile shape fixed when the kernel is compiled (knobs, "
            "#defines, AVO_HEAD_DIM)"
        )

