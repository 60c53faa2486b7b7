"""One evaluation, as the worker runs it: declarations, compile, correctness, timing, baselines.

Correctness comes first: every configuration, the fixed edge shapes, and shapes and input cases
drawn from the evaluation's seed (knowledge/kernel-contract.md), each on fresh inputs with a
NaN-poisoned output, against a float64 reference, within a tolerance derived from the error an
honest computation at the target's precision makes on the same inputs. The first failure ends
the evaluation and the candidate scores zero everywhere.

Then each configuration is timed launch by launch beside what the candidate is compared with:
the baselines, in three rounds (time_config); or the incumbent, the best version, in paired
blocks until the sequential rule of paired.py decides (time_beside), the baselines in the
first sweeps' blocks where they are timed afresh. Every launch runs on input values never
seen before, a poisoned output and a cold cache; launches drawn at random are checked against
the reference right after they ran, on rows of every (batch, head) pair.
"""

from __future__ import annotations

import math
import random
import secrets
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import torch

from . import attention, contract
from .attention import InputSet, RowSample
from .contract import Declarations, MissingEntry
from .cpu import CpuDevice, KernelCrashed
from .gpu import is_device_fault
from .judge import Rejected, judge_output, judge_sample
from .paired import (
    MIN_SWEEPS,
    PAIRS_PER_BLOCK,
    GatePlan,
    PairedGain,
    block_value,
    decide,
    describe,
    is_look,
)
from .results import ConfigResult, EvalRequest, EvalResult, Failure, Timing, kernel_identity
from .score import plausibility_flags
from .targets import Config, draw_edge_configs, get_target
from .timing import (
    MAX_REPS,
    MIN_REPS,
    Launch,
    Subject,
    beside_logs,
    beside_timing,
    choose_verified,
    is_unsteady,
    neighbour_ratios,
    steadiness,
    summarize,
)
from .toolchains import (
    ArtifactTampered,
    CompileCache,
    CompileResult,
    ToolchainUnavailable,
    get_toolchain,
)
from .toolchains.base import read_artifact

AGAIN_STREAM = 1 << 20  # the inputs of a first launch measured again (check_steady)
AGAIN_LOOKS = 3  # fresh first launches that must all be slow before the machine is blamed
TIMING_ROUNDS = 3
VERIFIED_PER_ROUND = 2  # candidate launches checked against the reference in each round
INPUT_SLOTS = 2  # timed launches alternate between buffers: new values at new addresses too
# Part of the host facts: baseline timings taken under another timing protocol are not reused.
TIMING_PROTOCOL = 4  # 4: ratios to baselines from launches side by side (2026-11-24)
CHECK_CHANCE = 0.5  # of each kernel's launches in a block beside the best, one is checked
CYCLES_PER_CALL = 4  # turns of the candidate and the baselines timed between host checks
CONSISTENCY_SAMPLES = 5  # checked launches over the grid before their times are judged
CANDIDATE = "candidate"
INCUMBENT = "incumbent"

Progress = Callable[[str, str], None]  # (phase, detail)


class Kernel(Protocol):
    """A loaded candidate. ``stage`` and ``settle`` run outside the timed interval, ``fire``
    is the launch the clock measures."""

    def stage(self, config: Config, inputs: InputSet, out: torch.Tensor) -> None: ...
    def fire(self) -> float | None: ...
    def settle(self, inputs: InputSet, out: torch.Tensor) -> None: ...
    def launch(self, config: Config, inputs: InputSet, out: torch.Tensor) -> None: ...
    def signature(self, config: Config) -> object:
        """How the kernel is launched on ``config`` (geometry, tensor maps), as plain data."""
        ...
    def renew(self) -> None:
        """Start the next timing round afresh where that means something (a new process for a
        C kernel): what sticks to one process, such as its memory layout, then varies from
        round to round, where the gate's noise estimate sees it."""
        ...
    @property
    def fresh_on_renew(self) -> bool:
        """Whether renew gives a fresh process, where the next launch is a first one again."""
        ...
    def check_idle(self) -> str | None: ...
    def close(self) -> None: ...


class Device(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def arch(self) -> str | None: ...
    @property
    def consistency_factor(self) -> float:
        """Checked launches may take this times the median of all launches, no more."""
        ...

    def load(
        self, artifact: bytes, entry: str, declarations: Declarations, defines: dict[str, object]
    ) -> Kernel: ...
    def synchronize(self) -> None: ...
    def flush_cache(self) -> None: ...
    def time_sequence(self, warm: list[Subject], launches: list[Launch]) -> list[float]: ...
    def generator(self, seed: int) -> torch.Generator: ...
    def peak_flops(self) -> float: ...
    def facts(self) -> dict[str, object]:
        """The device's limits and measured peak, as the agent's prompt states them."""
        ...
    def host_info(self) -> dict[str, object]: ...


class Pipeline:
    """Lives in the worker for its whole life, so toolchains and measured peaks stay warm."""

    def __init__(self, device: str = "cpu", cache: CompileCache | None = None) -> None:
        self.device = open_device(device)
        self.cache = cache or CompileCache()
        self.poisoned = False  # a CUDA fault left the context unusable: the worker must go
        self.baseline_timings: dict[tuple[str, Config], Timing] = {}
        self.said: set[str] = set()  # notes given once per worker (a baseline it cannot time)

    def host_info(self) -> dict[str, object]:
        return self.device.host_info() | {"timing_protocol": TIMING_PROTOCOL}

    def run(self, request: EvalRequest, progress: Progress) -> EvalResult:
        return Evaluation(self, request, progress).run()


class InputPool:
    """The input buffers of one configuration's timing. ``advance`` fills the next buffer with
    values drawn from a new seed; ``regenerate`` draws the current values again, into new
    memory, after the launch (a kernel cannot reach what does not exist yet)."""

    def __init__(self, config: Config, device: Device, seeds: random.Random) -> None:
        self.config = config
        self.device_name = device.name
        self.generator = device.generator(0)
        self.seeds = seeds
        self.slots = [
            attention.make_inputs(config, self.generator, device.name) for _ in range(INPUT_SLOTS)
        ]
        self.index = 0
        self.seed = 0

    @property
    def current(self) -> InputSet:
        return self.slots[self.index]

    def advance(self) -> InputSet:
        self.index = (self.index + 1) % len(self.slots)
        self.seed = self.seeds.getrandbits(62)
        attention.refill(self.current, self.generator.manual_seed(self.seed))
        return self.current

    def regenerate(self) -> InputSet:
        self.generator.manual_seed(self.seed)
        return attention.make_inputs(self.config, self.generator, self.device_name)


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
        # Shapes, input cases, which launches are checked, which rows: all from the seed, which
        # only the harness knows; --seed reproduces an evaluation.
        self.draws = random.Random(self.seed)
        self.result = EvalResult(
            target=self.target.name,
            toolchain=self.target.toolchain,
            device=self.device.name,
            unit=self.target.unit,
            seed=self.seed,
            quick=request.quick,
            host=pipeline.host_info(),
        )
        self.first_launch_s: dict[Config, float] = {}

    def run(self) -> EvalResult:
        started = time.perf_counter()
        result, target = self.result, self.target
        kernels: list[Kernel] = []
        try:
            declared = self.declarations(self.request.sources)
            result.knobs = {k.name: k.value for k in declared.knobs}
            compiled = result.compile = self.compile(self.request.sources)
            kernel = self.load(compiled, declared, kernels)
            result.kernel_id = self.identify(compiled, kernel)
            incumbent = self.build_incumbent(kernels)
            if not result.same_as_incumbent:
                self.check_all(kernel)
                self.time_all(kernel, incumbent)
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
            for loaded in kernels:
                loaded.close()
        if not self.pipeline.poisoned:  # measured once per worker, then cached by the device
            result.hardware = self.device.facts()
        result.seconds = time.perf_counter() - started
        return result

    # -- stages ----------------------------------------------------------------------------

    def declarations(self, sources: Mapping[str, str]) -> Declarations:
        """Parse every file's declarations into one set; check the requirements."""
        knobs: list[contract.Knob] = []
        requires: list[tuple[int, str]] = []
        launch: dict[str, str] = {}
        defines: dict[str, str] = {}
        for name, text in sources.items():
            try:
                declared = contract.parse(text)
                declared.check_requirements(self.target.defines)
            except contract.ContractError as error:
                raise Rejected("contract", f"{name}: {error}") from None
            knobs += declared.knobs
            requires += declared.requires
            launch |= declared.launch
            defines |= declared.defines
        return Declarations(tuple(knobs), tuple(requires), launch, defines)

    def compile(self, sources: Mapping[str, str]) -> CompileResult:
        self.progress("compile", ", ".join(sources))
        try:
            toolchain = get_toolchain(self.target.toolchain, self.cache, self.device.arch)
            options = tuple(f"-D{k}={v}" for k, v in self.target.defines.items())
            return toolchain.compile(sources, options + self.request.options)
        except ToolchainUnavailable as error:
            raise Rejected("toolchain", str(error)) from None

    def load(self, compiled: CompileResult, declared: Declarations, loaded: list[Kernel]) -> Kernel:
        if not compiled.ok or compiled.artifact is None:
            raise Rejected("compile", compiled.summary().removeprefix("compile failed: "))
        try:
            artifact = read_artifact(compiled)
            defines = dict(self.target.defines)
            kernel = self.device.load(artifact, self.target.entry, declared, defines)
        except ArtifactTampered as error:
            raise Rejected(
                "internal", f"the compiled kernel changed before loading: {error}"
            ) from None
        except MissingEntry as error:
            raise Rejected("entry", str(error)) from None
        except contract.ContractError as error:
            raise Rejected("contract", str(error)) from None
        except KernelCrashed as error:
            raise Rejected("crash", str(error)) from None
        except OSError as error:
            raise Rejected("entry", f"cannot load the compiled kernel: {error}") from None
        loaded.append(kernel)
        if "registers" not in compiled.resources and hasattr(kernel, "resources"):
            compiled.resources.update(kernel.resources())
        return kernel

    def identify(self, compiled: CompileResult, kernel: Kernel) -> str:
        """What the kernel is, for deciding whether two sources are one kernel: the compiled
        code and how it is launched on every timed configuration. Comments, layout, unused
        macros and renamed locals change neither."""
        launches = []
        for config in self.target.grid(self.request.quick):
            try:
                launches.append(kernel.signature(config))
            except contract.ContractError as error:  # geometry that fails on this config
                raise Rejected("contract", str(error), config.name) from None
        return kernel_identity(compiled.artifact_sha256, launches)

    def build_incumbent(self, loaded: list[Kernel]) -> Kernel | None:
        """The best version, to time beside the candidate; None when there is none, when the
        candidate is the very same kernel (``same_as_incumbent``: nothing is timed), or when
        it no longer builds here (the gate then falls back to its stored score)."""
        sources = self.request.incumbent
        if sources is None:
            return None
        try:
            compiled = self.compile(sources)
            incumbent = self.load(compiled, self.declarations(sources), loaded)
            self.result.incumbent_kernel_id = self.identify(compiled, incumbent)
        except Rejected as rejected:
            self.progress("incumbent", f"not timed: {rejected.failure}")
            return None
        if self.result.incumbent_kernel_id == self.result.kernel_id:
            self.result.same_as_incumbent = True
            return None
        return incumbent

    def check_all(self, kernel: Kernel) -> None:
        """Check every configuration, edge shape and drawn case, remembering each timed
        configuration's first launch time."""
        target = self.target
        todo = [(c, False, "normal") for c in target.grid(self.request.quick)]
        todo += [(c, True, "normal") for c in target.edge_configs]
        todo += [(c, True, case) for c, case in draw_edge_configs(target, self.draws)]
        for index, (config, edge, case) in enumerate(todo):
            self.progress("check", f"{config.name} {case} ({index + 1}/{len(todo)})")
            entry = ConfigResult(
                config, edge=edge, primary_baseline=target.baselines[0], case=case
            )
            self.result.configs.append(entry)
            inputs = attention.make_inputs(config, self.generator(index), self.device.name, case)
            pristine = inputs.clone()
            out = attention.empty_output(config, self.device.name)
            out.fill_(math.nan)
            start = time.perf_counter()
            try:
                kernel.launch(config, inputs, out)
            except contract.ContractError as error:  # geometry or a tensor map, per config
                raise Rejected("contract", str(error), config.name) from None
            except KernelCrashed as error:
                raise Rejected("crash", str(error), config.name) from None
            self.device.synchronize()
            if not edge:
                self.first_launch_s[config] = time.perf_counter() - start
            if not inputs.equal(pristine):
                entry.passed = False
                raise Rejected(
                    "inputs_modified", "q, k or v changed during the launch", config.name
                )
            self.check_output(pristine, out, entry)

    def check_output(self, inputs: InputSet, out: torch.Tensor, entry: ConfigResult) -> None:
        judge_output(self.target.tolerance, inputs, out, entry)

    def check_rows(self, config: Config, inputs: InputSet, out: torch.Tensor) -> None:
        sample = RowSample.draw(config, self.draws)
        judge_sample(self.target.tolerance, config, inputs, out, sample)

    def time_all(self, kernel: Kernel, incumbent: Kernel | None) -> None:
        timed = self.result.timed
        baselines, missing = self.measured_baselines()
        known = self.pipeline.baseline_timings
        fresh: dict[str, tuple[str, ...]] = {}
        for index, entry in enumerate(timed):
            reused = self.known_baselines(entry.config, baselines)
            fresh[entry.name] = tuple(name for name in baselines if name not in reused)
            if incumbent is None:
                self.progress("time", f"{entry.name} ({index + 1}/{len(timed)})")
                self.time_config(kernel, entry, fresh[entry.name])
            for name, timing in reused.items():
                entry.add_baseline(name, timing, self.target.unit_scale)
        if incumbent is not None:
            self.time_beside(kernel, incumbent, fresh)
        for entry in timed:
            for name in fresh[entry.name]:
                known[name, entry.config] = entry.baseline_timings[name]
        self.check_consistent(timed)
        for entry in timed:
            self.check_steady(kernel, entry.config, entry.timing)
        fresh_notes = [note for note in missing if note not in self.pipeline.said]
        self.pipeline.said.update(fresh_notes)  # once per worker, not on every attempt
        self.result.notes.extend(fresh_notes)

    def check_idle(self, kernel: Kernel, incumbent: Kernel | None, config: str) -> None:
        problem = kernel.check_idle()
        if problem:
            raise Rejected("background_work", problem, config)
        problem = incumbent.check_idle() if incumbent is not None else None
        if problem:
            raise Rejected("incumbent_failed", f"the best version, timed beside the "
                           f"candidate, failed a check: background_work: {problem}", config)

    def measured_baselines(self) -> tuple[tuple[str, ...], list[str]]:
        """The target's baselines this process can time, and why each other one cannot (FA4
        without its package): the evaluation goes on without those."""
        if not self.request.measure_baselines:
            return (), []
        names, missing = [], []
        for name in self.target.baselines:
            why = attention.baseline_missing(name)
            if why:
                missing.append(f"{name} not measured: {why}")
            else:
                names.append(name)
        return tuple(names), missing

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

    def time_config(self, kernel: Kernel, entry: ConfigResult, baselines: tuple[str, ...]
                    ) -> None:
        """Time the candidate and the baselines launch by launch in turn, in three rounds
        (new processes for a C kernel each round, who goes first rotating), so that whatever
        slows the machine slows them alike and their ratios hold."""
        config, scale = entry.config, self.target.unit_scale
        pool = InputPool(config, self.device, random.Random(self.draws.getrandbits(64)))
        candidate = self._kernel_subject(CANDIDATE, kernel, config, pool)
        cycle = [candidate, *(self._baseline_subject(name, config, pool) for name in baselines)]
        times: dict[str, list[float]] = {s.name: [] for s in cycle}
        logs: dict[str, list[float]] = {}
        budget = self.target.time_budget_s * len(cycle) / TIMING_ROUNDS
        first_s = self.first_launch_s.get(config, 0.0)
        expected = max(1, int(0.5 * budget / len(cycle) / max(first_s, 1e-6)))
        for round_ in range(TIMING_ROUNDS):
            if round_:  # also tells the worker's watchdog that slow kernels are progressing
                self.progress("time", f"{entry.name} round {round_ + 1}/{TIMING_ROUNDS}")
            kernel.renew()
            turn = round_ % len(cycle)
            verified = choose_verified(self.draws, expected, VERIFIED_PER_ROUND)
            measured = self.time_cycles(cycle[turn:] + cycle[:turn], candidate, budget,
                                        verified)
            for (subject, checked), seconds in measured:
                times[subject.name].append(seconds)
                if checked:
                    entry.checked_s.append(seconds)
            _extend(logs, beside_logs([(s.name, t) for (s, _), t in measured], CANDIDATE))
            mine = [(seconds, checked) for (subject, checked), seconds in measured
                    if subject is candidate]
            entry.checked_ratios += neighbour_ratios([s for s, _ in mine], [c for _, c in mine])
            expected = len(mine)
        self.check_idle(kernel, None, entry.name)
        entry.timing = summarize(times.pop(CANDIDATE))
        entry.throughput = config.flops / entry.timing.median_s / scale
        entry.verified = len(entry.checked_s)
        for name, samples_s in times.items():
            entry.add_baseline(name, beside_timing(samples_s, logs.get(name), entry.timing),
                               scale)

    def time_cycles(self, order: list[Subject], candidate: Subject, budget_s: float,
                    verified: set[int]) -> list[tuple[Launch, float]]:
        """``order`` launched in turn, CYCLES_PER_CALL turns at a time, until ``budget_s`` has
        passed (and at least MIN_REPS turns, and past the last of the candidate's launches
        to check, ``verified``, counted among its own launches)."""
        measured: list[tuple[Launch, float]] = []
        deadline = time.perf_counter() + budget_s
        last = max(verified, default=-1)
        count = 0
        warm = list(order)  # once per round: a renewed process's first launch is not timed
        while (count < MIN_REPS or count <= last
               or (time.perf_counter() < deadline and count < MAX_REPS)):
            launches: list[Launch] = []
            for _ in range(CYCLES_PER_CALL):
                for subject in order:
                    checked = subject is candidate and count in verified
                    count += subject is candidate
                    launches.append((subject, checked))
            measured += zip(launches, self.device.time_sequence(warm, launches), strict=True)
            warm = []
        return measured

    def time_beside(self, kernel: Kernel, incumbent: Kernel,
                    baselines: dict[str, tuple[str, ...]]) -> None:
        """The candidate and the best version launch beside launch (paired.py), one block per
        configuration a sweep, until the sequential rule decides or the plan's cap is reached.
        Without a plan (a first reading), the cap is twice what timing the candidate alone
        would take, and no checked launches are required. ``baselines`` to time on each
        configuration run in the same blocks for the first MIN_SWEEPS sweeps, a launch after
        every two pairs, so the score's ratios come from the same minutes as its gain."""
        timed, scale = self.result.timed, self.target.unit_scale
        plan = self.request.gate or GatePlan(
            cap_s=2 * self.target.time_budget_s * len(timed), min_checked=0)
        pairs = {e.name: self._pair(kernel, incumbent, e.config) for e in timed}
        beside: dict[str, list[Subject]] = {}
        for entry in timed:
            pool = InputPool(entry.config, self.device, random.Random(self.draws.getrandbits(64)))
            beside[entry.name] = [self._baseline_subject(name, entry.config, pool)
                                  for name in baselines.get(entry.name, ())]
        baseline_s: dict[str, dict[str, list[float]]] = {
            e.name: {s.name: [] for s in beside[e.name]} for e in timed}
        baseline_logs: dict[str, dict[str, list[float]]] = {e.name: {} for e in timed}
        start = {e.name: self.draws.randrange(2) for e in timed}
        estimate = PairedGain()
        times: dict[str, dict[str, list[float]]] = {e.name: {CANDIDATE: [], INCUMBENT: []}
                                                    for e in timed}
        started = time.perf_counter()
        decision = "continue"
        while decision == "continue":
            kernel.renew()
            incumbent.renew()
            sweep = estimate.sweeps
            for entry in timed:
                candidate, best = pairs[entry.name]
                first = (start[entry.name] + sweep) % 2
                block = self._block(candidate, best, first)
                others = beside[entry.name] if sweep < MIN_SWEEPS else []
                if others:
                    block = _with_baselines(block, others, sweep)
                measured = self.device.time_sequence([candidate, best, *others], block)
                for (subject, _), seconds in zip(block, measured, strict=True):
                    if subject is not candidate and subject is not best:
                        baseline_s[entry.name][subject.name].append(seconds)
                if others:
                    near = [(s.name, t) for (s, _), t in zip(block, measured, strict=True)
                            if s is not best]
                    _extend(baseline_logs[entry.name], beside_logs(near, CANDIDATE))
                mine = [s for (subject, _), s in zip(block, measured, strict=True)
                        if subject is candidate]
                theirs = [s for (subject, _), s in zip(block, measured, strict=True)
                          if subject is best]
                estimate.add(entry.name, block_value(theirs, mine))
                times[entry.name][CANDIDATE] += mine
                times[entry.name][INCUMBENT] += theirs
                flags = [checked for subject, checked in block if subject is candidate]
                entry.checked_s += [s for s, checked in zip(mine, flags, strict=True) if checked]
                entry.checked_ratios += neighbour_ratios(mine, flags)
            self.check_idle(kernel, incumbent, timed[-1].name)
            elapsed = time.perf_counter() - started
            # never before MIN_SWEEPS: a standard error needs a few blocks per configuration
            final = elapsed >= plan.cap_s and estimate.sweeps >= MIN_SWEEPS
            reading = describe(estimate.log_gain, estimate.se)
            self.progress("time", f"sweep {estimate.sweeps}: {reading}")
            if final or (plan.early and is_look(estimate.sweeps)):
                decision = decide(estimate.log_gain, estimate.se, estimate.dof, plan.floor,
                                  final)
                checked = sum(len(e.checked_s) for e in timed)
                if decision == "accept" and checked < plan.min_checked and not final:
                    decision = "continue"
        for entry in timed:
            entry.block_gains = list(estimate.blocks[entry.name])
            entry.timing = summarize(times[entry.name][CANDIDATE])
            entry.incumbent_timing = summarize(times[entry.name][INCUMBENT])
            entry.throughput = entry.config.flops / entry.timing.median_s / scale
            entry.verified = len(entry.checked_s)
            for name, samples_s in baseline_s[entry.name].items():
                entry.add_baseline(name, beside_timing(
                    samples_s, baseline_logs[entry.name].get(name), entry.timing), scale)
        self.result.beside = {
            "sweeps": estimate.sweeps,
            "seconds": round(time.perf_counter() - started, 3),
            "decision": decision,
            "cap_s": plan.cap_s,
            "floor": plan.floor,
            "gate": self.request.gate is not None,
        }

    def _pair(self, kernel: Kernel, incumbent: Kernel, config: Config) -> tuple[Subject, Subject]:
        """The two kernels' subjects on ``config``: one input pool and two output buffers
        shared, each launch taking the next of either, so that in an A B B A order each kernel
        gets each buffer equally often."""
        pool = InputPool(config, self.device, random.Random(self.draws.getrandbits(64)))
        outs = [attention.empty_output(config, self.device.name) for _ in range(INPUT_SLOTS)]
        turn = [0]

        def next_out() -> torch.Tensor:
            turn[0] += 1
            return outs[turn[0] % len(outs)]

        return (self._kernel_subject(CANDIDATE, kernel, config, pool, next_out),
                self._kernel_subject(INCUMBENT, incumbent, config, pool, next_out))

    def _block(self, candidate: Subject, best: Subject, first: int) -> list[Launch]:
        """PAIRS_PER_BLOCK pairs in an A B B A ... order (A the candidate when ``first`` is 0);
        each kernel has one of its launches checked with CHECK_CHANCE, drawn by the harness."""
        a, b = (candidate, best) if first == 0 else (best, candidate)
        order = [(a, b) if pair % 2 == 0 else (b, a) for pair in range(PAIRS_PER_BLOCK)]
        subjects = [s for pair in order for s in pair]
        checked: set[int] = set()
        for subject in (candidate, best):
            if self.draws.random() < CHECK_CHANCE:
                mine = [i for i, s in enumerate(subjects) if s is subject]
                checked.add(self.draws.choice(mine))
        return [(s, i in checked) for i, s in enumerate(subjects)]

    def _kernel_subject(
        self, name: str, kernel: Kernel, config: Config, pool: InputPool,
        next_out: Callable[[], torch.Tensor] | None = None,
    ) -> Subject:
        own = attention.empty_output(config, self.device.name)
        current = [own]

        def prepare() -> None:
            inputs = pool.advance()
            out = current[0] = next_out() if next_out is not None else own
            out.fill_(math.nan)
            kernel.stage(config, inputs, out)
            self.device.flush_cache()

        def check() -> None:
            inputs, out = pool.current, current[0]
            kernel.settle(inputs, out)
            pristine = pool.regenerate()
            try:
                if not inputs.equal(pristine):
                    raise Rejected(
                        "inputs_modified", "q, k or v changed during a timed launch", config.name
                    )
                self.check_rows(config, pristine, out)
            except Rejected as rejected:
                if name == INCUMBENT:  # not the candidate's fault, and the operator must know
                    raise Rejected(
                        "incumbent_failed",
                        f"the best version, timed beside the candidate, failed a check: "
                        f"{rejected.failure.kind}: {rejected.failure.message}",
                        config.name,
                    ) from None
                raise

        return Subject(name, prepare, kernel.fire, check)

    def _baseline_subject(self, name: str, config: Config, pool: InputPool) -> Subject:
        baseline = attention.BASELINES[name](config)

        def prepare() -> None:
            baseline.stage(pool.advance())
            self.device.flush_cache()

        def run() -> None:
            baseline.run()

        return Subject(name, prepare, run)

    def check_consistent(self, timed: list[ConfigResult]) -> None:
        """The checked launches are a random sample of all: each must look like the launches
        of the same kernel next to it (ConfigResult.checked_ratios), taken together over the
        whole grid, once there are CONSISTENCY_SAMPLES of them. Compared with the median of
        all launches of a configuration instead, honest kernels on a busy machine were
        rejected: a load that came and went made a single checked launch 2.2x the rest; and
        two checked launches, each 2.4x its neighbours, were seen beside a slow best under a
        CPU hog. Which launches are checked is drawn after nothing the kernel can see, so a
        few slow ones are noise; this rule is a backstop, and judges only a sample."""
        ratios = [r for entry in timed for r in entry.checked_ratios]
        if len(ratios) < CONSISTENCY_SAMPLES:
            return
        factor = statistics.median(ratios)
        if factor > self.device.consistency_factor:
            worst = max((e for e in timed if e.checked_ratios),
                        key=lambda e: statistics.median(e.checked_ratios))
            raise Rejected(
                "inconsistent_timing",
                f"the {len(ratios)} timed launches checked against the reference took a median "
                f"of {factor:.1f}x the launches of the same kernel next to them; a kernel must "
                "not work differently when it is checked",
                worst.name,
            )

    def check_steady(self, kernel: Kernel, config: Config, timing: Timing | None) -> None:
        """Timed launches far slower than the first launch are the kernel's doing, unless a
        first launch measured again now is as slow (timing.steadiness), AGAIN_LOOKS times in
        a row: then the machine's load is named in the result's notes, and the kernel is not
        rejected. One look was not enough: on a busy two-core machine a load spike made the
        fresh first launch of a kernel that works less on its first launch slow too, and the
        kernel passed (1 clean-clone suite run in 4)."""
        first_s = self.first_launch_s[config]
        if timing is None or not is_unsteady(first_s, timing.median_s):
            return
        for _ in range(AGAIN_LOOKS):
            again = self.first_launch_again(kernel, config)
            verdict = steadiness(first_s, timing.median_s, again)
            if verdict.kernel:
                raise Rejected("unstable_timing", verdict.message, config.name)
        self.result.notes.append(f"{config.name}: {verdict.message}")

    def first_launch_again(self, kernel: Kernel, config: Config) -> float | None:
        """A first launch of ``kernel`` on ``config`` once more, timed as check_all times it,
        in a fresh process: none of what the kernel did before is left to it. None where
        renewing gives no fresh process (a CUDA kernel)."""
        if not kernel.fresh_on_renew:
            return None
        kernel.renew()
        inputs = attention.make_inputs(config, self.generator(AGAIN_STREAM), self.device.name)
        out = attention.empty_output(config, self.device.name)
        out.fill_(math.nan)
        start = time.perf_counter()
        try:
            kernel.launch(config, inputs, out)
        except KernelCrashed as error:
            raise Rejected("crash", str(error), config.name) from None
        self.device.synchronize()
        return time.perf_counter() - start

    def generator(self, stream: int) -> torch.Generator:
        """Independent, reproducible streams of inputs: one per configuration and purpose."""
        return self.device.generator((self.seed * 1_000_003 + stream) % (1 << 63))

    def _current_config(self) -> str | None:
        return self.result.configs[-1].name if self.result.configs else None


def _extend(into: dict[str, list[float]], more: dict[str, list[float]]) -> None:
    for name, values in more.items():
        into.setdefault(name, []).extend(values)


def _with_baselines(block: list[Launch], baselines: list[Subject], turn: int) -> list[Launch]:
    """``block`` with a baseline launch after every two of its pairs (four launches), the
    baselines taking turns from ``turn`` on."""
    out: list[Launch] = []
    for index, launch in enumerate(block, start=1):
        out.append(launch)
        if index % 4 == 0:
            out.append((baselines[turn % len(baselines)], False))
            turn += 1
    return out


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

