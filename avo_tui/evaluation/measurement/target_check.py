"""What ``avo targets check`` asks of a target before anyone evolves a kernel on it (the seed
aside, which the command scores through the real worker), and what ``avo eval`` and a new
session ask of a user's target file in the worker before anything is scored (check_target):
its draws make valid configurations; on small configurations and every input case, the
reference is finite, the honest computation is within its own tolerance, and every baseline
agrees with the reference within the tolerance, judged exactly as a kernel's output is
(judge.judge_output). A target whose reference and baselines disagree would score kernels
against the wrong answer.

A baseline is a witness that the reference is right, not a kernel the target must accept: on
a hostile input case, a baseline that disagrees where another baseline agrees is told as less
precise than the target asks, and the check goes on (cuDNN's backward on an H200 gave the
wrong sign on a flat row of gqa-bwd, a zero query over one repeated key, where
FlashAttention-2's agreed: benchmarks/RESULTS.md, issue 91). On the drawn inputs, or with no
baseline agreeing, a disagreement is refused as ever.

Each check raises target_api.TargetFileError, in one line, at its first failure.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ..results import ConfigResult, OutputErrors
from ..targets.api import TargetFileError
from ..targets.problem import (
    BaselineCall,
    BaselineDeclines,
    Config,
    InputSet,
    OutputSet,
    case_inputs,
    output_params,
)
from ..targets.spec import TargetSpec, draw_edge_configs
from .finite_reference import not_finite
from .judge import Rejected, judge_output
from .tensors import make_inputs, output_dtype

DRAW_SEEDS = 3  # evaluations whose drawn configurations are tried
# Where the CPU stands in for a GPU target's device, what it computes in float64 in seconds:
# an edge configuration of more work (attention at 4,097 keys, 137 GFLOP a reference, each
# input case and baseline again) is left for the check on a GPU, and the check says so.
CPU_STAND_IN_FLOPS = 1e10
CPU_STAND_IN_BYTES = 1e9


@dataclass
class Agreement:
    """What the numerics check saw: the configurations and cases, and per baseline (and for
    the honest computation) its worst error over its bound (the worse of whole and rows)."""

    configs: list[str] = field(default_factory=list)
    cases: tuple[str, ...] = ()
    worst: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # baselines not run here, and why
    # Per baseline, the configurations its library has no kernel for (BaselineDeclines), and why.
    declined: dict[str, dict[str, str]] = field(default_factory=dict)
    left_for_gpu: list[str] = field(default_factory=list)  # configurations too large here
    # Per baseline, its first disagreement on a hostile case where another baseline agreed.
    imprecise: dict[str, str] = field(default_factory=dict)


class Disagreement(TargetFileError):
    """A baseline or the honest computation judged outside the tolerance (one line)."""


def check_draws(spec: TargetSpec) -> int:
    """The configurations drawn for DRAW_SEEDS evaluations are valid; how many were drawn."""
    drawn = 0
    for seed in range(DRAW_SEEDS):
        try:
            drawn += len(draw_edge_configs(spec, random.Random(seed)))
        except (TargetFileError, ValueError) as error:
            raise TargetFileError(f"a drawn configuration is not valid: {error}") from None
        except Exception as error:  # the user's draw
            raise TargetFileError(f"draw raised {type(error).__name__}: {error}") from None
    return drawn


def check_target(spec: TargetSpec, device: str) -> None:
    """The draws, then the numerics on ``device``: all of the check but the seed."""
    check_draws(spec)
    check_numerics(spec, device)


def small_configs(spec: TargetSpec, device: str) -> tuple[tuple[Config, ...], tuple[Config, ...]]:
    """Where the numerics are checked on ``device``: the edge configurations, else the least
    timed one; and those left for a GPU, where the CPU stands in for one (the least of them
    always checked)."""
    configs = spec.edge_configs or (min(spec.configs, key=spec.work),)
    if spec.device == device:
        return configs, ()
    least = min(configs, key=spec.work)
    checked = tuple(c for c in configs if c is least or _small_for_a_cpu(c))
    return checked, tuple(c for c in configs if c not in checked)


def _small_for_a_cpu(config: Config) -> bool:
    flops, moved = config.work.flops, config.work.bytes
    return ((flops is None or flops <= CPU_STAND_IN_FLOPS)
            and (moved is None or moved <= CPU_STAND_IN_BYTES))


def check_numerics(spec: TargetSpec, device: str) -> Agreement:
    """Every small configuration under every input case, on ``device`` ("cpu" or "cuda")."""
    agreement = Agreement(cases=spec.problem.input_cases)
    numerics = spec.problem.numerics()
    for name in _baselines(spec):
        with _user_code(f"baseline {name}'s missing check", "this machine"):
            why = numerics.baseline_missing(name)
        if why:
            agreement.missing[name] = why
    checked, left = small_configs(spec, device)
    agreement.left_for_gpu = [c.name for c in left]
    for index, config in enumerate(checked):
        agreement.configs.append(config.name)
        for case in agreement.cases:
            generator = torch.Generator(device=device).manual_seed(index)
            _check_case(spec, config, case, generator, device, agreement)
    return agreement


def _check_case(spec: TargetSpec, config: Config, case: str, generator: torch.Generator,
                device: str, agreement: Agreement) -> None:
    numerics = spec.problem.numerics()
    where = f"{config.name} ({case_inputs(case)})"
    with _user_code(f"input case {case!r}", where):
        inputs = make_inputs(config, generator, device, case)
    outputs = output_params(config.problem)
    several = len(outputs) > 1
    honest_outs: dict[str, torch.Tensor] = {}
    for param in outputs:
        with _user_code("the reference or the honest computation", where):
            exact, honest = numerics.references(config, inputs, output_dtype(config, param.name),
                                                output=param.name if several else None)
        if not bool(torch.isfinite(exact).all()):
            raise not_finite(config, case, device, param.name if several else None)
        honest_outs[param.name] = honest
    if not spec.tolerance.declared:
        _judge(spec, "the honest computation", honest_outs, inputs, config, case, agreement,
               "is outside its own tolerance")
    witnesses: list[str] = []
    disagreements: list[tuple[str, Disagreement]] = []
    for name in _baselines(spec):
        if name in agreement.missing:
            continue
        make = numerics.baselines[name]
        try:
            with _user_code(f"baseline {name}", where):
                call = make(config)
                call.stage(inputs)
                out = call.run()
        except BaselineDeclines as why:
            if config not in spec.edge_configs:  # the evaluator times it there: an error
                raise TargetFileError(f"baseline {name} has no kernel for {config.name}, a "
                                      f"timed configuration: {why}") from None
            agreement.declined.setdefault(name, {})[config.name] = str(why)
            continue
        try:
            _judge(spec, f"baseline {name}", out, _answered(inputs, call), config, case,
                   agreement, "disagrees with the reference")
        except Disagreement as disagreement:
            disagreements.append((name, disagreement))
            continue
        witnesses.append(name)
    _weigh(disagreements, witnesses, case, agreement)


def _weigh(disagreements: list[tuple[str, Disagreement]], witnesses: list[str], case: str,
           agreement: Agreement) -> None:
    """The baselines that disagreed on one configuration and case (each by name, with its
    refusal), against those that agreed (``witnesses``): refused on the drawn inputs or where
    none agreed, else each told once as less precise than the target asks."""
    if not disagreements:
        return
    if case == "normal" or not witnesses:
        raise disagreements[0][1]
    agreeing = ", ".join(witnesses)
    for name, disagreement in disagreements:
        agreement.imprecise.setdefault(name, f"{disagreement} ({agreeing} agreed there)")


def _answered(inputs: InputSet, call: BaselineCall) -> InputSet:
    """The inputs ``call``'s result answers: ``inputs``, with what it computed for itself
    (BaselineCall.answers) in place of what it was given."""
    if call.answers is None:
        return inputs
    answered = inputs.clone()
    for name, value in call.answers().items():
        answered[name].copy_(value)
    return answered


def _baselines(spec: TargetSpec) -> list[str]:
    """The target's baselines: a built-in problem's numerics may time more (attention's serve
    the CPU target and the GPU ones), and only the target's own are its."""
    return [name for name in spec.baselines if name in spec.problem.numerics().baselines]


def _judge(spec: TargetSpec, what: str, out: object, inputs: InputSet, config: Config,
           case: str, agreement: Agreement, verdict: str) -> None:
    """``out`` (a tensor, or one per output) judged as a kernel's outputs on ``config`` would
    be; its worst ratio kept."""
    entry = ConfigResult(config, case=case)
    try:
        judge_output(spec.tolerance_for, inputs, _as_outputs(what, out, config, case), entry)
    except Rejected as rejected:  # its message names the case and the rule
        raise Disagreement(f"{what} {verdict} on {config.name}: "
                           f"{rejected.failure.message}") from None
    ratios = [error_ratio(entry), *(error_ratio(e) for e in entry.outputs.values())]
    agreement.worst[what] = max(agreement.worst.get(what, 0.0), *ratios)


def _as_outputs(what: str, out: object, config: Config, case: str) -> OutputSet:
    """What a function of the target returned, as the outputs a kernel writes (each in its
    dtype), checked for their number and shapes."""
    outputs = output_params(config.problem)
    values = list(out) if isinstance(out, tuple | list) and len(outputs) > 1 else [out]
    if isinstance(out, dict):
        values = [out.get(p.name) for p in outputs]
    if len(values) != len(outputs):
        raise TargetFileError(f"{what} returned {len(values)} values on {config.name} "
                              f"({case_inputs(case)}), not one for each of the outputs "
                              f"{', '.join(p.name for p in outputs)}")
    named = {}
    for param, value in zip(outputs, values, strict=True):
        shape = param.shape_on(config)
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            about = f" for {param.name}" if len(outputs) > 1 else ""
            raise TargetFileError(f"{what} returned {got}{about} on {config.name} "
                                  f"({case_inputs(case)}), not a tensor of {shape}")
        named[param.name] = value.to(output_dtype(config, param.name))
    return OutputSet(named)


def error_ratio(errors: ConfigResult | OutputErrors) -> float:
    """The largest of an output's errors over its bounds: whole (relative L2, max abs) and the
    worst row's; 0 where it was compared exactly (an integer output) or not at all."""
    whole = 0.0
    if errors.tolerance is not None:
        rel, abs_ = errors.tolerance
        if errors.rel_l2_err is not None and rel:
            whole = errors.rel_l2_err / rel
        if errors.max_abs_err is not None and abs_:
            whole = max(whole, errors.max_abs_err / abs_)
    return max(whole, errors.row_error_ratio or 0.0)


@contextmanager
def _user_code(what: str, where: str) -> Iterator[None]:
    """The user's code runs inside; its failure comes out in one line."""
    try:
        yield
    except (TargetFileError, BaselineDeclines):
        raise
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TargetFileError(f"{what} raised {type(error).__name__} on {where}: {first}"
                              ) from None


def numerics_device(spec: TargetSpec) -> str:
    """Where the check runs the numerics: the target's GPU where there is one, else the CPU."""
    return "cuda" if spec.device == "cuda" and torch.cuda.is_available() else "cpu"


# A seed whose error reaches this share of its tolerance on some draw passes by a small
# margin: another draw of the inputs (each evaluation draws its own) may fail it.
NARROW_MARGIN = 0.5
MARGIN_DRAWS = 3  # evaluations of the seed, each on inputs and shapes drawn afresh


@dataclass
class Margin:
    """The seed's closest approach to its tolerance over several draws: how close, where."""

    ratio: float = 0.0
    config: str = ""
    case: str = ""
    output: str = ""

    def take(self, entry: ConfigResult) -> None:
        ratios = [("", error_ratio(entry))]
        ratios += [(name, error_ratio(errors)) for name, errors in entry.outputs.items()]
        for output, ratio in ratios:
            if ratio > self.ratio:
                self.ratio, self.config, self.case, self.output = (ratio, entry.name,
                                                                   entry.case, output)

    def warning(self) -> str | None:
        if self.ratio < NARROW_MARGIN:
            return None
        which = f" ({self.output})" if self.output else ""
        return (f"the seed passes by a small margin: its error reached {self.ratio:.2f} of the "
                f"tolerance on {self.config}{which}, {case_inputs(self.case)}, over {MARGIN_DRAWS} "
                "draws; another draw may fail it (docs/targets.md, the tolerance's rules)")
