"""One evaluation, as the worker runs it: declarations, compile, correctness, timing, baselines.

The stages run in that order, each in a module of its own: build.py reads the declarations,
compiles and loads the candidate (and the incumbent, the best version, to time beside it);
checks.py checks it on every configuration, edge shape and drawn case, and the first failure
ends the evaluation with the candidate scoring zero everywhere; measure.py times it beside the
baselines or the incumbent. stage.py holds the state they share, device.py what they ask of a
device and of a loaded kernel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from .build import Build
from .devices.cpu import LAUNCH_TIMEOUT_S, KernelFailed, KernelInterfered
from .devices.device import Kernel, open_device
from .devices.gpu import is_device_fault
from .measurement.anchor import SEED, Anchor
from .measurement.back_to_back import BackToBack
from .measurement.judge import Rejected
from .measurement.score import Peaks, plausibility_flags
from .measurement.stage import Progress
from .results import EvalRequest, EvalResult, Failure, Timing
from .targets.api import TargetFileError
from .targets.file import raised_in_target_file
from .targets.problem import Config
from .toolchains import CompileCache

# A C kernel's launch is a hang past this share of the parent's silence limit: the worker then
# ends the runner and names the kernel, before its parent would end the worker and name no one.
LAUNCH_SHARE_OF_SILENCE = 0.5

# Part of the host facts: baseline timings taken under another timing protocol are not reused.
TIMING_PROTOCOL = 4  # 4: ratios to baselines from launches side by side (2026-11-24)


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

    def run(self, request: EvalRequest, progress: Progress,
            alive: Callable[[], None] | None = None) -> EvalResult:
        return Evaluation(self, request, progress, alive).run()


class Evaluation(BackToBack, Build):
    """One evaluation: its stages, in order, on the state they share (stage.py)."""

    def run(self) -> EvalResult:
        started = time.perf_counter()
        result, target = self.result, self.target
        kernels: list[Kernel] = []
        silence = self.request.silence_s
        self.device.watch_launches(
            LAUNCH_SHARE_OF_SILENCE * silence if silence else LAUNCH_TIMEOUT_S, self.alive)
        try:
            declared = self.declarations(self.request.sources)
            result.knobs = {k.name: k.value for k in declared.knobs}
            compiled = result.compile = self.compile(self.request.sources)
            kernel = self.load(compiled, declared, kernels)
            result.kernel_id = self.identify(compiled, kernel)
            result.known_kernel = result.kernel_id in self.request.known_kernels
            incumbent = None if result.known_kernel else self.build_incumbent(kernels)
            if not (result.same_as_incumbent or result.known_kernel):
                self.anchor = self.choose_anchor(kernels)
                self.check_all(kernel)
                if self.request.timed:
                    self.time_all(kernel, incumbent)
                    result.flags = plausibility_flags(result, target, self.peaks(),
                                                      self.request.previous_best)
                    self.time_back_to_back(kernel)
        except Rejected as rejected:
            result.failure = replace(rejected.failure, phase=rejected.failure.phase or self.phase)
        except KernelFailed as failed:
            result.failure = self.blame(failed)
        except TargetFileError as error:  # its reference not finite, a function's wrong value
            result.failure = Failure("target", str(error), self.at, self.phase)
        except Exception as error:
            if is_device_fault(error):
                self.pipeline.poisoned = True
                result.failure = Failure("cuda_error", _first_line(error), self.at, self.phase)
            elif (raised := raised_in_target_file(error, self.at)) is not None:
                result.failure = Failure("target", raised, self.at, self.phase)
            else:
                raise
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

    def choose_anchor(self, loaded: list[Kernel]) -> Anchor | None:
        """The anchor (measurement/anchor.py): the target's primary baseline where this worker
        times it; else the seed as the user supplied it (EvalRequest.anchor), built here; None
        where there is neither, or the seed no longer builds here."""
        baselines, _ = self.measured_baselines()
        if baselines and baselines[0] == self.target.baselines[0]:
            return Anchor(baselines[0])
        sources = self.request.anchor
        if sources is None:
            return None
        try:
            kernel = self.load(self.compile(sources), self.declarations(sources), loaded)
        except Rejected as rejected:
            self.progress("anchor", f"the seed is not timed as the anchor: {rejected.failure}")
            return None
        return Anchor(SEED, kernel)

    def peaks(self) -> Peaks:
        """The device's measured peaks; its bandwidth only for a target that counts bytes
        (measured once per worker), and where none bounds a launch, a note once per worker."""
        bandwidth = None
        if self.target.configs[0].work.bytes is not None:
            bandwidth = self.device.peak_bandwidth()
            note = f"no bandwidth flag: {self.device.bandwidth_note}"
            if bandwidth is None and note not in self.pipeline.said:
                self.pipeline.said.add(note)
                self.result.notes.append(note)
        return Peaks(self.device.peak_flops(), bandwidth)

    def blame(self, failed: KernelFailed) -> Failure:
        """Whose failure a runner's is. The candidate's own death (while it was frozen too: no
        other kernel can signal it), hang or change from outside is its failure, whenever it
        happens. The best version's is not the candidate's to lose (``incumbent_failed``: the
        gate measures again), unless the best's process was changed while it was frozen: only
        the candidate's process ran meanwhile, so the candidate did it (``interference``). And
        a candidate changed while frozen beside the best was changed by the best."""
        where = {"config": self.at, "phase": self.phase}
        theirs = self.incumbent is not None and failed.kernel is self.incumbent
        if isinstance(failed, KernelInterfered):
            if theirs:
                return Failure("interference", (
                    "the best version's process, timed beside the candidate, was changed from "
                    f"outside while only the candidate's process ran: {failed}"), **where)
            if self.incumbent is not None:
                return Failure("incumbent_failed", (
                    "the candidate's process was changed from outside while only the best "
                    f"version's process ran: {failed}"), **where)
            return Failure("interference", (
                "the kernel's process was changed from outside while no other kernel ran (by "
                f"another process on this machine): {failed}"), **where)
        if theirs:
            return Failure("incumbent_failed", f"the best version, timed beside the candidate, "
                           f"failed: {failed.kind}: {failed}", **where)
        return Failure(failed.kind, str(failed), **where)


def build_kernel(pipeline: Pipeline, request: EvalRequest) -> Kernel:
    """``request``'s kernel built as an evaluation builds it (its declarations read, its sources
    compiled, the artifact loaded on the pipeline's device), for a caller that times it itself:
    avo export --check launches it one by one beside the exported operator. Rejected where an
    evaluation would reject it before checking it; the caller closes it."""
    return _built(Evaluation(pipeline, request, _quiet), [])


def time_alone(pipeline: Pipeline, request: EvalRequest, budget_s: float,
               launch_limit_s: float) -> Timing | Failure:
    """``request``'s kernel built as an evaluation builds it and timed alone on the first
    configuration of its grid (Measure.time_alone), in this process: its timing, or what
    stopped it (a compile's failure, no toolchain, a crash, a launch past
    ``launch_limit_s``). Nothing is checked: a reading, never a score."""
    evaluation = Evaluation(pipeline, request, _quiet)
    pipeline.device.watch_launches(launch_limit_s, None)
    kernels: list[Kernel] = []
    try:
        kernel = _built(evaluation, kernels)
        return evaluation.time_alone(kernel, evaluation.target.grid(request.quick)[0],
                                     budget_s)
    except Rejected as rejected:
        return rejected.failure
    except KernelFailed as failed:
        return Failure(failed.kind, str(failed))
    except TargetFileError as error:
        return Failure("target", str(error))
    finally:
        for loaded in kernels:
            loaded.close()


def _built(evaluation: Evaluation, loaded: list[Kernel]) -> Kernel:
    sources = evaluation.request.sources
    declared = evaluation.declarations(sources)
    return evaluation.load(evaluation.compile(sources), declared, loaded)


def _quiet(phase: str, detail: str) -> None:
    pass


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
