"""A lineage of modelled kernels, measured by the real evaluator: the real pipeline (compile,
checks, the timing of measure.py, the anchor beside everything), on a worker in this process,
with each C kernel replaced after its build by a Python model whose launches compute the
right answer and report a modelled time. So a test of what the gate does with a kernel of a
given speed, or with one that behaves differently beside another, does not depend on the
machine's speed or load.

A model is named in its source by a line ``// model: KIND SECONDS``: an ``honest`` kernel
takes SECONDS a launch wherever it runs; a ``colluding`` one too, except where it is the best
version timed beside a candidate (its successor, alive beside it), where it computes its
answer twice: 2x SECONDS; a ``noisy`` one takes SECONDS a launch on average, each launch
spinning a random while more or less (NOISY's spread), so that its rate is known roughly
however long it is timed; a ``masking`` one is honest, except where it is the best version
timed beside a candidate, where it spreads its launches as a noisy one does (so that its
successor's roughness would look like the machine's); a ``slowing`` one takes SECONDS on the
first launch of each process it runs in and SLOWING times that on every later launch, as a
kernel that does less on its first launch. Each source also defines a global of
its own, so that two models are two kernels to the evaluator (comments alone compile to one).

The target's baseline cannot be timed here, so the anchor is the seed as the user supplied
it (modelled too, honest).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping

import test_targets_problem
from attack_verdicts import registered, skip_without_c_compiler
from test_targets_problem import HONEST, VectorAdd, VectorAddNumerics, vector

from avo_tui.evaluation import EvalRequest, EvalResult
from avo_tui.evaluation.declarations.contract import Declarations
from avo_tui.evaluation.devices.device import Kernel
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.problem import Config, InputSet, Numerics, OutputSet
from avo_tui.evaluation.toolchains.base import CompileResult
from avo_tui.pool.protocol import ProgressCallback

NOISE = 0.02  # a modelled launch's spread (its log's standard deviation)
NOISY = 0.5  # ... a noisy kernel's
COLLUDING_SLOWDOWN = 2.0  # a colluding best beside its successor: its answer computed twice
SLOWING = 10.0  # a slowing kernel's later launches over its first
SEED_S = 1e-3
KERNEL = "add.c"


class UntimedBaseline(VectorAddNumerics):
    def baseline_missing(self, name: str) -> str | None:
        return "a modelled lineage times no baseline: its anchor is the seed"


class ModelledVectorAdd(VectorAdd):
    def numerics(self) -> Numerics:
        return UntimedBaseline()


SPEC = dataclasses.replace(
    test_targets_problem.SPEC, name="vector-add-modelled", problem=ModelledVectorAdd(),
    configs=(vector(4096),), quick_configs=(vector(4096),), edge_configs=(vector(37),),
    time_budget_s=0.1, gate_cap_s=5.0, max_plausible_ratio=1e6, max_plausible_jump=1e6)
MODEL = re.compile(r"// model: (honest|colluding|noisy|masking|slowing) ([0-9.e-]+)")


def modelled(kind: str, seconds: float, tag: int) -> dict[str, str]:
    """The sources of a model: the honest vector add, its model line and a global of its own."""
    return {KERNEL: f"// model: {kind} {seconds!r}\nint avo_model_tag = {tag};\n{HONEST}"}


class ModelledClock:
    """Modelled time: the sum of the modelled launches' seconds so far."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def advance(self, seconds: float) -> float:
        self.seconds += seconds
        return seconds


class ModelKernel:
    """A C kernel in its runner as the harness sees it (device.Kernel): out = a + b, each
    launch reporting ``seconds`` (times its log-normal noise) as its own time, and taking that
    long on ``clock``."""

    fresh_on_renew = True
    writes_in_place = True

    def __init__(self, seconds: float, seed: int, spread: float = NOISE,
                 clock: ModelledClock | None = None, slowing: bool = False,
                 first_spike: float = 1.0) -> None:
        self.seconds = seconds
        self.noise = random.Random(seed)
        self.spread = spread
        self.clock = clock or ModelledClock()
        self.staged: tuple[InputSet, OutputSet] | None = None
        self.slowing = slowing
        self.spike = first_spike  # on its very first launch only: the machine's load then
        self.in_process = 0  # launches since its process began

    def stage(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        self.staged = (inputs, outs)

    def fire(self) -> float:
        assert self.staged is not None
        inputs, outs = self.staged
        outs.only.copy_(inputs["a"] + inputs["b"])
        seconds = self.seconds * math.exp(self.noise.gauss(0.0, self.spread)) * self.spike
        if self.slowing and self.in_process:
            seconds *= SLOWING
        self.spike, self.in_process = 1.0, self.in_process + 1
        return self.clock.advance(seconds)

    def settle(self, inputs: InputSet, outs: OutputSet) -> None:
        return None

    def launch(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        self.stage(config, inputs, outs)
        self.fire()

    def launcher(self, config: Config, inputs: InputSet, outs: OutputSet
                 ) -> Callable[[], None]:
        return lambda: self.launch(config, inputs, outs)

    def signature(self, config: Config) -> None:
        return None

    def renew(self) -> None:
        self.in_process = 0

    def check_idle(self) -> None:
        return None

    def close(self) -> None:
        return None


class ModelledEvaluation(Evaluation):
    """The real evaluation, each kernel it builds replaced by the model its source names."""

    compiling: Mapping[str, str] = {}
    slowdown = 1.0  # the machine's: every kernel, the anchor's too, takes this times longer
    spread = NOISE  # the machine's: no kernel, the anchor included, is steadier than this
    first_spike = 1.0  # the machine's: each kernel's very first launch takes this times longer

    clock = ModelledClock()  # replaced by each evaluation's own (run)

    def run(self) -> EvalResult:
        self.clock = ModelledClock()
        return super().run()

    def now(self) -> float:
        return self.clock.seconds

    def compile(self, sources: Mapping[str, str]) -> CompileResult:
        self.compiling = sources
        return super().compile(sources)

    def load(self, compiled: CompileResult, declared: Declarations, loaded: list[Kernel]
             ) -> Kernel:
        assert compiled.ok, compiled.summary()  # compiled for real; the model runs instead
        found = MODEL.search("".join(self.compiling.values()))
        assert found is not None, "every source of a modelled lineage names its model"
        kind, seconds = found[1], float(found[2])
        beside_a_successor = self.compiling is self.request.incumbent
        if kind == "colluding" and beside_a_successor:
            seconds *= COLLUDING_SLOWDOWN
        rough = kind == "noisy" or (kind == "masking" and beside_a_successor)
        model = ModelKernel(seconds * self.slowdown, seed=self.draws.getrandbits(32),
                            spread=max(self.spread, NOISY if rough else NOISE), clock=self.clock,
                            slowing=kind == "slowing", first_spike=self.first_spike)
        loaded.append(model)
        return model


def content_seed(request: EvalRequest) -> int:
    """A seed drawn from what is asked (the kernels, the gate's plan), not from the moment: a
    modelled evaluation's draws, and so its outcome, are the same on every run."""
    asked = repr((request.sources, request.incumbent, request.anchor, request.gate,
                  request.quick))
    return int.from_bytes(hashlib.sha256(asked.encode()).digest()[:8], "big") >> 2


class ModelWorker:
    """A worker (pool.EvalWorker) that evaluates in this process, on modelled kernels."""

    def __init__(self) -> None:
        self.pipeline = Pipeline("cpu")
        self.info: dict[str, object] = {}
        self.slowdown = 1.0  # ModelledEvaluation.slowdown, for the evaluations from now on
        self.spread = NOISE  # ModelledEvaluation.spread, likewise
        self.first_spike = 1.0  # ModelledEvaluation.first_spike, likewise

    def start(self) -> None:
        return None

    def wait_ready(self) -> dict[str, object]:
        self.info = self.pipeline.host_info()
        return self.info

    def evaluate(self, request: EvalRequest, timeout_s: float | None = None,
                 on_progress: ProgressCallback | None = None) -> EvalResult:
        def progress(phase: str, detail: str) -> None:
            if on_progress is not None:
                on_progress(phase, detail)

        if request.seed is None:
            request = dataclasses.replace(request, seed=content_seed(request))
        evaluation = ModelledEvaluation(self.pipeline, request, progress)
        evaluation.slowdown, evaluation.spread = self.slowdown, self.spread
        evaluation.first_spike = self.first_spike
        return evaluation.run()

    def check_target(self, ref: str) -> None:
        return None

    def interrupt(self, reason: str) -> bool:
        return False

    def stop(self, kill: bool = False) -> None:
        return None


def tags() -> Iterator[int]:
    """Distinct tags for the models of one test."""
    tag = 0
    while True:
        tag += 1
        yield tag


def modelled_worker() -> Iterator[ModelWorker]:
    """A module's worker on modelled kernels, SPEC registered while it lives (a fixture's
    body: ``yield from modelled_worker()``); skipped without a C compiler, which builds the
    kernels the models stand in for."""
    skip_without_c_compiler()
    with registered(SPEC):
        yield ModelWorker()
