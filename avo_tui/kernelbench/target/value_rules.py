"""How the harness should draw each input of an imported target, read off the problem's own
tensors, built for real on the CPU under fixed seeds, as the problem makes them.

A rule keeps what the problem's draws show: their range where they are flat (``torch.rand``
is Uniform(0.0, 1.0), ``0.5 + torch.rand`` Uniform(0.5, 1.5), a Linear weight's uniform on
[-b, b], b = 1/sqrt(fan_in)), their scale and mean where they are not (``4.0 *
torch.randn`` is Normal(4.0)), their sign (a tensor whose every value is positive stays
positive, whatever its size: a running variance under a square root, ``torch.rand + 0.1``
under a log), and the structure of a matrix (symmetric, upper or lower triangular,
diagonal: Structured). A tensor of few values (a BatchNorm's 32 running variances) is read
over several draws (the model built under other seeds, each at the timed sizes, so only
until LEAST_VALUES of a varying tensor are seen), up to DRAWS. A constant (LayerNorm's
scale of ones) is drawn around it, never constant (a kernel that ignored a weight of ones
would pass): a positive one positive, of that scale; zero or a negative one standard normal.

Rules are Drawn values here, written into the target file as the rule call it makes
(``Uniform(0.0, 1.0)``; None: standard normal); exercise.py widens some so that every
operation acts, and samples them (Drawn.sample) to see that it does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from ..problem.problem_module import KernelBenchProblem

DRAWS = 32  # draws of a tensor at most, until ENOUGH values are seen
ENOUGH = 4096  # values that tell a scale within a few percent (an input's, drawn small)
LEAST_VALUES = 64  # fewer values say too little of their distribution's shape
REDRAWN_VALUES = 10_000_000  # draws stop past this many values (a large model's weights)
FLAT_SLACK = 0.1  # how far a sample's spread and centre may be from a uniform's and read flat
STANDARD_SLACK = 0.1  # a mean and a std this close to 0 and 1 read as standard normal
POSITIVE_MEAN = math.sqrt(2 / math.pi)  # |standard normal|'s mean: Positive's scale from a mean
STRUCTURES = ("diagonal", "symmetric", "upper", "lower")  # the most particular first
SIGNIFICANT = 3  # digits a scale, a mean or a bound is written with
SNAP = 0.03  # a uniform's bound this close to a round number (a share of its span) is that


@dataclass(frozen=True)
class Drawn:
    """A rule: ``kind`` normal (``a`` the std, ``b`` the mean), uniform (on [a, b)),
    positive (``a`` the scale) or integers (on [a, b)); each matrix made ``structure``
    (values.STRUCTURES) where one is named."""

    kind: str
    a: float = 1.0
    b: float = 0.0
    structure: str | None = None

    def render(self) -> str | None:
        """The rule call the target file writes; None for standard normal."""
        if self.kind == "integers":
            return f"Integers({int(self.a)}, {int(self.b)})"
        if self.kind == "uniform":
            rule: str | None = f"Uniform({self.a!r}, {self.b!r})"
        elif self.kind == "positive":
            rule = f"Positive({self.a!r})"
        elif (self.a, self.b) == (1.0, 0.0):
            rule = None
        else:
            rule = f"Normal({self.a!r}, {self.b!r})" if self.b else f"Normal({self.a!r})"
        if self.structure is None:
            return rule
        of = "" if rule is None else f", {rule}"
        return f"Structured({self.structure!r}{of})"

    def centred(self) -> Drawn:
        """The rule of the same scale around zero: both signs."""
        if self.kind == "uniform":
            bound = max(abs(self.a), abs(self.b))
            return dataclasses.replace(self, a=-bound, b=bound)
        if self.kind == "positive":
            return dataclasses.replace(self, kind="normal", a=self.a, b=0.0)
        if self.kind == "normal":
            return dataclasses.replace(self, a=_rounded(math.hypot(self.a, self.b)), b=0.0)
        return self

    def widened(self, factor: float) -> Drawn:
        """The rule with every value ``factor`` times as far from zero."""
        if self.kind in ("uniform", "normal"):
            return dataclasses.replace(self, a=self.a * factor, b=self.b * factor)
        if self.kind == "positive":
            return dataclasses.replace(self, a=self.a * factor)
        return self

    def sample(self, shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
        """Values drawn by this rule, as the harness's fill (measurement/tensors.py) draws
        them; for the importer's own checks of a rule only."""
        values = torch.empty(tuple(shape), dtype=torch.float64)
        if self.kind == "uniform":
            values.uniform_(self.a, self.b, generator=generator)
        elif self.kind == "positive":
            values.normal_(0.0, 1.0, generator=generator).abs_().add_(1e-3).mul_(self.a)
        elif self.kind == "integers":
            values.random_(int(self.a), int(self.b), generator=generator)
        else:
            values.normal_(self.b, self.a, generator=generator)
        if self.structure == "symmetric":
            values = (values + values.mT) / 2
        elif self.structure == "upper":
            values = values.triu()
        elif self.structure == "lower":
            values = values.tril()
        elif self.structure == "diagonal":
            values = torch.diag_embed(torch.diagonal(values, dim1=-2, dim2=-1))
        return values


STANDARD = Drawn("normal")
K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class Rules:
    """Each input's rule (in order) and each weight's (by its name in the model)."""

    inputs: tuple[Drawn, ...]
    weights: dict[str, Drawn]


def value_rules(problem: KernelBenchProblem, small: Mapping[str, int],
                timed: Mapping[str, int], ranges: Mapping[int, tuple[int, int]]) -> Rules:
    """The rule of each input, read off the problem's get_inputs() at the ``small`` sizes (a
    GPU problem's own could fill a CPU's memory), an integer input's its range in ``ranges``
    (integer_inputs.py, by its position); and of each weight (by its name in the model), read
    off the model built at the ``timed`` ones (a bound follows the fan-in)."""
    module = problem.module

    def inputs(seed: int) -> list[torch.Tensor]:
        with problem.sizes_set(small):
            torch.manual_seed(seed)
            return [t for t in module.get_inputs()]

    def weights(seed: int) -> dict[str, torch.Tensor]:
        with problem.sizes_set(timed):
            torch.manual_seed(seed)
            model = module.Model(*getattr(module, "get_init_inputs", list)())
        named = dict(model.named_parameters())
        named.update((n, b) for n, b in model.named_buffers() if b.is_floating_point())
        return {name: tensor.detach() for name, tensor in named.items()}

    drawn = _draws(inputs, lambda values: list(enumerate(values)), ENOUGH)
    built = _draws(weights, lambda values: list(values.items()), LEAST_VALUES)
    return Rules(
        tuple(Drawn("integers", *ranges[i]) if i in ranges else _rule(drawn[i])
              for i in range(len(drawn))),
        {name: _rule(samples, structured=False) for name, samples in built.items()})


def _draws(draw: Callable[[int], T], items: Callable[[T], list[tuple[K, torch.Tensor]]],
           enough: int) -> dict[K, list[torch.Tensor]]:
    """Each tensor's draws, by key: the first, and more (DRAWS at most) while a floating one
    that varies has fewer than ``enough`` values seen free (a diagonal's), until
    REDRAWN_VALUES values are drawn in all. A constant (a running variance of ones) is told
    by one draw."""
    seen: dict[K, list[torch.Tensor]] = {}
    free: dict[K, int] = {}
    total = 0
    for seed in range(DRAWS):
        drawn = items(draw(seed))
        for key, tensor in drawn:
            seen.setdefault(key, []).append(tensor)
            if tensor.is_floating_point() and tensor.numel() and bool(
                    (tensor != tensor.flatten()[0]).any()):
                free[key] = free.get(key, 0) + _free(tensor, _structure([tensor])).numel()
        total += sum(t.numel() for _, t in drawn)
        if total > REDRAWN_VALUES or all(count >= enough for count in free.values()):
            break
    return seen


def _rule(samples: list[torch.Tensor], structured: bool = True) -> Drawn:
    """The rule of a tensor from its draws (standard normal for an integer one: its rule is
    its range, read elsewhere)."""
    if not samples[0].is_floating_point():
        return STANDARD
    structure = _structure(samples) if structured else None
    values = torch.cat([_free(s, structure).double().flatten() for s in samples])
    if not values.numel() or not bool(torch.isfinite(values).all()):
        return STANDARD
    low, high = float(values.min()), float(values.max())
    if low == high:  # a constant: drawn around it
        rule = Drawn("positive", _rounded(low)) if low > 0 else STANDARD
        return dataclasses.replace(rule, structure=structure)
    mean, std = float(values.mean()), float(values.std())
    if values.numel() >= LEAST_VALUES and _flat(mean, std, low, high, structure):
        if structure == "symmetric":  # the average of two draws: half the variance
            low, high = mean - math.sqrt(6) * std, mean + math.sqrt(6) * std
        lower, upper = _bounds(low, high, values.numel())
        return Drawn("uniform", lower, upper, structure)
    if low > 0:
        return Drawn("positive", _rounded(mean / POSITIVE_MEAN), structure=structure)
    if abs(mean) <= STANDARD_SLACK * std and abs(std - 1) <= STANDARD_SLACK:
        return dataclasses.replace(STANDARD, structure=structure)
    error = 3 * std / math.sqrt(values.numel())  # three standard errors of the mean
    return Drawn("normal", _rounded(std, error), _rounded(mean, error) if abs(mean) > error
                 else 0.0, structure)


def _flat(mean: float, std: float, low: float, high: float, structure: str | None) -> bool:
    """Whether values of this mean, spread and range read as uniform on it: centred on its
    middle, and spread as a uniform is (a symmetric matrix averages two values, keeping the
    range and the middle but not the spread: the middle is all it is read by)."""
    span = high - low
    centred = abs(mean - (low + high) / 2) <= FLAT_SLACK * span
    if structure == "symmetric":
        return centred
    return centred and abs(std / (span / math.sqrt(12)) - 1) <= FLAT_SLACK


def _structure(samples: list[torch.Tensor]) -> str | None:
    """The structure every draw's matrices (the last two dimensions, 2 x 2 or more) have, the
    most particular first; None where they have none."""
    if any(s.dim() < 2 or min(s.shape[-2:]) < 2 for s in samples):
        return None
    square = all(s.shape[-1] == s.shape[-2] for s in samples)
    tests: dict[str, Callable[[torch.Tensor], bool]] = {
        "diagonal": lambda s: square and torch.equal(
            s, torch.diag_embed(torch.diagonal(s, dim1=-2, dim2=-1))),
        "symmetric": lambda s: square and torch.equal(s, s.mT),
        "upper": lambda s: torch.equal(s, s.triu()),
        "lower": lambda s: torch.equal(s, s.tril()),
    }
    return next((name for name in STRUCTURES if all(tests[name](s) for s in samples)), None)


def _free(tensor: torch.Tensor, structure: str | None) -> torch.Tensor:
    """The values a structure leaves free (its zeros aside; a symmetric matrix's upper
    triangle), whose distribution the rule draws."""
    if structure is None:
        return tensor
    if structure == "diagonal":
        return torch.diagonal(tensor, dim1=-2, dim2=-1)
    rows, cols = tensor.shape[-2:]
    mask = torch.ones(rows, cols, dtype=torch.bool)
    mask = mask.tril() if structure == "lower" else mask.triu()
    return tensor[..., mask]


def _bounds(low: float, high: float, count: int) -> tuple[float, float]:
    """A uniform's bounds from the least and the most of ``count`` values: each moved out by
    the gap expected beyond it (a span over count - 1), and where that is within a hundredth
    SNAP of the span of a round number (a tenth of the span's magnitude), that number: 0.0001
    and 0.9999 of 4096 values read [0, 1), a Linear weight's +-0.1249 reads +-0.125."""
    span = high - low
    gap = span / max(count - 1, 1)
    quantum = 10.0 ** (math.floor(math.log10(span)) - 1)

    def snapped(value: float) -> float:
        nearest = round(value / quantum) * quantum
        return _rounded(nearest) if abs(value - nearest) <= SNAP * span else _rounded(value)

    return snapped(low - gap), snapped(high + gap)


def _rounded(value: float, error: float = 0.0) -> float:
    """``value`` to SIGNIFICANT digits, or to one or two where that is within SNAP of it or
    within ``error`` (a sample's std of 3.98 reads the problem's 4.0, its mean of 1.94 the
    problem's 2.0)."""
    if value == 0:
        return 0.0
    for digits in (1, 2):
        nearest = float(f"{value:.{digits}g}")
        if abs(nearest - value) <= max(SNAP * abs(value), error):
            return nearest
    return float(f"{value:.{SIGNIFICANT}g}")
