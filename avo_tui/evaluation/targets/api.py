"""What a target file declares: the API a user writes a target with (docs/targets.md, "Your own
target, from nothing to a first run").

A target file is one Python file that defines ``target = Target(...)``. It says *what* is
computed, never how it is checked or timed: the entry point's parameters (Input, Output, Int,
Float), the configurations (plain dicts of named dimensions) and how to draw more, hostile
input cases, a reference run in float64 and an honest computation at the target's precision
(or a DeclaredTolerance where none fits), the work per configuration, baselines as torch
callables, and the seed kernel beside the file. problems/declared.py maps it onto the seam
(problem.Problem, problem.Numerics, targets.TargetSpec); the harness keeps allocation, fresh
inputs, poisoned outputs, launches, checks and timing.

Functions of a configuration receive it as a dict (``c["rows"]``); the reference, the honest
computation and the baselines receive the input tensors and the scalars as keyword arguments,
by parameter name; a hostile case receives the inputs (a dict of tensors, to change in place)
and a torch.Generator. Standard library only: the parent process reads a target without torch.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .problem import WorkKind
from .values import FromFile, Integers, Structured, ValueRule

Dims = dict[str, int | bool]  # a configuration, as the file's functions receive it
KINDS = ("cpu", "cuda")
FLOAT_DTYPES = ("float32", "bfloat16", "float16")
# Integer and bool tensors: drawn as integers (values.Integers), and an output of one of these
# is compared with the reference exactly.
INTEGER_DTYPES = ("int8", "int32", "int64", "uint8", "bool")
DTYPES = FLOAT_DTYPES + INTEGER_DTYPES
SEED_SUFFIXES = {"cpu": ".c", "cuda": ".cu"}


class TargetFileError(ValueError):
    """A target file that cannot be used, in one line a user can act on."""


@dataclass(frozen=True)
class Input:
    """A tensor the kernel reads: contiguous, ``shape(c)`` on c, in ``dtype`` (None: the
    target's), e.g. float32 weights beside bfloat16 activations. ``values`` is how the harness
    draws its contents afresh for every launch (values.py: Normal, Uniform, Positive,
    Integers, Structured, FromFile); None: standard normal."""

    name: str
    shape: Callable[[Dims], Sequence[int]]
    dtype: str | None = None
    values: ValueRule | None = None


@dataclass(frozen=True)
class Output:
    """A tensor the kernel writes, as an Input is laid out (one or more; the reference and
    the honest computation then return one tensor each, in order, or a dict by name). The
    harness poisons it before every launch (NaN in a float); each output is checked on its
    own, held to its dtype's precision, or to ``tolerance`` where it declares one."""

    name: str
    shape: Callable[[Dims], Sequence[int]]
    dtype: str | None = None
    tolerance: DeclaredTolerance | None = None


@dataclass(frozen=True)
class Int:
    """A 32-bit int scalar: ``value`` (a number or a function of the configuration), or the
    configuration's dimension of the same name where None."""

    name: str
    value: int | Callable[[Dims], int] | None = None


@dataclass(frozen=True)
class Float:
    """A 32-bit float scalar: ``value``, a number or a function of the configuration."""

    name: str
    value: float | Callable[[Dims], float]


Parameter = Input | Output | Int | Float
WORK_KINDS: tuple[WorkKind, ...] = ("flops", "bytes")


@dataclass(frozen=True)
class Baseline:
    """A baseline some machines cannot run (a package, a compiler or a GPU missing): ``run`` is
    called as a plain baseline function is, and ``missing``, asked once per process before it
    is timed or checked, says why it cannot run there (None: it can). A missing baseline is
    left out, and the result says why, as for the attention targets' FA3 and FA4."""

    run: Callable[..., Any]
    missing: Callable[[], str | None]


@dataclass(frozen=True)
class DeclaredTolerance:
    """A tolerance stated outright, for a target with no honest computation to derive one
    from: an output passes when its relative L2 error is within ``rel_l2``, over the whole
    output and over each row (along the last dimension), and every element's error within
    ``max_abs_ulps`` units in the last place of the dtype at the output's largest value. Every
    result of the target says so, with ``why``."""

    rel_l2: float
    max_abs_ulps: float
    why: str


@dataclass
class Target:
    """One target, as its file declares it (the module-level name ``target``)."""

    name: str
    description: str  # one line
    kind: Literal["cpu", "cuda"]  # cpu: a C kernel on the CPU; cuda: a CUDA kernel
    entry: str  # the symbol the kernel exports
    dims: Sequence[str]  # the names of a configuration's dimensions, in order
    parameters: Sequence[Parameter]  # the entry point's, in order
    configs: Sequence[Mapping[str, int | bool]]  # timed (and checked)
    edge_configs: Sequence[Mapping[str, int | bool]]  # checked, never timed
    reference: Callable[..., Any]  # called on float64 inputs: the exact output
    # the first is the one ratios are taken against; a Baseline where some machines lack it
    baselines: Mapping[str, Callable[..., Any] | Baseline]
    # The seed kernel, relative to the target file. None: the target has none yet, and a run
    # with the agent writes version 0 against the reference at its first step.
    seed: str | None = None
    # The work of one launch, one or both: its FLOPs (the score in GFLOP/s on the CPU, TFLOP/s
    # on a GPU) or the bytes it must move at least, its inputs read once and its output
    # written once (the score in GB/s, and the device's measured bandwidth bounds it).
    flops: Callable[[Dims], float] | None = None
    bytes: Callable[[Dims], float] | None = None
    # Which of the two the score counts: "flops" or "bytes"; needed only where both are given.
    score_by: WorkKind | None = None
    # Called on the inputs in the target's dtype: the output an honest kernel computes, whose
    # error against the reference the tolerance is built on. Give this, or ``tolerance``.
    honest: Callable[..., Any] | None = None
    tolerance: DeclaredTolerance | None = None
    quick_configs: Sequence[Mapping[str, int | bool]] = ()  # --quick; default: the first timed
    # More configurations for each evaluation's correctness pass, drawn from a random.Random
    # the evaluation seeds; each gets an input case, every case at least once.
    draw: Callable[[Any], Sequence[Mapping[str, int | bool]]] | None = None
    # Hostile input cases: name -> a function that changes the fresh inputs (a dict of
    # tensors, drawn by each Input's values) in place, given a torch.Generator.
    cases: Mapping[str, Callable[[dict[str, Any], Any], None]] = field(default_factory=dict)
    dtype: str = "float32"  # of every tensor that names none
    # A result more than this many times the best is held for the operator's review rather
    # than committed (a suspect): 1.5 unless the target says otherwise. A CPU target whose
    # knobs turn threads on makes first moves of 2x and more in honest work.
    max_plausible_jump: float = 1.5

    def __post_init__(self) -> None:
        given = [kind for kind in WORK_KINDS if getattr(self, kind) is not None]
        if self.score_by is None and len(given) == 1:
            self.score_by = given[0]
        self.dims = tuple(self.dims)
        self.parameters = tuple(self.parameters)
        self.configs = tuple(self.configs)
        self.edge_configs = tuple(self.edge_configs)
        self.quick_configs = tuple(self.quick_configs) or self.configs[:1]
        validate(self)

    @property
    def tensors(self) -> tuple[Input | Output, ...]:
        return tuple(p for p in self.parameters if isinstance(p, Input | Output))

    def dtype_of(self, tensor: Input | Output) -> str:
        """``tensor``'s dtype: its own, or else the target's."""
        return tensor.dtype or self.dtype


# What each field a Target cannot do without is, for the line that says one is missing.
REQUIRED: dict[str, str] = {
    "name": "the target's name, as avo run --target takes it",
    "description": "one line on what it computes",
    "kind": "'cpu' (a C kernel) or 'cuda' (a CUDA kernel)",
    "entry": "the symbol the kernel exports",
    "dims": "the names of a configuration's dimensions",
    "parameters": "the entry point's parameters, in order (Input, Output, Int, Float)",
    "configs": "the timed configurations",
    "edge_configs": "the checked, never timed, configurations",
    "reference": "the exact computation, called on float64 inputs",
    "baselines": "the torch calls the kernel is timed beside",
}


def missing_fields(error: TypeError) -> str | None:
    """The one line for a ``Target(...)`` call that left out required fields, or None where
    ``error`` is not that."""
    text = str(error)
    if not text.startswith("Target.__init__() missing"):
        return None
    names = [name for name in REQUIRED if f"'{name}'" in text]
    if not names:
        return None
    return "Target(...) lacks " + "; ".join(f"{name}=, {REQUIRED[name]}" for name in names) + \
        " (docs/targets.md)"


def validate(target: Target) -> None:
    """Raise TargetFileError, in one line, at the first thing wrong with ``target``'s
    declarations. What needs torch (the reference against the baselines, the seed) is
    ``avo targets check``'s (evaluation/measurement/target_check.py)."""
    if target.kind not in KINDS:
        raise TargetFileError(f"kind must be one of {', '.join(KINDS)}, not {target.kind!r}")
    _check_dtype(target, "dtype", target.dtype)
    _identifier("entry", target.entry)
    if not target.dims:
        raise TargetFileError("dims names no dimension")
    for dim in target.dims:
        _identifier("dimension", dim)
    _unique("dimension", target.dims)
    _check_parameters(target)
    if not target.configs:
        raise TargetFileError("configs names no configuration to time")
    for group in ("configs", "edge_configs", "quick_configs"):
        for index, config in enumerate(getattr(target, group)):
            check_config(target, config, f"{group}[{index}]")
    if (target.honest is None) == (target.tolerance is None):
        raise TargetFileError("give honest (the computation at the target's precision the "
                              "tolerance is derived from) or tolerance (a DeclaredTolerance), "
                              "one of the two")
    _callable("reference", target.reference)
    _check_work(target)
    if target.honest is not None:
        _callable("honest", target.honest)
    if not target.baselines:
        raise TargetFileError("baselines names no baseline (a torch callable to time against)")
    for name, baseline in target.baselines.items():
        if isinstance(baseline, Baseline):
            _callable(f"baseline {name!r}", baseline.run)
            _callable(f"the missing of baseline {name!r}", baseline.missing)
        else:
            _callable(f"baseline {name!r}", baseline)
    for name, case in target.cases.items():
        _identifier("input case", name)
        if name == "normal":
            raise TargetFileError("'normal' is the harness's own case (the inputs as their "
                                  "rules draw them)")
        _callable(f"case {name!r}", case)
    if target.draw is not None:
        _callable("draw", target.draw)
    jump = target.max_plausible_jump
    if isinstance(jump, bool) or not isinstance(jump, int | float) or not 1.0 < jump <= 1000.0:
        raise TargetFileError(f"max_plausible_jump is {jump!r}, not a number above 1 (and at "
                              "most 1000): how many times the best a result may be before it "
                              "is held for review")
    suffix = SEED_SUFFIXES[target.kind]
    if target.seed is not None and not target.seed.endswith(suffix):
        raise TargetFileError(f"seed {target.seed!r} is not a {suffix} file, as a "
                              f"{target.kind} target's kernel is")


def _check_work(target: Target) -> None:
    given = [kind for kind in WORK_KINDS if getattr(target, kind) is not None]
    if not given:
        raise TargetFileError("give flops or bytes (or both): the work of one launch, which "
                              "the score divides by its time")
    for kind in given:
        _callable(kind, getattr(target, kind))
    if target.score_by is None:
        raise TargetFileError("give score_by ('flops' or 'bytes'): the target counts both, and "
                              "the score divides one of them by the time")
    if target.score_by not in WORK_KINDS:
        raise TargetFileError(f"score_by must be 'flops' or 'bytes', not {target.score_by!r}")
    if target.score_by not in given:
        raise TargetFileError(f"score_by is {target.score_by!r}, but the target gives no "
                              f"{target.score_by}")


def _check_parameters(target: Target) -> None:
    names = [p.name for p in target.parameters]
    for name in names:
        _identifier("parameter", name)
    _unique("parameter", names)
    outputs = [p for p in target.parameters if isinstance(p, Output)]
    if not outputs:
        raise TargetFileError("the entry point has no Output")
    for out in outputs:
        if out.tolerance is not None and not isinstance(out.tolerance, DeclaredTolerance):
            raise TargetFileError(f"the tolerance of {out.name} is {out.tolerance!r}, not a "
                                  "DeclaredTolerance")
    inputs = [p for p in target.parameters if isinstance(p, Input)]
    if not inputs:
        raise TargetFileError("the entry point has no Input")
    for tensor in inputs:
        _check_values(target, tensor)
    if all(isinstance(tensor.values, FromFile) for tensor in inputs):
        raise TargetFileError("every Input is given (FromFile): at least one must be drawn "
                              "afresh for each launch, or a kernel could return a stored answer")
    for p in target.parameters:
        if isinstance(p, Input | Output):
            _callable(f"the shape of {p.name}", p.shape)
            _check_dtype(target, f"{p.name}'s dtype", target.dtype_of(p))
        elif isinstance(p, Int) and p.value is None and p.name not in target.dims:
            raise TargetFileError(f"Int {p.name!r} has no value and names no dimension")
        elif not isinstance(p, Int | Float):
            raise TargetFileError(f"parameter {p!r} is not an Input, Output, Int or Float")


def _check_values(target: Target, tensor: Input) -> None:
    """A rule is checked as it is made (values.py); here, that it is one, and one an integer
    tensor can hold."""
    rule = tensor.values
    if rule is not None and not isinstance(rule, ValueRule):
        raise TargetFileError(f"the values of {tensor.name} are {rule!r}, not one of "
                              "Normal, Uniform, Positive, Integers, Structured or FromFile")
    dtype = target.dtype_of(tensor)
    if dtype in INTEGER_DTYPES and not isinstance(rule, Integers | FromFile | None):
        raise TargetFileError(f"{tensor.name} is {dtype}: its values are Integers(low, high) "
                              f"or FromFile, not {type(rule).__name__}")


def _check_dtype(target: Target, what: str, dtype: object) -> None:
    if dtype not in DTYPES:
        raise TargetFileError(f"{what} must be one of {', '.join(DTYPES)}, not {dtype!r}")


def check_config(target: Target, config: Mapping[str, int | bool], where: str) -> Dims:
    """``config`` as a dict of the target's dimensions, its tensors' shapes checked."""
    if not isinstance(config, Mapping) or list(config) != list(target.dims):
        keys = list(config) if isinstance(config, Mapping) else config
        raise TargetFileError(f"{where} is {keys!r}; a configuration is a dict of "
                              f"{', '.join(target.dims)}, in that order")
    for name, value in config.items():
        if not isinstance(value, int) or (not isinstance(value, bool) and value < 0):
            raise TargetFileError(f"{where}: {name} is {value!r}, not an int of 0 or more "
                                  "(or a bool)")
    dims = dict(config)
    for tensor in target.tensors:
        shape = shape_of(tensor, dims, where)
        rule = tensor.values if isinstance(tensor, Input) else None
        if isinstance(rule, Structured) and (len(shape) < 2 or (
                rule.square and shape[-1] != shape[-2])):
            raise TargetFileError(f"{where}: {tensor.name} is {rule.structure}, a matrix (or "
                                  f"a batch of them){', square' if rule.square else ''}, "
                                  f"but shaped {shape}")
    return dims


def shape_of(tensor: Input | Output, dims: Dims, where: str) -> tuple[int, ...]:
    """The shape of ``tensor`` on ``dims``, checked: positive ints."""
    try:
        shape = tuple(tensor.shape(dims))
    except Exception as error:  # the user's code: say where it failed
        raise TargetFileError(f"the shape of {tensor.name} on {where} raised "
                              f"{type(error).__name__}: {error}") from None
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                            for s in shape):
        raise TargetFileError(f"the shape of {tensor.name} on {where} is {shape!r}, not a "
                              "tuple of positive ints")
    return shape


def _identifier(what: str, name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise TargetFileError(f"{what} {name!r} is not an identifier")


def _unique(what: str, names: Sequence[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise TargetFileError(f"{what} {name!r} is named twice")
        seen.add(name)


def _callable(what: str, value: object) -> None:
    if not callable(value):
        raise TargetFileError(f"{what} is {type(value).__name__}, not a function")
