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
from pathlib import Path
from typing import Protocol

import torch

from . import attention, contract
from .attention import InputSet
from .contract import Declarations, MissingEntry
from .cpu import CpuDevice
from .gpu import is_device_fault
from .results import ConfigResult, EvalRequest, EvalResult, Failure, Timing
from .score import plausibility_flags
from .targets import Config, get_target
from .timing import summarize
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


class Device(Protocol):
    name: str
    arch: str | None
    flush_bytes: int

    def load(
        self, artifact: Path, entry: str, declarations: Declarations, defines: dict[str, object]
    ) -> Kernel: ...
    def synchronize(self) -> None: ...
    def time_rotating(
        self,
        launch: Callable[[int], object],
        sets: int,
        budget_s: float,
        before_last: Callable[[], object] | None = None,
    ) -> tuple[list[float], int]: ...
    def generator(self, seed: int) -> torch.Generator: ...
    def peak_flops(self) -> float: ...
    def host_info(self) -> dict[str, object]: ...


class Rejected(Exception):
    def __init__(self, kind: str, message: str, config: str | None = None) -> None:
        super().__init__(message)
        self.failure = Failure(kind, message, config)


class Pipeline:
    """Lives in the worker for its whole life, so toolchains and measured peaks stay warm."""

    def __init__(self, device: str = "cpu", cache: CompileCache | None = None) -> None:
        self.device = open_device(device)
        self.cache = cache or CompileCache()
        self.poisoned = False  # a CUDA fault left the context unusable: the worker must go
        self.baseline_timings: dict[tuple[str, Config], Timing] = {}

    def run(self, request: EvalRequest, progress: Progress) -> EvalResult:
        return Evaluation(self, request, progress).run()


class Evaluation:
    """The state of one evaluation, shared by its stages."""

    def __init__(self, pipeline: Pipeline, request: EvalRequest, progress: Progress) -> None:
        self.pipeline = pipeline
        self.device = pipeline.device
        self.cache = pipeline.cache
        self.request = request
        self.progress = progress
        self.target = get_target(request.target)
        self.seed = request.seed if request.seed is not None else secrets.randbits(62)
        self.result = EvalResult(
            target=self.target.name,
            toolchain=self.target.toolchain,
            device=self.device.name,
            unit=self.target.unit,
            seed=self.seed,
            quick=request.quick,
            host=self.device.host_info(),
        )
        self.first_launch_s: dict[Config, float] = {}
        self.declared = Declarations((), ())

    def run(self) -> EvalResult:
        started = time.perf_counter()
        result, target = self.result, self.target
        kernel: Kernel | None = None
        try:
            result.knobs = self.declarations()
            kernel = self.build()
            self.check_all(kernel)
            self.time_all(kernel)
            peak = self.device.peak_flops() / target.unit_scale
            result.flags = plausibility_flags(result, target, peak, self.request.previous_best)
        except Rejected as rejected:
            result.failure = rejected.failure
        except Exception as error:
            if not is_device_fault(error):
                raise
            self.pipeline.poisoned = True
            result.failure = Failure("cuda_error", _first_line(error), self._current_config())
        finally:
            if result.failure is not None:
                for config in result.configs:
                    config.throughput = 0.0
            if kernel is not None:
                kernel.close()
        result.seconds = time.perf_counter() - started
        return result

    # -- stages ----------------------------------------------------------------------------

    def declarations(self) -> dict[str, str]:
        """Parse every file's declarations into one set; check the requirements."""
        knobs: list[contract.Knob] = []
        requires: list[tuple[int, str]] = []
        launch: dict[str, str] = {}
        defines: dict[str, str] = {}
        for name, text in self.request.sources.items():
            try:
                declared = contract.parse(text)
                declared.check_requirements(self.target.defines)
            except contract.ContractError as error:
                raise Rejected("contract", f"{name}: {error}") from None
            knobs += declared.knobs
            requires += declared.requires
            launch |= declared.launch
            defines |= declared.defines
        self.declared = Declarations(tuple(knobs), tuple(requires), launch, defines)
        return {k.name: k.value for k in knobs}

    def build(self) -> Kernel:
        sources = self.request.sources
        self.progress("compile", ", ".join(sources))
        try:
            toolchain = get_toolchain(self.target.toolchain, self.cache, self.device.arch)
            options = tuple(f"-D{k}={v}" for k, v in self.target.defines.items())
            compiled = toolchain.compile(sources, options + self.request.options)
        except ToolchainUnavailable as error:
            raise Rejected("toolchain", str(error)) from None
        self.result.compile = compiled
        if not compiled.ok or compiled.artifact is None:
            raise Rejected("compile", compiled.summary().removeprefix("compile failed: "))
        try:
            kernel = self.device.load(
                compiled.artifact, self.target.entry, self.declared, dict(self.target.defines)
            )
        except MissingEntry as error:
            raise Rejected("entry", str(error)) from None
        except contract.ContractError as error:
            raise Rejected("contract", str(error)) from None
        except OSError as error:
            raise Rejected("entry", f"cannot load the compiled kernel: {error}") from None
        if "registers" not in compiled.resources and hasattr(kernel, "resources"):
            compiled.resources.update(kernel.resources())
        return kernel

    def check_all(self, kernel: Kernel) -> None:
        """Check every configuration and edge shape, remembering each first launch's time."""
        target = self.target
        todo = [(c, False) for c in target.grid(self.request.quick)]
        todo += [(c, True) for c in target.edge_configs]
        for index, (config, edge) in enumerate(todo):
            self.progress("check", f"{config.name} ({index + 1}/{len(todo)})")
            entry = ConfigResult(config, edge=edge, primary_baseline=target.baselines[0])
            self.result.configs.append(entry)
            inputs = attention.make_inputs(config, self.generator(index), self.device.name)
            pristine = inputs.clone()
            out = attention.empty_output(config, self.device.name)
            out.fill_(math.nan)
            start = time.perf_counter()
            try:
                kernel.launch(config, inputs, out)
            except contract.ContractError as error:  # geometry or a tensor map, per config
                raise Rejected("contract", str(error), config.name) from None
            self.device.synchronize()
            self.first_launch_s[config] = time.perf_counter() - start
            if not inputs.equal(pristine):
                entry.passed = False
                raise Rejected(
                    "inputs_modified", "q, k or v changed during the launch", config.name
                )
            self.verify(inputs, out, entry, "incorrect")

    def verify(self, inputs: InputSet, out: torch.Tensor, entry: ConfigResult, kind: str) -> None:
        config = entry.config
        errors = attention.compare(out, attention.reference(config, inputs))
        entry.max_abs_err, entry.rel_l2_err = errors.max_abs, errors.rel_l2
        tol = self.target.tolerance
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

    def time_all(self, kernel: Kernel) -> None:
        timed = self.result.timed
        baselines = self.target.baselines if self.request.measure_baselines else ()
        known = self.pipeline.baseline_timings
        for index, entry in enumerate(timed):
            self.progress("time", f"{entry.name} ({index + 1}/{len(timed)})")
            sets = self.rotating_inputs(entry.config, self.generator(1_000_000 + index))
            reused = self.known_baselines(entry.config, baselines)
            fresh = tuple(name for name in baselines if name not in reused)
            self.time_config(kernel, entry, sets, fresh)
            self.check_steady(entry.config, entry.timing)
            for name in fresh:
                known[name, entry.config] = entry.baseline_timings[name]
            for name, timing in reused.items():
                entry.add_baseline(name, timing, self.target.unit_scale)

    def known_baselines(self, config: Config, baselines: tuple[str, ...]) -> dict[str, Timing]:
        """Baseline timings to reuse: this worker's own first, then the request's."""
        if not self.request.reuse_baselines:
            return {}
        given = self.request.known_baselines.get(config.name, {})
        known = self.pipeline.baseline_timings
        return {
            name: known.get((name, config)) or given[name]
            for name in baselines
            if (name, config) in known or name in given
        }

    def time_config(
        self,
        kernel: Kernel,
        entry: ConfigResult,
        sets: list[InputSet],
        baselines: tuple[str, ...],
    ) -> None:
        """Time the baselines and the candidate in alternating rounds, so a machine that slows
        down for a while slows both and their ratio holds; then check the last launch."""
        config, scale = entry.config, self.target.unit_scale
        out = attention.empty_output(config, self.device.name)
        launches: dict[str, Callable[[int], object]] = {
            name: _baseline_launch(name, config, sets) for name in baselines
        }
        launches[CANDIDATE] = lambda i: kernel.launch(config, sets[i], out)
        samples: dict[str, list[float]] = {name: [] for name in launches}
        budget = self.target.time_budget_s / TIMING_ROUNDS
        last = 0
        for round_ in range(TIMING_ROUNDS):
            final = round_ == TIMING_ROUNDS - 1
            for name, launch in launches.items():  # the candidate goes last in every round
                times, last = self.device.time_rotating(
                    launch,
                    len(sets),
                    budget,
                    before_last=(
                        (lambda: out.fill_(math.nan)) if final and name == CANDIDATE else None
                    ),
                )
                samples[name] += times
        self.verify(sets[last], out, ConfigResult(config), "stale_output")
        entry.timing = summarize(samples.pop(CANDIDATE))
        entry.throughput = config.flops / entry.timing.median_s / scale
        for name, times in samples.items():
            entry.add_baseline(name, summarize(times), scale)

    def rotating_inputs(self, config: Config, generator: torch.Generator) -> list[InputSet]:
        """Enough input sets that cycling through them evicts every cache (at least two)."""
        sets = [attention.make_inputs(config, generator, self.device.name)]
        wanted = math.ceil(self.device.flush_bytes / sets[0].nbytes)
        while len(sets) < min(MAX_ROTATING_SETS, max(2, wanted)):
            sets.append(attention.make_inputs(config, generator, self.device.name))
        return sets

    def check_steady(self, config: Config, timing: Timing | None) -> None:
        first_s = self.first_launch_s[config]
        if timing is None:
            return
        if timing.median_s > UNSTABLE_TIMING_FACTOR * first_s and timing.median_s - first_s > 1e-3:
            raise Rejected(
                "unstable_timing",
                f"the first launch took {first_s * 1e3:.3g} ms but timed launches take a median "
                f"of {timing.median_s * 1e3:.3g} ms ({timing.median_s / first_s:.1f}x slower); "
                "a kernel must do the same work on every launch",
                config.name,
            )

    def generator(self, stream: int) -> torch.Generator:
        """Independent, reproducible streams of inputs: one per configuration and purpose."""
        return self.device.generator((self.seed * 1_000_003 + stream) % (1 << 63))

    def _current_config(self) -> str | None:
        return self.result.configs[-1].name if self.result.configs else None


def open_device(name: str) -> Device:
    if name == "cpu":
        return CpuDevice()
    if name == "cuda" or name.startswith("cuda:"):
        from .gpu import CudaDevice

        if not torch.cuda.is_available():
            raise ToolchainUnavailable("no CUDA GPU is visible to torch on this machine")
        return CudaDevice(int(name.partition(":")[2] or 0))
    raise ToolchainUnavailable(f"no evaluation device {name!r} (use cpu or cuda[:N])")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _baseline_launch(name: str, config: Config, sets: list[InputSet]) -> Callable[[int], object]:
    run = attention.BASELINES[name](config)
    return lambda i: run(sets[i])
