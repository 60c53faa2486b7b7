"""A kernel that does less on its first launch than on the rest is rejected (check_steady,
evaluation/measurement/checks.py), even where a load spike slowed the one first launch the
checks time. That is how tests/adversarial's slower_after_first.c once passed in CI, on a busy
two-core machine; here the spike is modelled (modelled_lineage.py), so that the test does not
depend on the machine's load."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from modelled_lineage import SEED_S, SLOWING, SPEC, ModelWorker, modelled, modelled_worker

from avo_tui.evaluation import EvalRequest, EvalResult
from avo_tui.evaluation.paired import GatePlan


@pytest.fixture(scope="module")
def worker() -> Iterator[ModelWorker]:
    yield from modelled_worker()


def evaluate(worker: ModelWorker, sources: dict[str, str], first_spike: float,
             beside_best: bool = False) -> EvalResult:
    worker.first_spike = first_spike
    try:
        request = EvalRequest(SPEC.name, sources, quick=True, seed=7,
                              anchor=modelled("honest", SEED_S, 0))
        if beside_best:  # the gate's timing: sweeps beside the best, not rounds alone
            request.incumbent, request.gate = modelled("honest", SEED_S, 3), GatePlan(cap_s=5.0)
        return worker.evaluate(request)
    finally:
        worker.first_spike = 1.0


@pytest.mark.parametrize("beside_best", [False, True])
@pytest.mark.parametrize("first_spike", [1.0, SLOWING])
def test_a_kernel_slower_after_its_first_launch_is_rejected(
    worker: ModelWorker, first_spike: float, beside_best: bool
) -> None:
    """With a spike of SLOWING on the checks' first launch, that launch reads as slow as the
    timed ones: only the first launch of a timing round or sweep, each in a fresh process,
    shows the gap."""
    result = evaluate(worker, modelled("slowing", SEED_S, 1), first_spike, beside_best)
    assert result.failure is not None, result.summary()
    assert result.failure.kind == "unstable_timing", result.failure
    assert "a kernel must do the same work on every launch" in result.failure.message


def test_an_honest_kernel_whose_first_launch_was_slowed_passes(worker: ModelWorker) -> None:
    result = evaluate(worker, modelled("honest", SEED_S, 2), SLOWING)
    assert result.correct, result.failure
    assert not any("machine load suspected" in note for note in result.notes), result.notes
