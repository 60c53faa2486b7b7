"""A cheat that watches for checks, against the commit gate (measure.time_beside): the one attack
issue 41's attack tests found that passed the gate, and the change that stops it.

A check is seen after the fact: the worker checks a launch before the next one is prepared,
and the kernel's clock shows the pause (a C runner is frozen meanwhile: 100-240 ms against
10-20 ms between unchecked launches of the docs' example on a loaded 2-core machine; a GPU
kernel reads %globaltimer, and a checked launch ends its batch). When each block beside the
best checked at most one of the candidate's PAIRS_PER_BLOCK launches, a kernel that saw the
block's first launch checked knew the other five would not be, and skipped them. It was never
caught, and the block's value, a median over its pairs, read as many times faster; the gain is
a mean of block values, and the gate accepted it in 20 of evaluation seeds 1-30 (1.3x to 2.0x,
every checked launch correct). On a real C kernel (the docs' example) 1 gate evaluation in 12
accepted a 2.1x gain.

Now each launch is checked on a chance of its own (timing.draw_checks): a check seen says
nothing of the next launch, and the same cheat is caught (stale_output) or rejected in 30 of
30 seeds (22 caught). The kernel here is a Python object that the harness drives as it drives
a runner, and that sees a check as the real cheat would, when the harness asks it for the
checked launch's output (Kernel.settle, which only a check calls). Times are modelled too, the
honest launch's with 2% noise.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Iterator

import pytest
import test_targets_problem
from attack_verdicts import registered, skip_without_c_compiler
from test_targets_problem import HONEST, vector

from avo_tui.evaluation import EvalRequest, EvalResult
from avo_tui.evaluation.paired import PAIRS_PER_BLOCK, GatePlan
from avo_tui.evaluation.pipeline import Evaluation, Pipeline
from avo_tui.evaluation.targets.problem import Config, InputSet, OutputSet

HONEST_S = 0.8e-3  # a modelled launch that does the work
SKIPPED_S = 1e-5  # one that returns at once
SEED = 41  # the evaluation's: which launches the harness checks
SPEC = dataclasses.replace(
    test_targets_problem.SPEC, name="vector-add-watched", configs=(vector(4096),),
    quick_configs=(vector(4096),), edge_configs=(vector(37),), gate_cap_s=120.0)


class ModelKernel:
    """A C kernel in its runner as the harness sees it (device.Kernel): out = a + b, in a
    process renewed before every sweep. ``watches``: on the timed configuration, after a check
    of the first launch of a block, it skips the block's other launches, leaving the output as
    the harness left it."""

    fresh_on_renew = True
    writes_in_place = True

    def __init__(self, watches: bool, seed: int) -> None:
        self.watches = watches
        self.noise = random.Random(seed)
        self.calls = 0
        self.first_checked = False
        self.staged: tuple[InputSet, OutputSet] | None = None
        self.timed = False
        self.renewed = False  # the correctness pass, before timing's first fresh process

    def renew(self) -> None:
        self.calls = 0  # a fresh process: the warm-up is call 1, a block's launches 2 to 7
        self.first_checked = False
        self.renewed = True

    def stage(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        self.staged = (inputs, outs)
        self.timed = config in SPEC.quick_configs

    def fire(self) -> float:
        assert self.staged is not None
        inputs, outs = self.staged
        self.calls += 1
        # honest in the correctness pass, which launches the timed shape under each case
        if (self.watches and self.renewed and self.timed and self.first_checked
                and self.calls <= 1 + PAIRS_PER_BLOCK):
            return SKIPPED_S
        outs.only.copy_(inputs["a"] + inputs["b"])
        return HONEST_S * math.exp(self.noise.gauss(0.0, 0.02))

    def settle(self, inputs: InputSet, outs: OutputSet) -> None:
        # Only a check asks for a launch's output: the pause a real cheat sees on its clock.
        self.first_checked = self.calls == 2

    def launch(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        self.stage(config, inputs, outs)
        self.fire()
        self.settle(inputs, outs)

    def launcher(self, config: Config, inputs: InputSet, outs: OutputSet
                 ) -> Callable[[], None]:
        return lambda: self.launch(config, inputs, outs)

    def signature(self, config: Config) -> None:
        return None

    def check_idle(self) -> None:
        return None

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    skip_without_c_compiler()
    with registered(SPEC):
        yield Pipeline("cpu")


def beside_the_best(pipeline: Pipeline, watches: bool, seed: int = SEED) -> EvalResult:
    """The gate's evaluation of the model beside an honest model as the best version (the
    sources are compiled as usual, then the models are loaded in their place)."""
    request = EvalRequest(SPEC.name, {"add.c": HONEST + "int candidate = 1;\n"}, quick=True,
                          seed=seed, measure_baselines=False, incumbent={"add.c": HONEST},
                          gate=GatePlan(cap_s=SPEC.gate_cap_s))
    evaluation = Evaluation(pipeline, request, lambda phase, detail: None)
    models = iter((ModelKernel(watches, 1), ModelKernel(False, 2)))
    evaluation.load = lambda compiled, declared, loaded: next(models)  # type: ignore[method-assign]
    return evaluation.run()


def test_the_honest_model_gains_nothing_beside_itself(pipeline: Pipeline) -> None:
    result = beside_the_best(pipeline, watches=False)
    assert result.correct, result.failure
    assert result.beside["decision"] == "reject"
    assert result.incumbent_gain is not None and abs(math.log(result.incumbent_gain)) < 0.02


@pytest.mark.parametrize("seed", range(1, 11))
def test_a_cheat_that_watches_for_checks_is_not_accepted(pipeline: Pipeline, seed: int) -> None:
    result = beside_the_best(pipeline, watches=True, seed=seed)
    if not result.correct:  # a launch it skipped was checked
        assert result.failure is not None and result.failure.kind == "stale_output"
        return
    assert result.beside["decision"] != "accept", (
        f"accepted: {result.incumbent_gain:.2f}x after {result.beside['sweeps']} sweeps, "
        f"{sum(len(c.checked_s) for c in result.timed)} launches checked, notes {result.notes}")
