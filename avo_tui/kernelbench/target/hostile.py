"""The hostile input cases an imported target is checked under, found by running the forward.

The forward is run for real, on the CPU, at small sizes, under a dispatch mode that records
the operations whose plain kernels break on inputs a friendly draw never makes:

- a softmax, log-softmax, log-sum-exp or attention: its logits past float32 exp's range
  (about 88), by a common offset (``offset_logits``) and by their spread (``large_logits``): a
  kernel that does not subtract the row's maximum overflows;
- an argmax, argmin, or max or min with indices: exact ties (``ties``), where torch returns
  the first index;
- a LayerNorm, GroupNorm, BatchNorm on batch statistics, a variance or a standard deviation:
  rows with a large mean against a small spread (``large_mean``), where statistics taken in one
  float32 pass lose every digit;
- an integer input: the least and the most value of its range (``extremes``);
- an elementwise exponential or a ratio of them (a sigmoid, a tanh, a softplus): its inputs
  as large as the float32 forward stays honest at (``large_magnitude``), where a sigmoid
  written exp(x) / (1 + exp(x)) is inf / inf;
- a max pooling or a padding: every value it reads negative (``negative_borders``), where one
  that pads with 0 instead of -inf is wrong at every border;
- every floating argument of the forward: negated and scaled up as far as the reference
  stays finite (``mirrored``), where a kernel right only for positive or small inputs fails.

The operations are recorded by recorded_ops.py, by their aten names; reductions, scans and
norms are checked at the problem's longest row instead (own_lengths.py).

Each case is a change to the kernel's inputs (one of the forward's arguments, or one of the
model's weights), tried on each input in turn at a few strengths. One is kept when it makes
the operation's own input hostile, measured there (every row's maximum at 100 or more; ties
in most rows; a mean 50 times the spread), while the float64 reference stays finite and the
float32 forward (the honest computation) stays within HONEST_LIMIT of it: a case the honest
computation fails would refuse the target, and one it barely survives would widen the
tolerance it sets. What cannot be made hostile through the inputs (the logits of a product of
two computed tensors that an offset on either leaves bounded) gets no case, and the import
says so.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from ..problem.problem_module import KernelBenchProblem, Sizes
from .recorded_ops import Recorder, Seen
from .target_writer import Case

# How far the honest (float32) forward may be from the float64 one under a case: a relative L2
# error over each float output (an integer output must be equal). The tolerance is a multiple
# of that error; past this, a case would loosen the check it is there to sharpen.
HONEST_LIMIT = 2e-4
EXP_OVERFLOW = 100.0  # a logit float32 exp() overflows on (at about 88.7) if nothing subtracts it
TIES_SHARE = 0.5  # of the rows, where the extreme value must be taken at least twice
MEAN_OVER_SPREAD = 50.0  # |mean| / standard deviation of a normalised group, at the least
SECONDS = 20.0  # the probes' budget, all cases together; what it leaves untried gets no case

# The strengths tried, in order (the first that is hostile and honest is kept): the weakest
# spread that overflows (a larger one costs the honest computation digits), the strongest mean.
OFFSETS = (150.0, 300.0, 1000.0)
SCALES = (10.0, 30.0, 100.0, 300.0, 1000.0)
MEANS = (1000.0, 300.0, 100.0)  # in standard deviations of the input offset
LARGE = 30.0  # a magnitude where exp(2x) overflows float32 (a tanh as a ratio, at 44)
NEGATIVE_SHARE = 0.9  # of a pooling's inputs, negative
BORDER_SHIFTS = (2.0, 20.0)  # times the input's largest magnitude, subtracted
# The mirror's factors, the first honest one kept: negated and scaled up, else scaled up only.
MIRRORS = (-100.0, -10.0, -1.0, 100.0, 10.0, 1.0)
TIE_LEVELS = 2  # ties are drawn as whole numbers in [-TIE_LEVELS, TIE_LEVELS]


@dataclass
class Found:
    """The cases found, and a line for each family of operations met that got none."""

    cases: list[Case] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Leaf = tuple[str, str]  # ("input", forward argument index as text) or ("weight", model name)


def hostile_cases(problem: KernelBenchProblem, sizes: Sizes, leaves: Mapping[str, Leaf],
                  integer_ranges: Mapping[str, tuple[int, int]],
                  progress: Callable[[str], None] | None = None) -> Found:
    """The hostile cases of the problem at ``sizes`` (small ones): ``leaves`` maps each kernel
    input's name to what it is in the problem; ``integer_ranges`` each integer input's
    [low, high) by name."""
    found = Found()
    try:
        probe = _Probe(problem, sizes, leaves)
        seen = probe.record(probe.base)
    except Exception as error:  # a forward that runs on the meta device only, or in one dtype
        found.notes.append(f"no hostile case: the forward did not run in float64 on the CPU "
                           f"({type(error).__name__}: {_first_line(error)}); add cases by hand "
                           "(docs/targets.md)")
        return found
    families = {s.family for s in seen}
    deadline = time.monotonic() + SECONDS
    for family, search in (("exp", _exp_cases), ("ties", _tie_cases), ("mean", _mean_cases),
                           ("magnitude", _magnitude_cases), ("pool", _border_cases)):
        if family not in families:
            continue
        if progress:
            progress(f"probing hostile inputs for {_ABOUT[family]}")
        ops = [s.op for s in seen if s.family == family]
        cases = search(probe, ops, probe.upstream(seen, family, ops, deadline), deadline)
        found.cases += cases
        if not cases and time.monotonic() > deadline:
            found.notes.append(f"no hostile case for {_ABOUT[family]}: the probes' {SECONDS:g} s "
                               "ran out before one was found (each runs the forward); add one "
                               "by hand (docs/targets.md)")
        elif not cases:
            found.notes.append(f"no hostile case for {_ABOUT[family]}: no change to one input "
                               "made it hostile while the float32 forward stayed within "
                               f"{HONEST_LIMIT:g} of float64; add one by hand (docs/targets.md)")
    extremes = _extremes(probe, integer_ranges)
    if extremes is not None:
        found.cases.append(extremes)
    if progress:
        progress("probing the inputs mirrored and scaled up")
    _mirror(probe, found, deadline)
    return found


_ABOUT = {"exp": "the exponentials (softmax, log-sum-exp)", "ties": "the argmax/argmin",
          "mean": "the normalisation's statistics",
          "magnitude": "the elementwise exponentials (sigmoid, tanh, softplus)",
          "pool": "the pooling's or padding's borders"}


class _Probe:
    """The problem built for real at ``sizes``: its inputs as float32 leaves (the kernel's
    inputs, by name), and the forward run on any values of them, in float64 (the reference)
    or float32 (the honest computation)."""

    def __init__(self, problem: KernelBenchProblem, sizes: Sizes,
                 leaves: Mapping[str, Leaf]) -> None:
        module = problem.module
        with problem.sizes_set(sizes):
            torch.manual_seed(0)
            model = module.Model(*getattr(module, "get_init_inputs", list)())
            args = module.get_inputs()
        self.leaves = dict(leaves)
        named = dict(model.named_parameters())
        named.update(model.named_buffers())
        base: dict[str, torch.Tensor] = {}
        for name, (kind, which) in leaves.items():
            tensor = args[int(which)] if kind == "input" else named[which]
            tensor = tensor.detach()
            base[name] = tensor.float() if tensor.is_floating_point() else tensor.clone()
        self.base = base
        self.models = {torch.float64: copy.deepcopy(model).double(),
                       torch.float32: copy.deepcopy(model).float()}

    @property
    def floats(self) -> list[str]:
        """The floating inputs, the forward's arguments first."""
        return [n for n, t in self.base.items() if t.is_floating_point()]

    def upstream(self, seen: list[Seen], family: str, ops: Sequence[str], deadline: float
                 ) -> list[str]:
        """The floating inputs the recorded operations of ``family`` read through: a
        change to one of them changes what those operations see. Only these are tried, the
        forward's arguments first, as many as the ``deadline`` leaves time for: a network's
        hundreds of weights, each a run of the forward, took a ResNet-101's import past its
        limit."""
        before = [s.groups for s in _ops(seen, family, ops)]
        found = []
        for name in self.floats:
            if time.monotonic() > deadline:
                break
            values = dict(self.base)
            values[name] = values[name] + 0.5
            try:
                after = [s.groups for s in _ops(self.record(values), family, ops)]
            except Exception:  # the problem refuses the change
                continue
            if len(after) != len(before) or any(
                    a.shape != b.shape or not torch.equal(a, b)
                    for a, b in zip(after, before, strict=True)):
                found.append(name)
        return found

    def forward(self, values: Mapping[str, torch.Tensor], dtype: torch.dtype
                ) -> list[torch.Tensor]:
        """The forward's outputs on ``values`` (float32 leaves) computed in ``dtype``."""
        cast = {n: (t.to(dtype) if t.is_floating_point() else t).clone()
                for n, t in values.items()}
        args = [cast[n] for n, (kind, _) in sorted(
            ((n, leaf) for n, leaf in self.leaves.items() if leaf[0] == "input"),
            key=lambda item: int(item[1][1]))]
        weights = {self.leaves[n][1]: t for n, t in cast.items() if self.leaves[n][0] == "weight"}
        with torch.no_grad():
            out = torch.func.functional_call(self.models[dtype], weights, tuple(args))
        return list(out) if isinstance(out, tuple | list) else [out]

    def record(self, values: Mapping[str, torch.Tensor]) -> list[Seen]:
        recorder = Recorder()
        with recorder:
            self.forward(values, torch.float64)
        return recorder.seen

    def honest(self, values: Mapping[str, torch.Tensor]) -> bool:
        """Whether the float64 forward on ``values`` is finite and the float32 one within
        HONEST_LIMIT of it (an integer output equal)."""
        try:
            exact = self.forward(values, torch.float64)
            honest = self.forward(values, torch.float32)
        except Exception:  # a change the problem cannot take (an index out of range)
            return False
        for e, h in zip(exact, honest, strict=True):
            if not e.is_floating_point():
                if not torch.equal(e, h):
                    return False
                continue
            if not bool(torch.isfinite(e).all()) or not bool(torch.isfinite(h).all()):
                return False
            norm = float(torch.linalg.vector_norm(e))
            error = float(torch.linalg.vector_norm(h.double() - e))
            if error > HONEST_LIMIT * norm:
                return False
        return True


def _ops(seen: list[Seen], family: str, ops: Sequence[str]) -> list[Seen]:
    return [s for s in seen if s.family == family and s.op in ops]


def _exp_cases(probe: _Probe, ops: Sequence[str], leaves: Sequence[str], deadline: float
               ) -> list[Case]:
    def overflow_every_row(seen: list[Seen]) -> bool:
        return any(bool((_finite_max(s.groups) >= EXP_OVERFLOW).all()) for s in seen)

    def overflow_most_rows(seen: list[Seen]) -> bool:
        return any(float((_finite_max(s.groups) >= EXP_OVERFLOW).double().mean()) >= 0.5
                   for s in seen)

    cases = []
    for name, how, amounts, hostile, what in (
            ("offset_logits", "add", OFFSETS, overflow_every_row,
             "every row's logits past float32 exp's range (about 88), all shifted alike: a "
             "kernel that does not subtract the row's maximum overflows"),
            ("large_logits", "mul", SCALES, overflow_most_rows,
             "logits spread over hundreds, most rows' largest past float32 exp's range: a "
             "kernel must subtract the row's maximum, and most terms underflow")):
        found = _search(probe, ops, "exp", deadline, hostile,
                        [(n, how, amount) for amount in amounts for n in leaves])
        if found is not None:
            cases.append(_change_case(name, ops, *found, what))
    return cases


def _magnitude_cases(probe: _Probe, ops: Sequence[str], leaves: Sequence[str],
                     deadline: float) -> list[Case]:
    """The largest magnitude (SCALES, the largest first) that leaves the honest forward
    honest, where it takes the exponentials' inputs past LARGE (a plain exp overflows
    float32 at 88: its case is what float32 keeps)."""
    def large(seen: list[Seen]) -> bool:
        return any(float(s.groups.abs().max()) >= LARGE for s in seen)

    tries = [(n, "mul", amount) for amount in reversed(SCALES) for n in leaves]
    found = _search(probe, ops, "magnitude", deadline, large, tries)
    if found is None:
        return []
    return [_change_case("large_magnitude", ops, *found,
                         "the exponentials' inputs as large as the float32 forward stays "
                         "honest at (hundreds, where it saturates): a kernel that computes them "
                         "as a ratio of exponentials (exp(x) / (1 + exp(x)) for a sigmoid) "
                         "overflows to inf / inf")]


def _border_cases(probe: _Probe, ops: Sequence[str], leaves: Sequence[str],
                  deadline: float) -> list[Case]:
    """Every value the pooling or padding reads negative, where a shift of one input down by
    more than its largest magnitude (or its negation) makes them so."""
    def negative(seen: list[Seen]) -> bool:
        return any(float((s.groups < 0).double().mean()) >= NEGATIVE_SHARE for s in seen)

    tries: list[tuple[str, str, float]] = []
    for name in leaves:
        top = float(probe.base[name].abs().max()) if probe.base[name].numel() else 1.0
        tries += [(name, "add", -float(f"{factor * (top or 1.0):.3g}"))
                  for factor in BORDER_SHIFTS]
    tries += [(name, "mul", -1.0) for name in leaves]
    found = _search(probe, ops, "pool", deadline, negative, tries)
    if found is None:
        return []
    return [_change_case("negative_borders", ops, *found,
                         "the values it pools or pads all negative, at the borders too: a "
                         "max pooling that pads with 0 where torch pads with -inf, or counts "
                         "the padding, returns 0 at every border window")]


def _finite_max(groups: torch.Tensor) -> torch.Tensor:
    """Each group's largest finite value (a masked logit is -inf)."""
    return groups.masked_fill(~torch.isfinite(groups), -math.inf).amax(dim=1)


def _tie_cases(probe: _Probe, ops: Sequence[str], leaves: Sequence[str], deadline: float
               ) -> list[Case]:
    def tied(seen: list[Seen]) -> bool:
        return any(_tied_share(s) >= TIES_SHARE for s in seen)

    tries: list[tuple[str, str, float]] = [(n, "ties", 0.0) for n in leaves]
    tries += [("*", "ties", 0.0)] if len(leaves) > 1 else []
    chosen = _search(probe, ops, "ties", deadline, tied, tries, leaves)
    if chosen is None:
        return []
    names = list(leaves) if chosen[0] == "*" else [chosen[0]]
    body = ("import torch", "",
            f"for name in {tuple(names)!r}:",
            "    tensor = inputs[name]",
            f"    drawn = torch.randint(-{TIE_LEVELS}, {TIE_LEVELS + 1}, tensor.shape, "
            "generator=generator,",
            "                          device=generator.device)",
            "    tensor.copy_(drawn.to(tensor.dtype))")
    return [Case("ties", _doc(ops, f"{', '.join(names)} drawn as whole numbers in "
                 f"[-{TIE_LEVELS}, {TIE_LEVELS}]: the extreme value is taken at several "
                 "places in most rows, and torch returns the first of them"), body)]


def _tied_share(seen: Seen) -> float:
    groups = seen.groups
    extreme = groups.amin(dim=1, keepdim=True) if seen.minimum else groups.amax(
        dim=1, keepdim=True)
    return float(((groups == extreme).sum(dim=1) >= 2).double().mean())


def _mean_cases(probe: _Probe, ops: Sequence[str], leaves: Sequence[str], deadline: float
                ) -> list[Case]:
    def offset_rows(seen: list[Seen]) -> bool:
        return any(_mean_over_spread(s.groups) >= MEAN_OVER_SPREAD for s in seen)

    tries = []
    for size in MEANS:
        for name in leaves:
            spread = float(probe.base[name].double().std()) if probe.base[name].numel() > 1 \
                else 1.0
            tries.append((name, "add", float(f"{size * (spread or 1.0):.3g}")))
    chosen = _search(probe, ops, "mean", deadline, offset_rows, tries)
    if chosen is None:
        return []
    return [_change_case("large_mean", ops, *chosen,
                         f"the normalised rows' mean {MEAN_OVER_SPREAD:g} or more times their "
                         "spread: statistics taken in one float32 pass (the mean of squares "
                         "less the squared mean) lose every digit")]


def _change_case(name: str, ops: Sequence[str], leaf: str, how: str, amount: float, what: str
                 ) -> Case:
    """The case ``name``: ``amount`` added to (``how`` "add") or multiplied into input
    ``leaf``, doing ``what``."""
    change = (f"{leaf} times {amount:g}" if how != "add" else
              f"{leaf} + {amount:g}" if amount >= 0 else f"{leaf} - {-amount:g}")
    return Case(name, _doc(ops, f"{change}: {what}"),
                (f'inputs["{leaf}"].{how}_({amount!r})',))


def _mean_over_spread(groups: torch.Tensor) -> float:
    if groups.shape[1] < 2:
        return 0.0
    mean = groups.mean(dim=1).abs()
    spread = groups.std(dim=1)
    usable = spread > 0
    if not bool(usable.any()):
        return 0.0
    return float((mean[usable] / spread[usable]).median())


def _search(probe: _Probe, ops: Sequence[str], family: str, deadline: float,
            hostile: Callable[[list[Seen]], bool], tries: Sequence[tuple[str, str, float]],
            every: Sequence[str] = ()) -> tuple[str, str, float] | None:
    """The first change in ``tries`` (an input, how, how much) that makes the recorded
    operations hostile and keeps the forward honest; None where none does in time. The
    input "*" is every one of ``every`` at once."""
    for name, how, amount in tries:
        if time.monotonic() > deadline:
            return None
        values = _changed(probe.base, name, how, amount, every)
        try:
            seen = _ops(probe.record(values), family, ops)
        except Exception:  # the problem refuses the change (a log of a negative)
            continue
        if seen and hostile(seen) and probe.honest(values):
            return name, how, amount
    return None


def _changed(base: Mapping[str, torch.Tensor], name: str, how: str, amount: float,
             every: Sequence[str]) -> dict[str, torch.Tensor]:
    """``base`` with input ``name`` (every one of ``every`` for "*") changed: ``amount``
    added or multiplied in, or drawn as whole numbers for ties."""
    values = dict(base)
    generator = torch.Generator().manual_seed(0)
    for target in (every if name == "*" else [name]):
        tensor = values[target].clone()
        if how == "add":
            tensor.add_(amount)
        elif how == "mul":
            tensor.mul_(amount)
        else:
            tensor.copy_(torch.randint(-TIE_LEVELS, TIE_LEVELS + 1, tensor.shape,
                                       generator=generator).to(tensor.dtype))
        values[target] = tensor
    return values


def _mirror(probe: _Probe, found: Found, deadline: float) -> None:
    """The case ``mirrored``: each floating argument of the forward negated and scaled up
    (MIRRORS, the largest first) as far as the float64 reference stays finite and the float32
    forward honest, so that a kernel right only for positive or small inputs fails; an
    argument whose sign cannot be flipped is only scaled up, and one that cannot be changed
    at all keeps its range. A line says which range each one keeps, and why."""
    arguments = [n for n in probe.floats if probe.leaves[n][0] == "input"]
    chosen: dict[str, float] = {}
    for name in arguments:
        if time.monotonic() > deadline:
            found.notes.append(f"no case mirrored for {name}: the probes' {SECONDS:g} s ran "
                               "out first (each runs the forward)")
            continue
        factor = next((f for f in MIRRORS if probe.honest(
            _changed(probe.base, name, "mul", f, ()))), None)
        if factor is None or factor == 1.0:
            found.notes.append(f"{name} keeps its own range in every case: the reference is "
                               "not finite, or the float32 forward not within "
                               f"{HONEST_LIMIT:g} of it, on it negated or scaled up")
            continue
        if factor > 0:
            found.notes.append(f"{name} keeps its sign in every case (scaled {factor:g} times "
                               "in the case mirrored): the reference is not finite, or the "
                               f"float32 forward not within {HONEST_LIMIT:g} of it, on it "
                               "negated")
        chosen[name] = factor
    values = dict(probe.base)
    for name, factor in list(chosen.items()):
        trial = {**values, name: values[name] * factor}
        if probe.honest(trial):
            values = trial
        else:  # each alone is honest, not all together: the first ones are kept
            del chosen[name]
    if not chosen:
        return
    what = ", ".join(f"{name} times {factor:g}" for name, factor in chosen.items())
    found.cases.append(Case(
        "mirrored", f"The inputs mirrored and scaled up, as far as the reference stays finite "
        f"and the float32 forward honest ({what}): a kernel right only for positive or small "
        "inputs (a power taken as exp(p * log(x)), an approximation good near zero) fails.",
        tuple(f'inputs["{name}"].mul_({factor!r})' for name, factor in chosen.items())))


def _extremes(probe: _Probe, ranges: Mapping[str, tuple[int, int]]) -> Case | None:
    """Every integer input at the least or the most value of its range, where the forward
    takes both (a sum in a narrow type overflows; an index at the end of a table)."""
    usable = {n: r for n, r in ranges.items() if r[1] - r[0] > 2 and n in probe.base}
    if not usable:
        return None
    values = dict(probe.base)
    for name, (low, high) in usable.items():
        tensor = values[name].clone()
        tensor[...] = low
        tensor[..., ::2] = high - 1
        values[name] = tensor
    if not probe.honest(values):
        return None
    body = ["import torch", ""]
    for name, (low, high) in usable.items():
        body += [f'tensor = inputs["{name}"]',
                 "# one extreme along each row (each element of a vector): sums at their largest",
                 "rows = tensor.shape[:-1] + (1,) if tensor.dim() > 1 else tensor.shape",
                 "pick = torch.rand(rows, generator=generator, device=generator.device) < 0.5",
                 f"tensor.copy_(torch.where(pick, {high - 1}, {low}).expand(tensor.shape))"]
    names = ", ".join(usable)
    return Case("extremes", f"{names}: each row all the least or all the most value of its "
                "range, at random: sums that overflow a narrow type, indices at both ends of "
                "a table.", tuple(body))


# The recorded operations as the forward's author wrote them.
_WORDS = {"_softmax": "softmax", "_safe_softmax": "softmax", "_log_softmax": "log_softmax",
          "native_layer_norm": "layer_norm", "native_group_norm": "group_norm",
          "native_batch_norm": "batch_norm", "_native_batch_norm_legit": "batch_norm",
          "_batch_norm_with_update": "batch_norm", "max": "max (with indices)",
          "max_pool2d_with_indices": "max_pool2d", "max_pool3d_with_indices": "max_pool3d",
          "log_sigmoid_forward": "logsigmoid",
          "min": "min (with indices)"}


def _doc(ops: Sequence[str], what: str) -> str:
    words = set()
    for op in ops:
        name = op.split(".")[1] if op.startswith("aten.") else op
        words.add("attention" if name.startswith("_scaled_dot_product") else
                  _WORDS.get(name, name))
    return f"For {', '.join(sorted(words))}: {what}."


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:160] if text else "no message"
