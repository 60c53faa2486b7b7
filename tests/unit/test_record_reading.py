"""A record read as the gate reads one, where no best is timed beside the kernel (issue 84): with
a gate's plan and no incumbent, the evaluation times the kernel beside the anchor after its
timing rounds until its rate over the anchor is known to the plan's record_se, or the plan's
cap has passed (measure.time_record). `avo rescore` reads the seed, v0, so: a plain
evaluation, its three rounds, left v0's record within ±5-17% on a loaded CPU, and every later
decision checks the best against such a record.

On modelled kernels and a modelled clock (modelled_lineage.py): how precise a record gets
never depends on this machine's load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from modelled_lineage import NOISE, SEED_S, SPEC, ModelWorker, modelled, modelled_worker

from avo_tui.engine import Evaluator, RunSettings, create_session
from avo_tui.engine.rescore import Rescorer
from avo_tui.evaluation import EvalRequest, EvalResult
from avo_tui.evaluation.paired import RECORD_SE, GatePlan

SEED = modelled("honest", SEED_S, 0)
ROUNDS = 3  # measure.TIMING_ROUNDS: the anchor's blocks of a plain evaluation


@pytest.fixture(scope="module")
def worker() -> Iterator[ModelWorker]:
    yield from modelled_worker()


@pytest.fixture
def spread(worker: ModelWorker) -> Iterator[None]:
    """A machine rough enough that three rounds leave the seed's record past RECORD_SE."""
    worker.spread = 0.1
    try:
        yield
    finally:
        worker.spread = NOISE


def evaluate(worker: ModelWorker, gate: GatePlan | None, lines: list[str]) -> EvalResult:
    result = worker.evaluate(EvalRequest(SPEC.name, SEED, quick=True, anchor=SEED, gate=gate),
                             on_progress=lambda phase, detail: lines.append(detail))
    assert result.correct, result.failure
    return result


@pytest.mark.usefixtures("spread")
def test_a_record_with_no_best_beside_it_is_timed_to_the_plans_precision(
        worker: ModelWorker) -> None:
    plain_lines: list[str] = []
    plain = evaluate(worker, None, plain_lines).versus_anchor
    assert plain is not None and plain.se is not None and plain.se > RECORD_SE
    assert set(map(len, plain.blocks.values())) == {ROUNDS}
    lines: list[str] = []
    record = evaluate(worker, GatePlan(cap_s=SPEC.gate_cap_s), lines).versus_anchor
    assert record is not None and record.se is not None
    assert record.se <= RECORD_SE and record.sweeps > ROUNDS
    assert any(line.startswith("record sweep") and f"±{100 * RECORD_SE:.2f}%" in line
               for line in lines), lines
    assert not any("record sweep" in line for line in plain_lines)


def test_a_record_that_cannot_reach_its_precision_ends_at_the_cap(
        worker: ModelWorker) -> None:
    """A machine so rough (each launch's log spread 0.5) that no cap reaches RECORD_SE: the
    record stops at the plan's cap, measured on the modelled clock, and says how rough it
    stayed."""
    worker.spread = 0.5
    try:
        lines: list[str] = []
        record = evaluate(worker, GatePlan(cap_s=2.0), lines).versus_anchor
    finally:
        worker.spread = NOISE
    assert record is not None and record.se is not None and record.se > RECORD_SE
    assert record.sweeps > ROUNDS
    assert any("2 s of 2 s at most" in line for line in lines), lines


@pytest.mark.usefixtures("spread")
def test_a_rescore_reads_the_seeds_record_to_record_se(worker: ModelWorker,
                                                       tmp_path: Path) -> None:
    """v0, the seed itself, has no version to be timed beside: its rescore times it beside the
    anchor to RECORD_SE (it was a plain evaluation, as rough as the record it rescores)."""
    evaluator = Evaluator(SPEC, worker, quick=True)
    with create_session(tmp_path / "s", SPEC, RunSettings(quick=True), SEED,
                        evaluator) as session:
        v0 = session.version("v0")
        assert v0.score is not None and v0.score.anchor_se is not None
        assert v0.score.anchor_se > RECORD_SE  # the session's own record: three rounds
        said: list[str] = []
        report = Rescorer(session, evaluator, say=said.append).run([v0])
    [change] = report.changes
    assert change.now.anchor_se is not None and change.now.anchor_se <= RECORD_SE, said
