"""How the harness draws an input's values: the rules a target file may give an Input
(``values=``), standard normal where it gives none.

A problem whose inputs must be positive (a log, a square root), lie in a range (KernelBench's
``torch.rand``), be integers (indices, token ids), be structured matrices (symmetric,
triangular) or be given (a lookup table) says so here;
every launch still gets values never seen before, drawn by the harness from its own generator
(a given tensor is the one exception: it is the same on every launch, so a target needs at
least one drawn input). Hostile input cases (Target.cases) change the drawn values after the
rule has filled them.

Standard library only: the parent process reads a target file without torch. The filling
itself is tensors.fill's, in the worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class ValueRuleError(ValueError):
    """A rule that cannot draw anything, in one line."""


@dataclass(frozen=True)
class Normal:
    """Normal values: ``mean`` + ``std`` x a standard normal draw."""

    std: float = 1.0
    mean: float = 0.0

    def __post_init__(self) -> None:
        _finite("Normal's mean", self.mean)
        if not (_finite("Normal's std", self.std) and self.std > 0):
            raise ValueRuleError(f"Normal's std is {self.std}, not a positive number")

    def words(self) -> str:
        if (self.mean, self.std) == (0.0, 1.0):
            return "standard normal"
        return f"normal, mean {self.mean:g}, std {self.std:g}"


@dataclass(frozen=True)
class Uniform:
    """Values uniform on [low, high)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _finite("Uniform's low", self.low)
        _finite("Uniform's high", self.high)
        if not self.low < self.high:
            raise ValueRuleError(f"Uniform({self.low:g}, {self.high:g}): low must be below high")

    def words(self) -> str:
        return f"uniform on [{self.low:g}, {self.high:g})"


# Positive's values stay this far above zero, relative to its scale: a log or a reciprocal of
# the inputs is finite and its honest error meaningful, while values still span three decades.
POSITIVE_FLOOR = 1e-3


@dataclass(frozen=True)
class Positive:
    """Strictly positive values: ``scale`` x (|standard normal| + POSITIVE_FLOOR)."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (_finite("Positive's scale", self.scale) and self.scale > 0):
            raise ValueRuleError(f"Positive's scale is {self.scale}, not a positive number")

    def words(self) -> str:
        scale = "" if self.scale == 1.0 else f" x {self.scale:g}"
        return f"positive (|standard normal| + {POSITIVE_FLOOR:g}){scale}"


@dataclass(frozen=True)
class Integers:
    """Whole numbers uniform on [low, high): indices, token ids, small counts; in a float
    tensor they are whole floats."""

    low: int
    high: int

    def __post_init__(self) -> None:
        for what, value in (("low", self.low), ("high", self.high)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueRuleError(f"Integers' {what} is {value!r}, not an int")
        if not self.low < self.high:
            raise ValueRuleError(f"Integers({self.low}, {self.high}): low must be below high "
                                 "(high is excluded)")

    def words(self) -> str:
        return f"integers in [{self.low}, {self.high})"


@dataclass(frozen=True)
class FromFile:
    """A given tensor, saved with ``torch.save`` in a file beside the target file (``path``
    relative to it): the same values on every launch, in the input's shape and dtype."""

    path: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ValueRuleError(f"FromFile's path is {self.path!r}, not a file name")

    def words(self) -> str:
        return f"given, from {self.path}"


# What Structured makes of each matrix (the last two dimensions) of its values.
STRUCTURES = {
    "symmetric": "averaged with its transpose",
    "upper": "upper triangular (zero below the diagonal)",
    "lower": "lower triangular (zero above the diagonal)",
    "diagonal": "diagonal (zero off it)",
}


@dataclass(frozen=True)
class Structured:
    """Values drawn by ``of`` (None: standard normal), then each matrix of the last two
    dimensions made ``structure`` (STRUCTURES): symmetric, upper or lower triangular, or
    diagonal, as a problem promises of its inputs (a product of symmetric matrices) and a
    kernel may rely on. A symmetric or diagonal one is square."""

    structure: str
    of: Normal | Uniform | Positive | None = None

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise ValueRuleError(f"Structured's structure is {self.structure!r}, not one of "
                                 f"{', '.join(STRUCTURES)}")
        if self.of is not None and not isinstance(self.of, Normal | Uniform | Positive):
            raise ValueRuleError(f"Structured draws its values by Normal, Uniform or "
                                 f"Positive, not {self.of!r}")

    @property
    def square(self) -> bool:
        return self.structure in ("symmetric", "diagonal")

    def words(self) -> str:
        of = "standard normal" if self.of is None else self.of.words()
        return f"{of}, each matrix {STRUCTURES[self.structure]}"


ValueRule = Normal | Uniform | Positive | Integers | FromFile | Structured


def _finite(what: str, value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueRuleError(f"{what} is {value!r}, not a finite number")
    return True
