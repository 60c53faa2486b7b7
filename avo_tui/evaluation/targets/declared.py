"""A target file's declarations (target_api.Target) behind the seam: a problem.Problem, a
problem.Numerics and a targets.TargetSpec, so the harness treats a user's target as it treats
attention. The file's functions are called here and nowhere else; torch is imported by the
numerics' methods alone (the parent never calls them)."""

from __future__ import annotations

import math
import os
import pickle
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .api import (
    FLOAT_DTYPES,
    WORK_KINDS,
    Baseline,
    Dims,
    Float,
    Input,
    Int,
    Output,
    Target,
    TargetFileError,
    check_config,
    shape_of,
)
from .problem import (
    BaselineCall,
    Config,
    Contract,
    InputSet,
    Param,
    RowSample,
    Work,
    on_inputs,
    output_params,
)
from .spec import BF16_TOLERANCE, FP32_TOLERANCE, Seed, TargetSource, TargetSpec, Tolerance
from .values import FromFile
from .words import contract_of

if TYPE_CHECKING:
    import torch

    from .problem import Numerics

@dataclass(frozen=True)
class KindDefaults:
    """What a target file's kind brings, as the built-in targets of that kind have it: the
    toolchain, the unit and the ratio to the first baseline past which a result is flagged
    (each by the work the score counts), a timing budget per configuration, a silence limit
    and the gate's cap."""

    toolchain: str
    units: dict[str, str]  # by Target.score_by
    max_plausible_ratio: dict[str, float]  # by Target.score_by
    time_budget_s: float
    timeout_s: float
    gate_cap_s: float


# A memory-bound target is held to the measured bandwidth (score.py), a bound that needs no
# baseline; its ratio flag only catches what that bound cannot, and a first baseline well
# below the bandwidth (unfused, or reading its inputs twice) leaves room for 2x.
KIND_DEFAULTS = {
    "cpu": KindDefaults("c", {"flops": "GFLOP/s", "bytes": "GB/s"},
                        {"flops": 20.0, "bytes": 20.0}, 0.25, 30.0, 10.0),
    "cuda": KindDefaults("cuda", {"flops": "TFLOP/s", "bytes": "GB/s"},
                         {"flops": 1.5, "bytes": 2.0}, 0.3, 60.0, 60.0),
}


def configure(problem: DeclaredProblem, dims: Mapping[str, int | bool]) -> Config:
    return Config(problem, tuple((name, dims[name]) for name in problem.target.dims),
                  problem.target.dtype)


class DeclaredProblem:
    """problem.Problem over a Target. Pickled by reference to its file (its target's ref: a
    shipped target's name, a user's file's path): a configuration that crosses the worker's
    pipe is rebuilt by loading the same file there (target_file.py)."""

    def __init__(self, target: Target, source: TargetSource | None = None,
                 reload: Callable[[str], DeclaredProblem] | None = None) -> None:
        self.target = target
        # How another process loads this problem again from its ref: target_file.problem_of,
        # handed in by target_file.py (which imports this module, so it cannot be imported here).
        self.reload = reload
        self.source = source
        self.name = target.name
        folder = None if source is None else os.path.dirname(source.path)
        self.parameters = tuple(_param(target, p, folder) for p in target.parameters)
        self.input_cases = ("normal", *target.cases)
        self._numerics: DeclaredNumerics | None = None
        outs = [p for p in target.parameters if isinstance(p, Output)]
        first = dict(target.configs[0])
        # an output of one dimension is read as elements, not rows (row_label)
        self._vectors = {out.name: len(shape_of(out, first, "configs[0]")) == 1 for out in outs}
        self.output_names = tuple(out.name for out in outs)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.source is None or self.reload is None:
            raise pickle.PicklingError(f"target {self.name} was made in memory, not loaded "
                                       "from a file: it cannot cross to another process")
        ref = self.name if self.source.shipped else self.source.path
        return (self.reload, (ref,))

    def __repr__(self) -> str:
        return self.name

    def check(self, config: Config) -> None:
        try:
            check_config(self.target, dict(config.dims), "the configuration")
        except TargetFileError as error:
            raise ValueError(str(error)) from None

    def config_name(self, config: Config) -> str:
        """``rows1024-cols4096``; a switch by its name when on, ``no`` + its name when off.
        Where a dimension's name ends in a digit (``dim1``), every size is written
        ``name=value`` (``batch_size=16-dim1=1-dim2=256``): ``dim11`` could be dim1 = 1 or
        dim = 11. Other targets keep the names their sessions already hold."""
        joint = "=" if any(name[-1].isdigit() for name in self.target.dims) else ""
        return "-".join(
            (name if value else f"no{name}") if isinstance(value, bool)
            else f"{name}{joint}{value}" for name, value in config.dims)

    def work(self, config: Config) -> Work:
        target, dims = self.target, dict(config.dims)
        return Work(flops=None if target.flops is None else float(target.flops(dims)),
                    bytes=None if target.bytes is None else float(target.bytes(dims)))

    def scalars(self, config: Config) -> dict[str, int | float]:
        dims = dict(config.dims)
        values: dict[str, int | float] = {}
        for p in self.target.parameters:
            if isinstance(p, Int):
                value = dims[p.name] if p.value is None else p.value
                values[p.name] = int(value(dims) if callable(value) else value)
            elif isinstance(p, Float):
                values[p.name] = float(p.value(dims) if callable(p.value) else p.value)
        return values

    def launch_variables(self, config: Config) -> dict[str, object]:
        """Every dimension, by its name in capitals (``ROWS``); a switch as 0 or 1."""
        return {name.upper(): int(value) for name, value in config.dims}

    def draw_configs(self, edges: tuple[Config, ...], size: int, rng: random.Random
                     ) -> list[tuple[Config, str]]:
        """The file's drawn configurations (its ``draw``), each with an input case, every case
        at least once, in an order drawn too; or else every edge configuration under every
        hostile case (the correctness pass checked them on normal inputs already): a case
        made for one shape (a largest value in a row's last column) proves nothing on another
        (a row of one column)."""
        if self.target.draw is None:
            hostile = [case for case in self.input_cases if case != "normal"] or ["normal"]
            pairs = [(config, case) for config in edges for case in hostile]
            rng.shuffle(pairs)
            return pairs
        drawn = [configure(self, check_config(self.target, dims, "a drawn configuration"))
                 for dims in self.target.draw(rng)]
        if not drawn:
            return []
        cases = list(self.input_cases) * -(-len(drawn) // len(self.input_cases))
        configs = drawn * -(-len(cases) // len(drawn))
        rng.shuffle(cases)
        return list(zip(configs, cases, strict=False))

    def crosses_tiles(self, config: Config) -> bool:
        return True  # a target file says nothing of tiles: the sanitizers take the smallest

    def row_label(self, position: tuple[int, ...], output: str | None = None) -> str:
        name = output or self.output_names[0]
        if self._vectors[name]:
            return f"element {position[0]} of {name}"
        *leading, row = position
        where = f"{name}[{', '.join(map(str, leading))}]" if leading else name
        return f"row {row} of {where}"

    def contract(self) -> Contract:
        return contract_of(self.target)

    def numerics(self) -> Numerics:
        if self._numerics is None:
            self._numerics = DeclaredNumerics(self)
        return self._numerics


def _param(target: Target, p: Input | Output | Int | Float, folder: str | None) -> Param:
    """``p`` as the seam's Param; a given tensor's file found beside the target file
    (``folder``; None: a target made in memory, whose paths are taken as they are)."""
    if isinstance(p, Input | Output):
        tensor = p

        def shape(config: Config) -> tuple[int, ...]:
            return shape_of(tensor, dict(config.dims), config.name)

        values = p.values if isinstance(p, Input) else None
        if isinstance(values, FromFile) and folder is not None:
            values = FromFile(os.path.join(folder, values.path))
        return Param(p.name, "input" if isinstance(p, Input) else "output", shape,
                     target.dtype_of(p), values)
    return Param(p.name, "int" if isinstance(p, Int) else "float")


class DeclaredNumerics:
    """problem.Numerics over a Target: the file's cases, reference, honest computation and
    baselines, called with the inputs and scalars by name."""

    def __init__(self, problem: DeclaredProblem) -> None:
        self.problem = problem
        target = problem.target
        self.baselines: Mapping[str, Callable[[Config], BaselineCall]] = {
            name: self._baseline(b.run if isinstance(b, Baseline) else b)
            for name, b in target.baselines.items()}
        self._missing: dict[str, str | None] = {}

    def _baseline(self, function: Callable[..., Any]) -> Callable[[Config], BaselineCall]:
        def call(config: Config) -> BaselineCall:
            scalars = self.problem.scalars(config)
            return on_inputs(lambda inputs: function(**inputs.named, **scalars))

        return call

    def shape_case(self, config: Config, inputs: InputSet, generator: torch.Generator,
                   case: str) -> None:
        self.problem.target.cases[case](inputs.named, generator)

    def derive(self, config: Config, inputs: InputSet) -> None:
        """A target file's inputs are all drawn: none is derived from the others."""

    def references(self, config: Config, inputs: InputSet, emulate: torch.dtype,
                   output: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference of ``output`` (None: the only one) on the inputs in float64, and the
        honest computation's on them in each one's own dtype (``emulate``, the output's, is
        the precision it keeps), elementwise the farthest of it and of its runs on the
        inputs moved an ulp (backward.py)."""
        from .backward import farthest

        name = self._name(output)
        exact = self._exact(config, inputs)[name]
        if self.problem.target.honest is None:  # a declared tolerance: its floors alone
            return exact, exact.clone()
        given, *moved = self._honest(config, inputs, name)
        return exact, farthest(exact, given, moved)

    def _name(self, output: str | None) -> str:
        return output or self.problem.output_names[0]

    def _exact(self, config: Config, inputs: InputSet) -> dict[str, torch.Tensor]:
        import torch

        return self._outputs("the reference", self.problem.target.reference, config,
                             {n: t.to(torch.float64) if t.is_floating_point() else t
                              for n, t in inputs.named.items()},
                             self.problem.scalars(config))

    def _honest(self, config: Config, inputs: InputSet, name: str) -> list[torch.Tensor]:
        """The honest ``name`` output on the inputs as given, then on each copy of them moved
        an ulp (backward.neighbours; none where no input is float32, or where the output is
        an integer one, compared exactly)."""
        from .backward import neighbours
        from .torch_dtypes import DTYPES

        honest = self.problem.target.honest
        assert honest is not None
        own = {p.name: DTYPES[p.dtype_on(config)] for p in self.problem.parameters
               if p.kind == "input"}
        given = {n: t.to(own[n]) for n, t in inputs.named.items()}
        scalars = self.problem.scalars(config)

        def run(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
            return self._outputs("the honest computation", honest, config, tensors,
                                 scalars)[name]

        declared = next(p for p in output_params(self.problem) if p.name == name)
        if not DTYPES[declared.dtype_on(config)].is_floating_point:
            # compared exactly (indices): a move of an ulp breaks the ties it must keep
            return [run(given)]
        return [run(tensors) for tensors in (given, *neighbours(given))]

    def _outputs(self, what: str, function: Callable[..., Any], config: Config,
                 tensors: dict[str, torch.Tensor], scalars: dict[str, int | float]
                 ) -> dict[str, torch.Tensor]:
        """What ``function`` returns, by output name, each checked and in float64: one
        tensor for one output; for several, one each in order, or a dict by name."""
        return outputs_of(what, function(**tensors, **scalars), output_params(self.problem),
                          config)

    def reference_rows(self, config: Config, inputs: InputSet, sample: RowSample,
                       emulate: torch.dtype | None = None, output: str | None = None,
                       exact: torch.Tensor | None = None) -> torch.Tensor:
        """The sample's rows of the exact ``output`` (``emulate`` None) or else of the honest
        one, computed whole (a target file computes whole outputs), and only the one asked
        for: a checked launch asks for each once, and hands the exact rows over to keep the
        farthest of the honest runs by (computed again where it does not)."""
        from .backward import farthest_rows

        name = self._name(output)
        if emulate is None or self.problem.target.honest is None:
            return sample.gather(self._exact(config, inputs)[name])
        given, *moved = (sample.gather(run) for run in self._honest(config, inputs, name))
        return farthest_rows(given, moved, exact,
                             lambda: sample.gather(self._exact(config, inputs)[name]))

    def baseline_missing(self, name: str) -> str | None:
        """Why the file's Baseline ``name`` cannot run in this process, asked once; a plain
        callable always can. A ``missing`` that raises counts as missing, in its words."""
        baseline = self.problem.target.baselines[name]
        if not isinstance(baseline, Baseline):
            return None
        if name not in self._missing:
            try:
                why = baseline.missing()
            except Exception as error:  # the user's code: its failure is the reason
                first = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
                why = f"its missing() raised {type(error).__name__}: {first}"
            self._missing[name] = str(why) if why else None
        return self._missing[name]


def outputs_of(what: str, returned: object, outputs: tuple[Param, ...], config: Config
               ) -> dict[str, torch.Tensor]:
    """``returned`` (a target function's value) by output name, each a tensor of its output's
    shape, in float64; one line naming what is wrong otherwise."""

    names = [p.name for p in outputs]
    if isinstance(returned, dict):
        if sorted(returned) != sorted(names):
            raise TargetFileError(f"{what} returned a dict of {', '.join(map(str, returned))} "
                                  f"on {config.name}, not of the outputs {', '.join(names)}")
        values = [returned[name] for name in names]
    elif isinstance(returned, tuple | list):
        if len(outputs) == 1:
            raise TargetFileError(f"{what} returned {len(returned)} values on {config.name}, "
                                  "and the entry point has one Output: declare an Output for "
                                  "each, each checked on its own, rather than packing them "
                                  "in one")
        values = list(returned)
        if len(values) != len(outputs):
            raise TargetFileError(f"{what} returned {len(values)} values on {config.name}, "
                                  f"not one for each of the outputs {', '.join(names)}")
    elif len(outputs) > 1:
        raise TargetFileError(f"{what} returned one value on {config.name}, not one for each "
                              f"of the outputs {', '.join(names)} (a tuple in order, or a dict)")
    else:
        values = [returned]
    return {param.name: _checked_output(what, value, param, config, len(outputs) > 1)
            for param, value in zip(outputs, values, strict=True)}


def _checked_output(what: str, out: object, expected: Param, config: Config, named: bool
                    ) -> torch.Tensor:
    import torch

    shape = expected.shape_on(config)
    about = f" for {expected.name}" if named else ""
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TargetFileError(f"{what} returned {got}{about} on {config.name}, not a tensor "
                              f"of {shape}")
    declared = expected.dtype_on(config)
    if not (out.is_floating_point() or out.is_complex()) and declared in FLOAT_DTYPES:
        kind = str(out.dtype).removeprefix("torch.")
        raise TargetFileError(f"{what} returned {kind} values on {config.name}, but "
                              f"{expected.name} is declared {declared}: declare "
                              f"Output({expected.name!r}, ..., dtype=\"int32\") (or the "
                              "integer dtype it is), and it is compared exactly, not "
                              "within a float tolerance")
    return out.to(torch.float64)


def tolerance_of(target: Target, out: Output | None = None) -> Tolerance:
    """The tolerance ``out`` (None: the first output) is held to: its own declared one, else
    the target's, else the built-in one for its dtype, derived from the honest computation.
    A declared tolerance's floors are the bounds (no honest error to scale). An integer
    output is compared exactly (judge.py), whatever this says."""
    out = out or next(p for p in target.parameters if isinstance(p, Output))
    declared = out.tolerance or target.tolerance
    if declared is None:
        return FP32_TOLERANCE if target.dtype_of(out) == "float32" else BF16_TOLERANCE
    return Tolerance(margin=1.0, rel_l2_floor=declared.rel_l2,
                     max_abs_ulps=declared.max_abs_ulps, row_rel_floor=declared.rel_l2,
                     declared=declared.why)


def spec_of(target: Target, source: TargetSource | None, seed_path: str | None, about: str = "",
            reload: Callable[[str], DeclaredProblem] | None = None) -> TargetSpec:
    """The TargetSpec of ``target``, loaded from ``source`` with its seed at ``seed_path`` (None:
    it has none); ``about`` is what the file says of itself (its docstring), which the agent is
    shown; ``reload`` loads its problem again by ref in another process (DeclaredProblem)."""
    problem = DeclaredProblem(target, source, reload)
    defaults = KIND_DEFAULTS[target.kind]
    score_by = target.score_by or "flops"  # validate saw to it that it is set

    def configs(group: tuple[Dims, ...]) -> tuple[Config, ...]:
        return tuple(configure(problem, dims) for dims in group)

    return TargetSpec(
        name=target.name,
        description=target.description,
        toolchain=defaults.toolchain,
        device=target.kind,
        problem=problem,
        entry=target.entry,
        configs=configs(tuple(dict(c) for c in target.configs)),
        edge_configs=configs(tuple(dict(c) for c in target.edge_configs)),
        quick_configs=configs(tuple(dict(c) for c in target.quick_configs)),
        tolerance=tolerance_of(target),
        output_tolerances={out.name: tolerance_of(target, out) for out in target.parameters
                           if isinstance(out, Output)},
        baselines=tuple(target.baselines),
        unit=defaults.units[score_by],
        time_budget_s=defaults.time_budget_s,
        timeout_s=defaults.timeout_s,
        gate_cap_s=defaults.gate_cap_s,
        max_plausible_ratio=defaults.max_plausible_ratio[score_by],
        max_plausible_jump=float(target.max_plausible_jump),
        seeds=() if seed_path is None else (Seed(seed_path, "the seed the target file names"),),
        notes=(about.strip(),) if about.strip() else (),
        source=source,
    )


def check_work(spec: TargetSpec, target: Target) -> None:
    """Every timed configuration's work (each kind ``target`` counts) is a positive number,
    and every configuration's scalars are numbers a 32-bit parameter holds."""
    for config in spec.configs:
        for kind in WORK_KINDS:
            count: Callable[[Dims], float] | None = getattr(target, kind)
            if count is None:
                continue
            try:
                work = float(count(dict(config.dims)))
            except Exception as error:  # the user's function
                raise TargetFileError(f"{kind} on {config.name} raised "
                                      f"{type(error).__name__}: {error}") from None
            if not math.isfinite(work) or work <= 0:
                raise TargetFileError(f"{kind} on {config.name} is {work}, not a positive "
                                      "number")
    for config in (*spec.configs, *spec.edge_configs, *spec.quick_configs):
        try:
            scalars = spec.problem.scalars(config)
        except Exception as error:
            raise TargetFileError(f"the scalars on {config.name} raised "
                                  f"{type(error).__name__}: {error}") from None
        for name, value in scalars.items():
            if isinstance(value, int) and not -(2**31) <= value < 2**31:
                raise TargetFileError(f"scalar {name} on {config.name} is {value}, past a "
                                      "32-bit int")
            if not math.isfinite(value):
                raise TargetFileError(f"scalar {name} on {config.name} is {value}")
