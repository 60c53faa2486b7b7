"""How one tensor size follows the problem's dimensions, as an expression the target file (in
Python), the C seed and a CUDA seed's launch declaration (in their own spelling of a
dimension's name) all write the same way.

Two forms cover what KernelBench's models do to sizes: an affine map floored by a stride,
``(a1*d1 + a2*d2 + b) // s`` (a size passed through, a convolution's output height
``(height - kernel_size + 2*padding) // stride + 1``, a doubled width), and a product
``k * d1 * d2`` (dimensions flattened into one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SizeExpr:
    """``(sum of coefficient * dim, plus offset) // divisor``; or, where ``product``, the
    offset times the product of the dims (coefficients 1). No terms: the constant offset."""

    terms: tuple[tuple[str, int], ...] = ()
    offset: int = 0
    divisor: int = 1
    product: bool = False

    @classmethod
    def constant(cls, value: int) -> SizeExpr:
        return cls((), value)

    @classmethod
    def of(cls, dim: str) -> SizeExpr:
        return cls(((dim, 1),))

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(dim for dim, coefficient in self.terms if coefficient)

    def value(self, sizes: Mapping[str, int]) -> int:
        if self.product:
            return self.offset * math.prod(sizes[dim] for dim, _ in self.terms)
        total = sum(coefficient * sizes[dim] for dim, coefficient in self.terms)
        return (total + self.offset) // self.divisor

    def render(self, name: Callable[[str], str]) -> str:
        """The expression, each dimension spelt by ``name`` (``c["dim"]``, ``dim``, ``DIM``)."""
        if self.product:
            factors = ([str(self.offset)] if self.offset != 1 else []) + \
                [name(dim) for dim, _ in self.terms]
            return " * ".join(factors)
        parts: list[str] = []
        for dim, coefficient in self.terms:
            if coefficient:
                magnitude = "" if abs(coefficient) == 1 else f"{abs(coefficient)} * "
                parts.append(("- " if coefficient < 0 else "+ ") + magnitude + name(dim))
        if self.offset or not parts:
            parts.append(("- " if self.offset < 0 else "+ ") + str(abs(self.offset)))
        text = " ".join(parts).removeprefix("+ ")
        if text.startswith("- "):
            text = "-" + text[2:]
        if self.divisor == 1:
            return text
        return f"({text}) // {self.divisor}" if " " in text else f"{text} // {self.divisor}"


def product_of(sizes: tuple[SizeExpr, ...], name: Callable[[str], str]) -> str:
    """The product of ``sizes`` as one expression ("1" for none); constants folded first."""
    constant = math.prod(s.offset for s in sizes if not s.terms)
    factors = [s.render(name) for s in sizes if s.terms]
    factors = [f"({f})" if any(op in f for op in (" + ", " - ", " // ")) else f
               for f in factors]
    if constant != 1 or not factors:
        factors.insert(0, str(constant))
    return " * ".join(factors)
