"""One evaluation, as the worker runs it: declarations, compile, correctness, timing, baselines.

Correctness comes first, on every configuration and edge shape, with fresh inputs from a
recorded seed and a NaN-poisoned output; the first failure ends the evaluation and the
candidate scores zero everywhere. Only then is each configuration timed, with inputs rotated
through more memory than the caches hold, and the last timed launch checked again.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import torch

from . import attention, contract
from .attention import InputSet
from .cpu import CpuDevice, MissingEntry
from .results import ConfigResult, EvalRequest, EvalResult, Failure, Timing
from .score import plausibility_flags
from .targets import Config, TargetSpec, get_target
from .timing import summarize, time_rotating
from .toolchains import CompileCache, ToolchainUnavailable, get_toolchain

# A steady-state launch this many times slower than the (cold) first one is not honest work.
UNSTABLE_TIMING_FACTOR = 4.0
MAX_ROTATING_SETS = 16
TIMING_ROUNDS = 3
CANDIDATE = "candidate"

Progress = Callable[[str, str], None]  # (phase, detail)


class Kernel(Protocol):
    def launch(self, config: Config, inputs: InputSet, out: torch.Tensor) -> None: ...
    def close(self) -> None: ...


class Rejected(Exception):
    def __init__(self, kind: str, message: str, config: str | None = None) -> None:
        super().__init__(message)
        self.failure = Failure(kind, message, config)


class Pipeline:
    """Lives in the worker for its whole life, so toolchains and measured peaks stay warm."""

    def __init__(self, device: str = "cpu", cache: CompileCache | None = None) -> None:
        if device != "cpu":
            raise ToolchainUnavailable(f"no evaluation device {device!r} in this build")
        self.device = CpuDevice()
        self.cache = cache or CompileCache()

    def run(self, request: EvalRequest, progress: Progress) -> EvalResult:
        started = time.perf_counter()
        target = get_target(request.target)
        seed = request.seed if request.seed is not None else secrets.randbits(62)
        result = EvalResult(
            target=target.name,
            toolchain=target.toolchain,
            device=self.device.name,
            unit=target.unit,
            seed=seed,
            quick=request.quick,
            host=self.device.host_info(),
        )
        kernel: Kernel | None = None
        try:
            result.knobs = self._declarations(request)
            kernel = self._build(target, request, result, progress)
            checked = self._check_all(target, kernel, request, seed, result, progress)
            self._time_all(target, kernel, request, seed, result, checked, progress)
            result.flags = plausibility_flags(
                result,
                target,
                self.device.peak_flops() / target.unit_scale,
                request.previous_best,
            )
        except Rejected as rejected:
            result.failure = rejected.failure
            for config in result.configs:
                config.throughput = 0.0
        finally:
            if kernel is not None:
                kernel.close()
        result.seconds = time.perf_counter() - started
        return result

    # -- stages ----------------------------------------------------------------------------

    @staticmethod
    def _declarations(request: EvalRequest) -> dict[str, str]:
        knobs: dict[str, str] = {}
        for name, text in request.sources.items():
            try:
                declared = contract.parse(text)
                declared.check_requirements()
            except contract.ContractError as error:
                raise Rejected("contract", f"{name}: {error}") from None
            knobs.update({k.name: k.value for k in declared.knobs})
        return knobs

    def _build(
        self, target: TargetSpec, request: EvalRequest, result: EvalResult, progress: Progress
    ) -> Kernel:
        progress("compile", ", ".join(request.sources))
        try:
            toolchain = get_toolchain(target.toolchain, self.cache)
            compiled = toolchain.compile(request.sources, request.options)
        except ToolchainUnavailable as error:
            raise Rejected("toolchain", str(error)) from None
        result.compile = compiled
        if not compiled.ok or compiled.artifact is None:
            raise Rejected("compile", compiled.summary().removeprefix("compile failed: "))
        try:
            return self.device.load(compiled.artifact, target.entry)
        except MissingEntry as error:
            raise Rejected("entry", str(error)) from None
        except OSError as error:
            raise Rejected("entry", f"cannot load the compiled kernel: {error}") from None

    def _check_all(
        self,
        target: TargetSpec,
        kernel: Kernel,
        request: EvalRequest,
        seed: int,
        result: EvalResult,
        progress: Progress,
    ) -> dict[Config, float]:
        """Check every configuration; return each timed one's first-launch seconds."""
        grid = target.grid(request.quick)
        todo = [(c, False) for c in grid] + [(c, True) for c in target.edge_configs]
        first_launch: dict[Config, float] = {}
        for index, (config, edge) in enumerate(todo):
            progress("check", f"{config.name} ({index + 1}/{len(todo)})")
            entry = ConfigResult(config, edge=edge, primary_baseline=target.baselines[0])
            result.configs.append(entry)
            inputs = attention.make_inputs(config, _generator(seed, index), self.device.name)
            pristine = inputs.clone()
            out = attention.empty_output(config, self.device.name)
            out.fill_(math.nan)
            start = time.perf_counter()
            kernel.launch(config, inputs, out)
            self.device.synchronize()
            first_launch[config] = time.perf_counter() - start
            if not inputs.equal(pristine):
                entry.passed = False
                raise Rejected(
                    "inputs_modified", "q, k or v changed during the launch", config.name
                )
            self._verify(target, config, inputs, out, entry, "incorrect")
        return first_launch

    def _verify(
        self,
        target: TargetSpec,
        config: Config,
        inputs: InputSet,
        out: torch.Tensor,
        entry: ConfigResult,
        kind: str,
    ) -> None:
        errors = attention.compare(out, attention.reference(config, inputs))
        entry.max_abs_err, entry.rel_l2_err = errors.max_abs, errors.rel_l2
        tol = target.tolerance
        if not errors.finite:
            entry.passed = False
            count = int((~torch.isfinite(out)).sum())
            what = "after the timed launches" if kind == "stale_output" else "in the output"
            raise Rejected(
                "nonfinite" if kind == "incorrect" else kind,
                f"{count} of {out.numel()} output values are NaN or Inf {what}",
                config.name,
            )
        if errors.rel_l2 > tol.rel_l2 or errors.max_abs > tol.max_abs:
            entry.passed = False
            when = " on the last timed launch" if kind == "stale_output" else ""
            raise Rejected(
                kind,
                f"relative L2 error {errors.rel_l2:.3g} (tolerance {tol.rel_l2:g}), "
                f"max abs error {errors.max_abs:.3g} (tolerance {tol.max_abs:g}){when}",
                config.name,
            )
        entry.passed = True

    def _time_all(
        self,
        target: TargetSpec,
        kernel: Kernel,
        request: EvalRequest,
        seed: int,
        result: EvalResult,
        first_launch: dict[Config, float],
        progress: Progress,
    ) -> None:
        timed = [c for c in result.configs if not c.edge]
        for index, entry in enumerate(timed):
            progress("time", f"{entry.name} ({index + 1}/{len(timed)})")
            sets = self._rotating_inputs(entry.config, _generator(seed, 1_000_000 + index))
            baselines = target.baselines if request.measure_baselines else ()
            self._time_config(target, kernel, entry, sets, baselines)
            self._check_steady(entry.config, entry.timing, first_launch[entry.config])

    def _time_config(
        self,
        target: TargetSpec,
        kernel: Kernel,
        entry: ConfigResult,
        sets: list[InputSet],
        baselines: tuple[str, ...],
    ) -> None:
        """Time the baselines and the candidate in alternating rounds, so a machine that slows
        down for a while slows both and their ratio holds; then check the last launch."""
        config = entry.config
        out = attention.empty_output(config, self.device.name)
        launches: dict[str, Callable[[int], object]] = {
            name: _baseline_launch(name, config, sets) for name in baselines
        }
        launches[CANDIDATE] = lambda i: kernel.launch(config, sets[i], out)
        samples: dict[str, list[float]] = {name: [] for name in launches}
        budget = target.time_budget_s / TIMING_ROUNDS
        last = 0
        for round_ in range(TIMING_ROUNDS):
            final = round_ == TIMING_ROUNDS - 1
            for name, launch in launches.items():  # the candidate goes last in every round
                times, last = time_rotating(
                    launch, len(sets), budget, clock=self.device.clock,
                    before_last=(lambda: out.fill_(math.nan)) if final else None,
                )
                samples[name] += times
        self._verify(target, config, sets[last], out, ConfigResult(config), "stale_output")
        entry.timing = summarize(samples.pop(CANDIDATE))
        entry.throughput = config.flops / entry.timing.median_s / target.unit_scale
        for name, times in samples.items():
            entry.baseline_timings[name] = timing = summarize(times)
            entry.baselines[name] = config.flops / timing.median_s / target.unit_scale

    def _rotating_inputs(self, config: Config, generator: torch.Generator) -> list[InputSet]:
        """Enough input sets that cycling through them evicts every cache (at least two)."""
        sets = [attention.make_inputs(config, generator, self.device.name)]
        wanted = math.ceil(self.device.flush_bytes / sets[0].nbytes)
        while len(sets) < min(MAX_ROTATING_SETS, max(2, wanted)):
            sets.append(attention.make_inputs(config, generator, self.device.name))
        return sets

    @staticmethod
    def _check_steady(config: Config, timing: Timing, first_s: float) -> None:
        if timing.median_s > UNSTABLE_TIMING_FACTOR * first_s and timing.median_s - first_s > 1e-3:
            raise Rejected(
                "unstable_timing",
                f"the first launch took {first_s * 1e3:.3g} ms but timed launches take a median "
                f"of {timing.median_s * 1e3:.3g} ms ({timing.median_s / first_s:.1f}x slower); "
                "a kernel must do the same work on every launch",
                config.name,
            )


def _baseline_launch(name: str, config: Config, sets: list[InputSet]) -> Callable[[int], object]:
    run = attention.BASELINES[name](config)
    return lambda i: run(sets[i])


def _generator(seed: int, stream: int) -> torch.Generator:
    """Independent, reproducible streams of inputs: one per configuration and purpose."""
    return torch.Generator().manual_seed((seed * 1_000_003 + stream) % (1 << 63))
