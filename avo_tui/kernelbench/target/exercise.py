"""Inputs that exercise the operation: where the problem's own draw leaves an operation idle,
the importer draws its inputs otherwise, and says so.

KernelBench draws most inputs with ``torch.rand``, every value in [0, 1): a ReLU of them never
acts, so a kernel that copies its input passes; an L1 norm's ``abs`` never acts; a cumulative
product of 32,768 of them is zero from its first few hundred terms on, so a kernel that writes
zeros passes. The forward is run for real, at small sizes, on inputs drawn by their rules
(value_rules.py), watching every operation that acts on one side of a threshold only (a ReLU
and its kin, abs, sign, a clamp, a comparison, a maximum) and every product along a line:

- an operation whose operand lies on one side of its threshold, but for less than
  ACTS_SHARE of it, gets the inputs that flow into it centred on zero (uniform on [0, 1)
  becomes uniform on [-1, 1), positive becomes normal), then widened (x 2, x 4, x 8) while it
  still does not act so (a hinge loss's ``clamp(1 - p * t, min=0)``; a ReLU of ``linear(x)
  - 2``);
- a product whose line, at the timed sizes, takes its values past e^+-LOG_REACH (a mean log of
  its terms times the line's length) collapses to zero or overflows: its inputs are drawn near
  one, the more so the longer the line (uniform on 1 +- 1/sqrt(n): n terms keep a product of
  order one);

then the forward is run again on the widened rules: where it is no longer finite (a log of the
widened values), the inputs whose change does that keep the problem's own rule. The problem's
own draw stays one of the target's input cases (own_draw.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ..problem.problem_module import KernelBenchProblem
from .value_rules import Drawn

# Operations that act on one side of a threshold only, and where that threshold lies: zero,
# or taken from an argument.
AT_ZERO = ("relu", "leaky_relu", "elu", "selu", "celu", "rrelu", "abs", "sign", "sgn",
           "prelu", "gelu", "silu", "mish")
CLAMPS = ("clamp", "clamp_min", "clamp_max", "hardtanh", "threshold", "hardsigmoid",
          "hardswish")
COMPARISONS = ("gt", "lt", "ge", "le", "maximum", "minimum", "fmax", "fmin")
PRODUCTS = ("prod", "cumprod")
HARD_RANGE = (-3.0, 3.0)  # where hardsigmoid and hardswish bend
WIDENINGS = (1.0, 2.0, 4.0, 8.0)  # centred, then twice, four and eight times as wide
# The share of its operand an operation must see on each side of its threshold to act: a thin
# band (a ReLU of y - 2 with y near 2 in one value of a thousand) leaves rows whose output is
# a difference of near-equal values, which float32 keeps to a few digits only.
ACTS_SHARE = 0.05
# How far from one a product may reach at the end of its line, as a natural log: past it the
# line's last values are zero or huge beside its first, and checked against nothing.
LOG_REACH = 20.0
CHECK_DRAWS = 2


@dataclass(frozen=True)
class Event:
    """One watched operation: its name, the inputs (by position) its operand flows from,
    whether it acted; for a product the length of its line and the mean log of its terms'
    magnitudes (how far the product moves from one each term)."""

    op: str
    sources: frozenset[int]
    acted: bool
    line: int = 0
    log_step: float = 0.0

    def reach(self, line: int) -> float:
        """How far a product of ``line`` terms reaches from one, as a natural log."""
        return abs(self.log_step) * line


@dataclass(frozen=True)
class Exercised:
    """Each input's rule, changed where an operation never acted; and why, for each changed
    one (its position, the words)."""

    rules: tuple[Drawn, ...]
    why: dict[int, str]


def exercised(problem: KernelBenchProblem, small: Mapping[str, int],
              timed: Mapping[str, int], rules: Sequence[Drawn]) -> Exercised:
    """``rules`` (each input's, in order) changed where the forward, run at the ``small``
    sizes on inputs drawn by them, leaves an operation idle; products sized by their lines at
    the ``timed`` sizes."""
    run = _Runs(problem, small)
    events = run(rules)
    lines = {e.op: e.line for e in _meta_events(problem, timed) if e.op in PRODUCTS} if any(
        e.op in PRODUCTS for e in events) else {}
    idle = [e for e in events if not e.acted or (
        e.op in PRODUCTS and e.reach(lines.get(e.op, e.line)) > LOG_REACH)]
    if not idle:
        return Exercised(tuple(rules), {})
    changed = list(rules)
    why: dict[int, str] = {}
    for event in idle:
        sources = [i for i in sorted(event.sources) if rules[i].kind != "integers"]
        if event.op in PRODUCTS:
            line = lines.get(event.op, event.line)
            half = min(0.5, 1 / math.sqrt(max(line, 1)))
            for i in sources:
                changed[i] = Drawn("uniform", _round(1 - half), _round(1 + half),
                                   rules[i].structure)
                why[i] = (f"its {event.op} over lines of {line} reaches e^"
                          f"{event.log_step * line:.3g} on the problem's own draw (a kernel "
                          "writing zeros, or one overflowing, would pass): values near one")
            continue
        for factor in WIDENINGS:
            trial = [rule.centred().widened(factor) if i in sources else rule
                     for i, rule in enumerate(changed)]
            if _acts(run(trial), event):
                changed = trial
                wider = "" if factor == 1 else f", {factor:g} times as wide"
                for i in sources:
                    why[i] = (f"its {event.op} sees under {ACTS_SHARE:.0%} of its values on "
                              "one side of its threshold on the problem's own draw (a kernel "
                              "wrong on that side, or leaving it out, would pass): both "
                              f"signs{wider}")
                break
    for i in list(why):  # a change that makes the forward not finite is undone
        if not run.finite(changed):
            trial = [*changed[:i], rules[i], *changed[i + 1:]]
            if run.finite(trial):
                changed = trial
                del why[i]
    if not run.finite(changed):
        return Exercised(tuple(rules), {})
    return Exercised(tuple(changed), why)


def _acts(events: list[Event], idle: Event) -> bool:
    return any(e.op == idle.op and e.sources == idle.sources and e.acted for e in events)


class _Runs:
    """The forward run at ``small`` sizes on inputs drawn by rules (integer inputs as the
    problem draws them), its model built once, under a fixed seed."""

    def __init__(self, problem: KernelBenchProblem, small: Mapping[str, int]) -> None:
        self.problem = problem
        module = problem.module
        with problem.sizes_set(small):
            torch.manual_seed(0)
            self.model = module.Model(*getattr(module, "get_init_inputs", list)())
            self.own = list(module.get_inputs())

    def inputs(self, rules: Sequence[Drawn], seed: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        return [own if not own.is_floating_point() else
                rule.sample(own.shape, generator).to(own.dtype)
                for own, rule in zip(self.own, rules, strict=True)]

    def __call__(self, rules: Sequence[Drawn]) -> list[Event]:
        """The watched operations of CHECK_DRAWS runs (an operation that acted in any, acted)."""
        events: list[Event] = []
        for seed in range(CHECK_DRAWS):
            watch = _Watch(self.inputs(rules, seed))
            with torch.no_grad(), watch:
                self._forward(watch.inputs)
            events += watch.events
        merged: dict[tuple[str, frozenset[int]], Event] = {}
        for e in events:
            key = (e.op, e.sources)
            merged[key] = e if key not in merged or e.acted else merged[key]
        return list(merged.values())

    def finite(self, rules: Sequence[Drawn]) -> bool:
        for seed in range(CHECK_DRAWS):
            with torch.no_grad():
                out = self._forward(self.inputs(rules, seed))
            leaves, _ = tree_flatten(out)
            if not all(bool(torch.isfinite(t).all()) for t in leaves
                       if isinstance(t, torch.Tensor) and t.is_floating_point()):
                return False
        return True

    def _forward(self, inputs: list[torch.Tensor]) -> Any:
        self.problem.tick()
        state = {name: buffer.clone() for name, buffer in self.model.named_buffers()}
        return torch.func.functional_call(self.model, state, tuple(inputs))


def _meta_events(problem: KernelBenchProblem, sizes: Mapping[str, int]) -> list[Event]:
    """The watched operations at ``sizes`` on the meta device: their lines' lengths."""
    try:
        with problem.sizes_set(sizes), torch.device("meta"):
            module = problem.module
            model = module.Model(*getattr(module, "get_init_inputs", list)())
            watch = _Watch(list(module.get_inputs()), values=False)
            with watch:
                model(*watch.inputs)
    except Exception:  # the timed lines refine the small run's, which stand without them
        return []
    return watch.events


class _Watch(TorchDispatchMode):
    """Follows which inputs flow into each tensor the forward computes, and records the
    watched operations (``values``: whether each acted, read off real values)."""

    def __init__(self, inputs: list[torch.Tensor], values: bool = True) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.inputs = inputs
        self.values = values
        self.sources: dict[int, frozenset[int]] = {id(t): frozenset((i,))
                                                   for i, t in enumerate(inputs)}
        self.alive: list[Any] = list(inputs)  # so that no id is reused while watched
        self.events: list[Event] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        leaves, _ = tree_flatten((args, kwargs))
        sources = frozenset().union(*(self.sources.get(id(t), frozenset()) for t in leaves
                                      if isinstance(t, torch.Tensor)))
        name = func.overloadpacket.__name__.removesuffix("_")
        operand = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if sources and operand is not None and operand.is_floating_point() and (
                name in AT_ZERO + CLAMPS + COMPARISONS + PRODUCTS):
            self.events.append(Event(name, sources, self._acted(name, args, kwargs, out),
                                     _line(name, operand, args), self._log_step(name, operand)))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self.sources[id(tensor)] = self.sources.get(id(tensor), frozenset()) | sources
                self.alive.append(tensor)
        return out

    def _acted(self, name: str, args: Any, kwargs: Any, out: Any) -> bool:
        if not self.values:
            return True
        x = args[0].double()
        if name in PRODUCTS:
            return bool(torch.isfinite(out).all())
        if name in COMPARISONS:
            other = args[1] if len(args) > 1 else kwargs.get("other")
            side = x < other if isinstance(other, torch.Tensor | float | int) else x < 0
        else:
            low, high = _range(name, args, kwargs)
            side = (x < low) | (x > high) if low != high else x < low
        share = float(side.double().mean()) if side.numel() else 0.0
        return min(share, 1 - share) >= ACTS_SHARE


    def _log_step(self, name: str, operand: torch.Tensor) -> float:
        if name not in PRODUCTS or not self.values or not operand.numel():
            return 0.0
        return float(operand.double().abs().clamp_min(1e-300).log().mean())


def _range(name: str, args: Any, kwargs: Any) -> tuple[float, float]:
    """Where the operation passes its operand through unchanged or acts (a clamp's bounds;
    a single threshold as (t, t))."""
    def arg(position: int, key: str, default: float) -> float:
        value = args[position] if len(args) > position else kwargs.get(key)
        return default if value is None else float(value)

    if name in AT_ZERO:
        return 0.0, 0.0
    if name in ("hardsigmoid", "hardswish"):
        return HARD_RANGE
    if name == "threshold":
        value = arg(1, "threshold", 0.0)
        return value, value
    if name == "hardtanh":
        return arg(1, "min_val", -1.0), arg(2, "max_val", 1.0)
    if name == "clamp_min":
        return arg(1, "min", -math.inf), math.inf
    if name == "clamp_max":
        return -math.inf, arg(1, "max", math.inf)
    return arg(1, "min", -math.inf), arg(2, "max", math.inf)


def _line(name: str, operand: torch.Tensor, args: Any) -> int:
    """The length of a product's line: its dim's, or every element's."""
    if name not in PRODUCTS:
        return 0
    if len(args) > 1 and isinstance(args[1], int):
        return int(operand.shape[args[1]]) if operand.dim() else 1
    return operand.numel()


def _round(value: float) -> float:
    return float(f"{value:.3g}")

