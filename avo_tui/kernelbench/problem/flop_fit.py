"""A forward's FLOPs as a polynomial of its varied sizes, fitted exactly to torch's FLOP counter.

torch counts the FLOPs of the matrix work a forward dispatches (products, convolutions,
attention; an elementwise epilogue, a pooling or a norm counts nothing), at any sizes, on the
meta device. A target file must state them as a formula of its configuration that the parent
process computes without torch. Every such count KernelBench makes is a sum of products of
sizes: a product's M x K x N, a convolution's batch x channels in and out x its output's
(or, transposed, its input's) height and width x the kernel, attention's heads x queries x
keys x head dim twice over, a GRU's steps x layers x its gates' products. So the count is
fitted to a polynomial: for each varied size, the variable is the size itself or a size of a
tensor that follows it alone (a strided convolution's output height, which a floor makes no
polynomial of the input's), the degree in it is read off its finite differences, and the
coefficients are solved exactly (rationals) on the grid of those degrees; then the
polynomial is checked off the grid, every size moved at once, against the counter again.

Steps along a size are multiples of every stride its tensor sizes divide by, so along them a
floored size is affine. Where the count is still no polynomial (strides inside the forward
that no tensor shows, a network of pooled stages), wider steps are tried (WIDENINGS): on
their grid the polynomial is exact, off it within NEAR of the count, and its error is told;
a count no step makes a polynomial of gets no formula, and the caller says so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .size_expr import SizeExpr

Sizes = dict[str, int]
Count = Callable[[Mapping[str, int]], int | None]  # the counter's FLOPs at sizes; None: no build

MAX_DEGREE = 4  # in one size: a square matmul's N is 3, attention's sequence 2
# Steps tried along a size, as multiples of the strides its tensors show: a stride inside the
# forward that no tensor shows (a pooling between two convolutions) needs a wider one, and a
# network's stages of them (five halvings: 32; a third among them: 96) the widest.
WIDENINGS = (1, 2, 4, 32, 96)
# Off its grid, a polynomial fitted along a wide step misses the count by its floors: within
# this share it stands, and the file says how near it is.
NEAR = 0.1
MAX_POINTS = 512  # builds of the problem the exact solve may take
CHECKS = ((1, 2, 3), (3, 1, 2), (2, 3, 1))  # off-grid moves, every size at once


@dataclass(frozen=True)
class Term:
    """``coefficient`` x the product of each variable to its power."""

    coefficient: Fraction
    powers: tuple[tuple[SizeExpr, int], ...]


@dataclass(frozen=True)
class Polynomial:
    """A sum of terms, each a product of sizes: fitted (fit_flops), or built by arithmetic
    on sizes (``Polynomial.of(size) * 2 + ...``), as torch's FLOP formulas do to a call's
    shapes (flop_trace.py); like terms are collected, so two sums of the same sizes are
    equal."""

    terms: tuple[Term, ...]

    @classmethod
    def of(cls, size: SizeExpr) -> Polynomial:
        """``size`` alone; a constant one, its number."""
        if not size.dims:
            return _collected([Term(Fraction(size.value({})), ())])
        return cls((Term(Fraction(1), ((size, 1),)),))

    def __add__(self, other: Polynomial | int) -> Polynomial:
        return _collected([*self.terms, *_polynomial(other).terms])

    __radd__ = __add__

    def __mul__(self, other: Polynomial | int) -> Polynomial:
        return _collected([Term(a.coefficient * b.coefficient, a.powers + b.powers)
                           for a in self.terms for b in _polynomial(other).terms])

    __rmul__ = __mul__

    def value(self, sizes: Mapping[str, int]) -> float:
        return float(sum(term.coefficient * math.prod(
            form.value(sizes) ** power for form, power in term.powers) for term in self.terms))

    def render(self, name: Callable[[str], str], width: int = 84) -> str:
        """The polynomial in Python, each dimension spelt by ``name``, a term a line where
        one line is too long for ``width``."""
        def factor(form: SizeExpr, power: int) -> str:
            text = form.render(name)
            if any(op in text for op in (" + ", " - ", " // ")):
                text = f"({text})"
            return text if power == 1 else f"{text} ** {power}"

        parts = []
        for term in self.terms:
            number = term.coefficient
            coefficient = (str(abs(number.numerator)) if number.denominator == 1 else
                           f"{abs(number.numerator)} / {number.denominator}")
            factors = [factor(form, power) for form, power in term.powers]
            first = coefficient if coefficient != "1" or not factors else factors.pop(0)
            parts.append([("- " if number < 0 else "+ ") + first, *factors])
        text = " ".join(" * ".join(part) for part in parts).removeprefix("+ ") or "0"
        if len(text) <= width:
            return text
        lines = []
        for part in parts:  # a term a line, its factors wrapped where it is longer
            line = part[0]
            for factor_text in part[1:]:
                if len(line) + 3 + len(factor_text) > width:
                    lines.append(line + " *")
                    line = "    " + factor_text
                else:
                    line += " * " + factor_text
            lines.append(line)
        return "(\n        " + "\n        ".join(lines).removeprefix("+ ") + "\n    )"


@dataclass(frozen=True)
class Fitted:
    """The polynomial, or None and why not (to finish "no FLOP formula: ..."); ``error``: its
    largest relative miss off the grid (0: exact there too)."""

    polynomial: Polynomial | None
    why: str = ""
    error: float = 0.0


def fit_flops(count: Count, base: Sizes, variables: Sequence[str],
              forms: Mapping[str, Sequence[SizeExpr]]) -> Fitted:
    """The polynomial over ``variables`` (dimensions) that agrees with ``count`` around
    ``base`` (every dimension's size) and off its grid; ``forms``: each variable's tensor
    sizes that follow no other variable, the first that the off-grid checks agree with being
    its variable (itself where none does), their strides the least step along it."""
    at0 = count(base)
    if at0 is None:
        return Fitted(None, "the problem does not build where the work was counted")
    steps: dict[str, int] = {}
    degrees: dict[str, int] = {}
    for variable in variables:
        found = _degree(count, base, variable, _stride(variable, forms))
        if found is None:
            return Fitted(None, f"torch's count is no polynomial of {variable} of degree "
                                f"{MAX_DEGREE} or less, at any step tried")
        steps[variable], degrees[variable] = found
    if math.prod(d + 1 for d in degrees.values()) > MAX_POINTS:
        return Fitted(None, "too many sizes to count it at")
    grid = {v: [base[v] + k * steps[v] for k in range(degrees[v] + 1)] for v in variables}
    counts: dict[tuple[int, ...], int] = {}
    for point in itertools.product(*grid.values()):
        value = count({**base, **dict(zip(variables, point, strict=True))})
        if value is None:
            return Fitted(None, "the problem does not build at some of the sizes counted")
        counts[point] = value
    chosen = _forms(count, base, variables, forms, grid, counts)
    polynomial = _solve(variables, chosen, grid, counts, base)
    error = 0.0
    for moves in _checks(variables):
        sizes = {**base, **{v: base[v] + m for v, m in zip(variables, moves, strict=True)}}
        counted = count(sizes)
        if counted:
            error = max(error, abs(polynomial.value(sizes) - counted) / counted)
            if error > NEAR:
                return Fitted(None, f"the polynomial fitted on a grid of sizes misses torch's "
                                    f"count at {_named(sizes, variables)} ({counted:.4g} "
                                    "FLOPs)")
    return Fitted(polynomial, error=error)


def _stride(variable: str, forms: Mapping[str, Sequence[SizeExpr]]) -> int:
    """The least step along ``variable`` over which each of its forms is affine."""
    return math.lcm(1, *(form.divisor for form in forms.get(variable, ())))


def _degree(count: Count, base: Sizes, variable: str, stride: int) -> tuple[int, int] | None:
    """(the step, the degree) of the count along ``variable``: the least degree whose next
    finite difference vanishes, at the first step that shows one."""
    for widening in WIDENINGS:
        step = stride * widening
        values = [count({**base, variable: base[variable] + k * step})
                  for k in range(MAX_DEGREE + 2)]
        if any(v is None for v in values):
            return None
        differences = [int(v or 0) for v in values]
        for degree in range(MAX_DEGREE + 1):
            differences = [b - a for a, b in itertools.pairwise(differences)]
            if all(d == 0 for d in differences):
                return step, degree
    return None


def _forms(count: Count, base: Sizes, variables: Sequence[str],
           forms: Mapping[str, Sequence[SizeExpr]], grid: Mapping[str, list[int]],
           counts: Mapping[tuple[int, ...], int]) -> dict[str, SizeExpr]:
    """Each variable's form: the first of itself and its tensors' forms whose polynomial, the
    others held at the base, agrees with the count off the grid."""
    chosen = {v: SizeExpr.of(v) for v in variables}
    for variable in variables:
        candidates = [SizeExpr.of(variable), *forms.get(variable, ())]
        step = grid[variable][1] - grid[variable][0] if len(grid[variable]) > 1 else 1
        if step == 1 or len(candidates) == 1:
            continue
        off = [base[variable] + k for k in range(1, 2 * step) if k % step]
        expected = [count({**base, variable: size}) for size in off]
        for form in candidates:
            trial = {**chosen, variable: form}
            polynomial = _solve(variables, trial, grid, counts, base)
            if all(e is None or polynomial.value({**base, variable: size}) == e
                   for size, e in zip(off, expected, strict=True)):
                chosen[variable] = form
                break
    return chosen


def _solve(variables: Sequence[str], chosen: Mapping[str, SizeExpr],
           grid: Mapping[str, list[int]], counts: Mapping[tuple[int, ...], int],
           base: Sizes) -> Polynomial:
    """The polynomial in the chosen forms through every grid point's count, solved exactly:
    a Vandermonde system along each variable in turn (the grid is a product of lines)."""
    table: dict[tuple[int, ...], Fraction] = {
        tuple(grid[v].index(size) for v, size in zip(variables, point, strict=True)):
            Fraction(value) for point, value in counts.items()}
    for axis, variable in enumerate(variables):
        xs = [Fraction(chosen[variable].value({**base, variable: size}))
              for size in grid[variable]]
        inverse = _inverse_vandermonde(xs)
        solved: dict[tuple[int, ...], Fraction] = {}
        for index in table:
            power = index[axis]
            solved[index] = sum((inverse[power][k] * table[(*index[:axis], k,
                                                             *index[axis + 1:])]
                                 for k in range(len(xs))), Fraction(0))
        table = solved
    terms = [Term(coefficient, tuple((chosen[v], p) for v, p in zip(variables, powers,
                                                                        strict=True) if p))
             for powers, coefficient in table.items() if coefficient]
    return Polynomial(_ordered(terms))


def _ordered(terms: list[Term]) -> tuple[Term, ...]:
    """The highest degree first, then by the sizes' strides (a network's stages in order)
    and names."""
    return tuple(sorted(terms, key=lambda t: (-sum(p for _, p in t.powers),
                                              [(f.divisor, f.render(str)) for f, _ in t.powers])))


def _polynomial(value: Polynomial | int) -> Polynomial:
    return value if isinstance(value, Polynomial) else _collected([Term(Fraction(value), ())])


def _collected(terms: list[Term]) -> Polynomial:
    """``terms`` with each one's equal sizes made one power and like terms summed (a term
    of no size its number), none of them zero."""
    summed: dict[tuple[tuple[SizeExpr, int], ...], Fraction] = {}
    for term in terms:
        powers: dict[SizeExpr, int] = {}
        for form, power in term.powers:
            powers[form] = powers.get(form, 0) + power
        key = tuple(sorted(powers.items(), key=lambda item: (item[0].divisor,
                                                             item[0].render(str))))
        summed[key] = summed.get(key, Fraction(0)) + term.coefficient
    return Polynomial(_ordered([Term(coefficient, powers)
                                for powers, coefficient in summed.items() if coefficient]))


def _inverse_vandermonde(xs: list[Fraction]) -> list[list[Fraction]]:
    """The inverse of the matrix V[k][p] = xs[k] ** p, by Gauss-Jordan in rationals: row p of
    the inverse maps the values at xs to the coefficient of x ** p."""
    n = len(xs)
    rows = [[x ** p for p in range(n)] + [Fraction(int(i == k)) for i in range(n)]
            for k, x in enumerate(xs)]
    for column in range(n):
        pivot = next(r for r in range(column, n) if rows[r][column] != 0)
        rows[column], rows[pivot] = rows[pivot], rows[column]
        lead = rows[column][column]
        rows[column] = [value / lead for value in rows[column]]
        for r in range(n):
            if r != column and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[column], strict=True)]
    return [row[n:] for row in rows]


def _checks(variables: Sequence[str]) -> list[tuple[int, ...]]:
    return [tuple(moves[i % len(moves)] for i in range(len(variables))) for moves in CHECKS]


def _named(sizes: Mapping[str, int], variables: Sequence[str]) -> str:
    return ", ".join(f"{v} = {sizes[v]}" for v in variables)
