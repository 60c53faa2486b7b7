"""What a stage seed is made of: a definition of every tensor the forward computes, each as a
function of its element's coordinates, and the statements that compute one element.

- A **map** gives the element at given coordinates from elements of its operands (an
  activation, a broadcast sum, a permutation, a slice): it is computed where it is read
  (inlined) or into a buffer of its own, as stage_plan.py decides.
- A **reduction** folds a term over a domain of loop variables for each element (a sum over a
  dimension, a convolution over its input channels and its window, a product's K), under a
  condition (a window inside the padded input), accumulated in double; a finish turns the
  accumulator into the element (a mean's division, a bias). Always computed into a buffer.
- A **scan** is a cumulative sum or product along one dimension (in double, in order).

Coordinates and sizes are C expressions (strings) of long values; every size that follows the
problem's dimensions is a named local declared once at the top of the entry point (Sizes).
A Scope collects the statements of one loop body: each read of a buffer at an index, and
each value, is computed once in it (a child scope, for a branch, sees its parent's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..problem.size_expr import SizeExpr
from .kernel_text import c_name

Index = tuple[str, ...]  # one C expression per dimension
# A buffer's element type is its dtype's (kernel_text.C_TYPES, CUDA_TYPES); a statistic a
# stage keeps for another (a norm's mean) is float64. A local is a float, a double or a long.
FLOAT32, FLOAT64, INT64 = "float32", "float64", "int64"


class Sizes:
    """The sizes a seed's loops use, each non-constant one a named local (``s0``, ``s1`` ...)
    of the entry point's int parameters, in 64-bit arithmetic."""

    def __init__(self) -> None:
        self.names: dict[SizeExpr, str] = {}

    def __call__(self, size: SizeExpr) -> str:
        if not size.dims:
            return str(size.offset // size.divisor)
        if size not in self.names:
            self.names[size] = f"s{len(self.names)}"
        return self.names[size]

    def declarations(self) -> list[str]:
        return [f"const long {name} = {c_size(size)};" for size, name in self.names.items()]


def c_size(size: SizeExpr) -> str:
    """``size`` in C: each dimension read as a long (C's / floors the non-negative sums a
    problem's sizes are)."""
    return size.render(lambda dim: f"(long){c_name(dim)}").replace(" // ", " / ")


def is_one(size: SizeExpr) -> bool:
    return not size.dims and size.offset == 1 and not size.product


def linear(index: Sequence[str], sizes: Sequence[str], shape: Sequence[SizeExpr]) -> str:
    """The offset of element ``index`` in a contiguous buffer of ``shape`` (``sizes`` its
    sizes in C); a dimension of size 1 adds nothing."""
    text = ""
    for coordinate, size, expr in zip(index, sizes, shape, strict=True):
        if is_one(expr):
            continue
        text = coordinate if not text else f"{_paren(text)} * {size} + {coordinate}"
    return text or "0"


def _paren(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"({text})"


def add(a: str, b: str) -> str:
    """``a + b`` in C, folding zeros."""
    if a == "0":
        return b
    if b == "0":
        return a
    return f"{a} + {b}" if not b.startswith("-") else f"{a} - {b[1:]}"


def mul(a: str, b: str) -> str:
    if "0" in (a, b):
        return "0"
    if a == "1":
        return b
    if b == "1":
        return a
    return f"{_paren(a)} * {_paren(b)}"


class Scope:
    """The statements of one loop body; ``read`` gives a tensor's element there."""

    def __init__(self, read: Callable[[Scope, Def, Index], str], indent: str,
                 parent: Scope | None = None) -> None:
        self._read = read
        self.indent = indent
        self.parent = parent
        self.lines: list[str] = []
        self._memo: dict[object, str] = {}
        self._counter: list[int] = parent._counter if parent else [0]

    def read(self, definition: Def, index: Index) -> str:
        """The element of ``definition`` at ``index``, its statements added once."""
        key = (id(definition), index)
        found = self.lookup(key)
        if found is None:
            found = self._read(self, definition, index)
            self._memo[key] = found
        return found

    def lookup(self, key: object) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if key in scope._memo:
                return scope._memo[key]
            scope = scope.parent
        return None

    def let(self, expression: str, ctype: str = "float") -> str:
        """A local holding ``expression``, the same one where this scope (or a parent) has
        it already; a name or a literal is returned as it is."""
        if expression.replace("_", "").replace(".", "").isalnum():
            return expression
        key = ("let", expression, ctype)
        found = self.lookup(key)
        if found is not None:
            return found
        self._counter[0] += 1
        name = f"t{self._counter[0]}"
        self.add(f"const {ctype} {name} = {expression};")
        self._memo[key] = name
        return name

    def add(self, line: str) -> None:
        self.lines.append(self.indent + line)

    def child(self, indent: str = "    ") -> Scope:
        return Scope(self._read, self.indent + indent, self)

    def branch(self, condition: str, then: Callable[[Scope], str],
               otherwise: Callable[[Scope], str], ctype: str = "float") -> str:
        """A value computed by ``then`` where ``condition`` holds, else by ``otherwise``, each
        in a scope of its own (a read out of bounds never runs)."""
        self._counter[0] += 1
        name = f"t{self._counter[0]}"
        self.add(f"{ctype} {name};")
        for opening, make in ((f"if ({condition}) {{", then), ("} else {", otherwise)):
            self.add(opening)
            inner = self.child()
            value = make(inner)
            inner.add(f"{name} = {value};")
            self.lines += inner.lines
        self.add("}")
        return name

    def text(self) -> str:
        return "\n".join(self.lines)


Element = Callable[[Scope, Index], str]


@dataclass(eq=False)
class Reduction:
    """``kind`` (sum, max, min, prod, argmax, argmin) of ``term`` over the loop variables
    ``r0 ..``, one for each size of ``domain``, where ``condition`` holds (it may add
    statements first; None: everywhere); ``finish`` makes the element from the accumulator
    (a name; an argmax's is the index of the best term)."""

    kind: str
    domain: tuple[SizeExpr, ...]
    term: Callable[[Scope, Index, Index], str]
    condition: Callable[[Scope, Index, Index], str] | None = None
    finish: Callable[[Scope, Index, str], str] = lambda scope, index, acc: acc
    products: bool = False  # the term is a product of two reads (a convolution's, a GEMM's)
    # how a product's loop is written: "plain"; "blocked" (BLOCK_N elements along the last
    # dim at once: the second operand is read in order along it); "dot" (LANES partial sums
    # along its one loop: both operands are read in order along it, a Linear's weight)
    form: str = "plain"

    def volume(self, dims: Mapping[str, int]) -> int:
        """The steps of one element's loop at ``dims``."""
        return math.prod(size.value(dims) for size in self.domain)


def divided(size: SizeExpr, by: int) -> SizeExpr:
    """``size // by`` (a channel count per group) as a SizeExpr."""
    if size.product:
        if size.offset % by:
            raise ValueError(f"{size} is not a multiple of {by}")
        return SizeExpr(size.terms, size.offset // by, product=True)
    return SizeExpr(size.terms, size.offset, size.divisor * by)


@dataclass(eq=False)
class Def:
    """A tensor of the forward (see the module's docstring). ``operands`` are what it reads;
    ``once`` says, for each, that every element of it is read at most once (no broadcast, no
    window): only then may an operand computed by a costly map be inlined into it."""

    what: str  # for the comment of its stage: "convolution", "softmax: the sum"
    shape: tuple[SizeExpr, ...]
    dtype: str = FLOAT32
    element: Element | None = None  # a map's
    reduction: Reduction | None = None
    scan: tuple[str, int] | None = None  # (sum or prod, the dimension)
    operands: list[Def] = field(default_factory=list)
    once: list[bool] = field(default_factory=list)
    costly: int = 0  # transcendental functions per element (a map's, or a reduction term's)
    moves_only: bool = False  # a map that only moves or selects elements (a view, a slice)
    leaf: str | None = None  # the kernel's parameter, for an input or a weight
    alias: Def | None = None  # the same elements as this one, laid out in another shape

    @property
    def kind(self) -> str:
        if self.leaf is not None:
            return "leaf"
        if self.reduction is not None:
            return "reduction"
        return "scan" if self.scan is not None else "map"
