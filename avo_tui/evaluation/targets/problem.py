"""The seam between the harness and what a target computes (docs/targets.md).

A **problem** says what is computed: the entry point's parameters (tensors, whose shapes are
functions of the configuration, and scalars), how a configuration is named and how much work it
is, which shapes and input cases correctness also draws, and, on the worker's side (its
numerics), the hostile inputs, the float64 reference with the honest computation the tolerance
comes from, and the baselines. The harness keeps everything else: allocation, fresh inputs,
poisoned outputs, launches, sampled checks, timing and the gate. The evaluator's modules talk
to a problem only through the two protocols here.

Standard library only: the engine and the TUI name configurations and count their work without
torch. Torch appears in the types alone; the numerics are loaded in the worker
(Problem.numerics).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from .values import ValueRule

if TYPE_CHECKING:
    import torch

Dim = int | bool  # a configuration's dimension: a size, or a switch such as causal
ParamKind = Literal["input", "output", "int", "float"]
ROWS_PER_SLICE = 3  # sampled rows of each leading slice, at least; few slices get more rows
# A launch that leaves 2% of its rows undone escapes 256 sampled rows 0.6% of the time, 64
# rows 27% of the time: at the gate's resolution such a cheat pays, so few slices get many rows.
MIN_SAMPLED_ROWS = 256


@dataclass(frozen=True)
class Param:
    """One parameter of the entry point, in the order the kernel takes them. A tensor (input or
    output) is passed as a pointer to contiguous memory of its dtype (the configuration's,
    unless it names its own), shaped ``shape(config)``; a scalar (int: 32-bit, float:
    32-bit) as its value, from Problem.scalars."""

    name: str
    kind: ParamKind
    shape: Callable[[Config], tuple[int, ...]] | None = None  # tensors only
    dtype: str | None = None  # a tensor's own dtype; None: the configuration's
    values: ValueRule | None = None  # how an input's values are drawn; None: standard normal

    def __post_init__(self) -> None:
        if self.is_tensor != (self.shape is not None):
            raise ValueError(f"parameter {self.name}: a tensor has a shape, a scalar none")
        if self.dtype is not None and not self.is_tensor:
            raise ValueError(f"parameter {self.name}: a scalar has no dtype of its own")
        if self.values is not None and self.kind != "input":
            raise ValueError(f"parameter {self.name}: only an input's values are drawn")

    @property
    def is_tensor(self) -> bool:
        return self.kind in ("input", "output")

    def dtype_on(self, config: Config) -> str:
        """The tensor's dtype on ``config``: its own, or else the configuration's."""
        return self.dtype or config.dtype

    def shape_on(self, config: Config) -> tuple[int, ...]:
        """The tensor's shape on ``config``."""
        if self.shape is None:
            raise ValueError(f"parameter {self.name} is a scalar")
        return self.shape(config)


WorkKind = Literal["flops", "bytes"]


@dataclass(frozen=True)
class Work:
    """The work of one launch, as a problem counts it: its FLOPs, the bytes it must move at
    least (its inputs read once, its output written once), or both; None where the problem
    does not count that kind. A target's score divides one of them by the time
    (TargetSpec.score_by); plausibility compares each with what the device measured."""

    flops: float | None = None
    bytes: float | None = None

    def of(self, kind: WorkKind) -> float:
        value: float | None = getattr(self, kind)
        if value is None:
            raise ValueError(f"the problem counts no {kind}")
        return value


@dataclass(frozen=True, repr=False)
class Config:
    """One configuration of a problem: its named dimensions, in the problem's order, and the
    dtype. Its name, its work and its stored form come from the problem."""

    problem: Problem
    dims: tuple[tuple[str, Dim], ...]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        self.problem.check(self)

    def __getitem__(self, name: str) -> Dim:
        for key, value in self.dims:
            if key == name:
                return value
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"Config({self.problem.name} {self.name} {self.dtype})"

    @property
    def name(self) -> str:
        """What results, sessions and RESULTS.md call it: never changes for a configuration."""
        return self.problem.config_name(self)

    @property
    def work(self) -> Work:
        return self.problem.work(self)

    def as_dict(self) -> dict[str, object]:
        return {**dict(self.dims), "dtype": self.dtype}

    def with_dims(self, **changes: Dim) -> Config:
        """This configuration with the dimensions ``changes`` names set to its values."""
        unknown = set(changes) - {name for name, _ in self.dims}
        if unknown:
            raise ValueError(f"{self.problem.name} has no dimension {', '.join(sorted(unknown))}")
        return Config(self.problem, tuple((name, changes.get(name, value))
                                          for name, value in self.dims), self.dtype)


@dataclass(frozen=True)
class Contract:
    """What a problem asks of a kernel, in the words the agent's instructions use (its rules
    and "how you are judged"), so an agent evolving any target is told that target's terms."""

    entry: str  # the entry point's parameters, each with its shape or meaning
    exact: str  # what computing it exactly, with no work skipped, means for this problem
    rows: str  # what one checked row of the output is: "Each query row"
    drawn: str  # what correctness draws beside the fixed shapes
    work: str  # how the score counts a launch's work
    precision: dict[str, str]  # per dtype: the precision an honest kernel keeps


class Problem(Protocol):
    """What a target computes, as the parent process and the harness see it (no torch)."""

    @property
    def name(self) -> str:
        """The problem's name, e.g. attention_fwd."""
        ...

    @property
    def parameters(self) -> tuple[Param, ...]:
        """The entry point's parameters in order: inputs, exactly one output, scalars."""
        ...

    @property
    def input_cases(self) -> tuple[str, ...]:
        """"normal" (the inputs as their rules draw them), then the hostile cases of this
        problem."""
        ...

    def check(self, config: Config) -> None:
        """Raise ValueError unless ``config`` is a valid configuration of this problem."""
        ...

    def config_name(self, config: Config) -> str: ...

    def work(self, config: Config) -> Work:
        """The work of one launch on ``config``: its FLOPs, bytes moved, or both."""
        ...

    def scalars(self, config: Config) -> dict[str, int | float]:
        """The value of every scalar parameter on ``config``."""
        ...

    def launch_variables(self, config: Config) -> dict[str, object]:
        """The names a CUDA kernel's ``avo:launch`` expressions may use (NUM_SMS aside)."""
        ...

    def draw_configs(self, edges: tuple[Config, ...], size: int, rng: random.Random
                     ) -> list[tuple[Config, str]]:
        """Configurations and input cases drawn for one evaluation's correctness pass, beside
        the fixed ``edges``, from the evaluation's seed; ``size`` bounds how large they grow
        (TargetSpec.drawn_max_tiles)."""
        ...

    def crosses_tiles(self, config: Config) -> bool:
        """Whether ``config`` is large enough to run a kernel's main loop more than once (the
        sanitizers run on the smallest such configuration)."""
        ...

    def row_label(self, position: tuple[int, ...], output: str | None = None) -> str:
        """A row of ``output`` (None: the only one), by its index along every dimension but
        the last, in words."""
        ...

    def numerics(self) -> Numerics:
        """The torch side, imported in the worker alone."""
        ...

    def contract(self) -> Contract:
        """The problem's terms, in words, for the agent's instructions."""
        ...


class Numerics(Protocol):
    """What a problem computes, with torch, in the worker."""

    def shape_case(self, config: Config, inputs: InputSet, generator: torch.Generator,
                   case: str) -> None:
        """Reshape fresh ``inputs`` (drawn by their rules) in place into the hostile ``case``."""
        ...


    def references(self, config: Config, inputs: InputSet, emulate: torch.dtype,
                   output: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact ``output`` (None: the only one) in float64, and that output as an honest
        kernel computes it at the precision ``emulate`` (in float64 too): its distance to the
        exact one is the error the tolerance is built on."""
        ...

    def reference_rows(self, config: Config, inputs: InputSet, sample: RowSample,
                       emulate: torch.dtype | None = None, output: str | None = None,
                       exact: torch.Tensor | None = None) -> torch.Tensor:
        """The sample's rows of the exact ``output`` (float64; None: the only one), or with
        ``emulate`` of the honest one, [rows, width] in the order RowSample.gather takes
        them. ``exact``: the exact rows, where the caller has them, for a problem whose
        honest rows are the farthest from them of several runs (a target file's)."""
        ...

    @property
    def baselines(self) -> Mapping[str, Callable[[Config], BaselineCall]]: ...

    def baseline_missing(self, name: str) -> str | None:
        """Why baseline ``name`` cannot be timed in this process (None: it can)."""
        ...


def case_word(case: str) -> str:
    """An input case as a message names it. The case "normal" (its name kept: sessions store
    it) is the inputs drawn by their rules, which may be uniform or positive, so a message
    never calls them normal: "drawn"."""
    return "drawn" if case == "normal" else case


def case_inputs(case: str) -> str:
    """``drawn inputs``, ``huge inputs``: the inputs of an input case, in a message."""
    return f"{case_word(case)} inputs"


def output_params(problem: Problem) -> tuple[Param, ...]:
    """The outputs of ``problem``'s entry point, in order: one or more."""
    return tuple(p for p in problem.parameters if p.kind == "output")


def output_param(problem: Problem) -> Param:
    """The output of a problem that has exactly one (attention, an exported operator)."""
    (out,) = output_params(problem)
    return out


class OutputSet:
    """A launch's output tensors by parameter name, in the entry point's order."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        self.named = dict(tensors)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.named[name]

    @property
    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(self.named.values())

    @property
    def only(self) -> torch.Tensor:
        """The output, where there is one."""
        (tensor,) = self.named.values()
        return tensor


class InputSet:
    """A launch's input tensors by parameter name, in the entry point's order, and the rule
    each one's values are drawn by (none named: standard normal)."""

    def __init__(self, tensors: Mapping[str, torch.Tensor],
                 rules: Mapping[str, ValueRule] | None = None) -> None:
        self.named = dict(tensors)
        self.rules = dict(rules or {})

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.named[name]

    @property
    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(self.named.values())

    def clone(self) -> InputSet:
        return InputSet({name: t.clone() for name, t in self.named.items()}, self.rules)

    def equal(self, other: InputSet) -> bool:
        return all(a.equal(b) for a, b in zip(self.tensors, other.tensors, strict=True))

    def described(self) -> str:
        """The inputs' names, as a message says that one of them changed: "q, k or v"."""
        names = list(self.named)
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass(frozen=True)
class RowSample:
    """Rows of **every** leading slice of the output, a few each, drawn at random: what a timed
    launch is checked on. The output is read as [*leading, rows, width] (a vector as [n, 1]);
    for attention's [batch, heads, seq_len, head_dim], query rows of every (batch, head) pair.
    A kernel that leaves any one slice uncomputed on timed launches is caught by the first one
    checked (where a few pairs of many were sampled instead, it passed most checks)."""

    picks: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # (leading index, rows)

    @classmethod
    def draw(cls, shape: tuple[int, ...], rng: random.Random,
             rows_per_slice: int = ROWS_PER_SLICE, min_rows: int = MIN_SAMPLED_ROWS
             ) -> RowSample:
        """A sample of an output of ``shape``."""
        leading, rows = _rows_shape(shape)
        slices = _product(leading)
        count = min(max(rows_per_slice, -(-min_rows // slices)), rows)
        return cls(tuple((index, tuple(sorted(rng.sample(range(rows), count))))
                         for index in _indices(leading)))

    def gather(self, out: torch.Tensor) -> torch.Tensor:
        """The sampled rows of ``out``, [rows, width]."""
        import torch  # the worker's: this module loads without torch

        leading, rows = _rows_shape(tuple(out.shape))
        flat = out.reshape(-1, rows, out.shape[-1] if out.dim() > 1 else 1)
        slices = [_flat_index(index, leading) for index, picked in self.picks for _ in picked]
        rows_at = [r for _, picked in self.picks for r in picked]
        return flat[torch.tensor(slices, device=out.device),
                    torch.tensor(rows_at, device=out.device)]

    def row(self, index: int) -> tuple[int, ...]:
        """The position of the ``index``-th gathered row: its leading index, then its row."""
        for leading, rows in self.picks:
            if index < len(rows):
                return (*leading, rows[index])
            index -= len(rows)
        raise IndexError(index)


def _rows_shape(shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """(leading dimensions, rows) of an output of ``shape`` read as [*leading, rows, width]."""
    if len(shape) == 1:
        return (), shape[0]
    return shape[:-2], shape[-2]


def _product(sizes: tuple[int, ...]) -> int:
    total = 1
    for size in sizes:
        total *= size
    return total


def _indices(sizes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every index of an array of ``sizes``, in row-major order."""
    out: list[tuple[int, ...]] = [()]
    for size in sizes:
        out = [(*index, i) for index in out for i in range(size)]
    return out


def _flat_index(index: tuple[int, ...], sizes: tuple[int, ...]) -> int:
    flat = 0
    for i, size in zip(index, sizes, strict=True):
        flat = flat * size + i
    return flat


def unravel(index: int, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """The position of element ``index`` of a row-major array of ``sizes``."""
    position = []
    for size in reversed(sizes):
        index, rest = divmod(index, size)
        position.append(rest)
    return tuple(reversed(position))


class BaselineDeclines(Exception):
    """Raised by a baseline's ``stage`` where its library has no kernel for the configuration
    (cuDNN's attention backward at one key): ``avo targets check`` does not compare it there
    and says so. Only edge configurations meet it; the evaluator times baselines on the timed
    grid alone, where a decline is an error like any other."""


def derive_inputs(config: Config, inputs: InputSet) -> None:
    """Fill, in place, the inputs computed from the others, after every draw and hostile case:
    a problem's numerics may declare ``derive(config, inputs)`` (attention's backward: the
    forward's output and log-sum-exp); most problems have none."""
    derive = getattr(config.problem.numerics(), "derive", None)
    if derive is not None:
        derive(config, inputs)


@dataclass
class BaselineCall:
    """A baseline on one configuration: ``stage`` takes the launch's inputs, untimed (a
    baseline whose own layout differs copies them there), ``run`` is the timed call.

    ``answers``, where given, names the inputs the baseline computed for itself rather than
    took (a backward through its own forward answers for that forward's output, not the
    given ``o``): ``avo targets check`` judges its result against the reference of the inputs
    with those put in. Where a row's gradient is a difference that cancels, a forward rounded
    otherwise moves it past any tolerance a correct kernel of the given inputs needs."""

    stage: Callable[[InputSet], None]
    run: Callable[[], torch.Tensor]
    answers: Callable[[], Mapping[str, torch.Tensor]] | None = None


def on_inputs(function: Callable[[InputSet], torch.Tensor]) -> BaselineCall:
    """A baseline that runs on the launch's own input tensors."""
    staged: list[InputSet] = []

    def stage(inputs: InputSet) -> None:
        staged[:] = [inputs]

    return BaselineCall(stage, lambda: function(staged[0]))
