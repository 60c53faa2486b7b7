"""A best that fails beside its successors is the suspect, not they (issue 84, item 4), on the
real parts: a TinyDB session, the real engine and CPU worker. The best's runner failing is
scripted (runners cannot reach each other, so a best that fails beside a candidate failed by
its own hand); everything else is measured. Where a test needs one kernel faster than another,
the difference is structural: the slower one repeats the whole computation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import SHORT_GATE_CAP_S, TARGET, new_session, repeated

from avo_tui.engine import Engine, Evaluator, seed_files
from avo_tui.engine.failing_best import BEST_FAILURES_TO_SUSPECT
from avo_tui.engine.scores import anchored_score, score_of
from avo_tui.evaluation import EvalResult, Failure, Worker
from avo_tui.evaluation.paired import GatePlan
from avo_tui.operators import Trial, Tuner
from avo_tui.store import Session
from avo_tui.views.events import event_line

BEST_DIED = Failure("incumbent_failed", "the best version's process died (SIGSEGV)",
                    phase="beside the best")


class FailingBest(Evaluator):
    """The real evaluator, except that every evaluation timing ``best`` beside a candidate ends
    with the best's runner dead, without measuring: a best that crashes beside its successors.
    Without it beside, the candidate is measured for real."""

    def __init__(self, worker: Worker, best: Mapping[str, str]) -> None:
        super().__init__(TARGET, worker, quick=True)
        self.best = dict(best)
        self.failed = 0

    def evaluate(self, files: Mapping[str, str], **options: Any) -> EvalResult:
        if options.get("incumbent") != self.best:
            return super().evaluate(files, **options)
        self.failed += 1
        return EvalResult(TARGET.name, TARGET.toolchain, TARGET.device, TARGET.unit, -1, True,
                          failure=BEST_DIED)


SEED_TIMES = 16  # the seed's work done this many times: room for faster versions below it


@pytest.fixture
def session(tmp_path: Path, worker: Worker) -> Iterator[Session]:
    """A session whose seed, the anchor's stand-in, does the target's work SEED_TIMES times."""
    with new_session(tmp_path / "slow-seed", worker, repeated(seed_files(TARGET), SEED_TIMES),
                     gate_cap_s=SHORT_GATE_CAP_S) as made:
        yield made


def work(times: int) -> dict[str, str]:
    return repeated(seed_files(TARGET), times)


def with_a_best(session: Session, worker: Worker, times: int) -> dict[str, str]:
    """v1, the best: the target's work done ``times`` times (fewer than the seed), scored as
    the gate scores a version (its rate over the anchor, timed beside it); its files."""
    files = work(times)
    evaluator = Evaluator(TARGET, worker, quick=True)
    root = session.version("v0").score
    anchor = session.read_files("v0")
    # timed beside the seed by the gate's rule, as a rescore reads a record
    result = evaluator.evaluate(files, anchor=anchor, incumbent=anchor, fresh_baselines=True,
                                gate=GatePlan(cap_s=SHORT_GATE_CAP_S), sustained=True)
    score = anchored_score(result, root)
    assert score is not None and score.anchor_ratios and root is not None, score
    # Which version is the best is this test's setting, not its subject: on a loaded machine
    # the anchor's own jitter can rank a kernel doing fewer times the work below the seed.
    # The record the gate judges successors against (its rates over the anchor) is measured.
    score = replace(score, gmean=max(score.gmean, 2 * root.gmean))
    session.commit(files, author="tuner", message=f"{times} times the work", score=score)
    best = session.best()
    assert best is not None and best.id == "v1"
    return files


def first_reading(engine: Engine, evaluator: Evaluator, files: dict[str, str]) -> Trial:
    """``files``' first reading beside the best, which fails there, and a reading alone that
    the gate may be asked about (as after a first reading the best did not fail)."""
    failed = engine.evaluate(files, base="v1", author="tuner")
    assert failed.outcome == "incumbent_failed", failed.attempt.detail
    alone = Evaluator.evaluate(evaluator, files)
    assert alone.correct, alone.failure
    attempt = engine.session.record_attempt(files, base="v1", author="tuner",
                                            outcome="promising", score=score_of(alone))
    return Trial(attempt, alone, files, failed.key)


def test_a_best_that_fails_beside_its_successors_is_flagged_and_they_judged_on_its_record(
    session: Session, worker: Worker
) -> None:
    # The best does the work four times, the candidate twice: a true 2x gain over it (under
    # the target's jump limit, told against the best's record, not the seed timed beside it),
    # which a best that crashed beside every successor kept from being committed (each
    # failure a strike against the candidate: rejected).
    evaluator = FailingBest(worker, with_a_best(session, worker, 4))
    engine = Engine(session, Tuner(1), evaluator)
    trial = first_reading(engine, evaluator, work(2))
    assert engine.gate.failures_of(session.version("v1")) == 1
    assert "v1" not in session.run_state.flagged
    version = engine.commit(trial, "half the work", "tuner")
    decision, failed = session.recent_attempts(2)
    # decided, against the best's record: committed, or on a machine too rough to tell a 2x
    # gain in the session's short gate, not confirmed; never rejected for the best's failures
    assert decision.outcome in ("committed", "not_confirmed"), decision.detail
    assert (version is not None) == (decision.outcome == "committed")
    assert "over v1's recorded rate" in decision.detail and "the suspect" in decision.detail
    assert evaluator.failed == BEST_FAILURES_TO_SUSPECT  # at first, then at the gate
    assert failed.outcome == "incumbent_failed"
    assert "no strike" in failed.detail and "v1 is the suspect (flagged)" in failed.detail
    # the best's failures are the best's: no strike against the candidate's kernel
    assert engine.gate.strikes.of(trial.result.kernel_id) == []
    assert session.run_state.flagged["v1"].measured == 0.0  # flagged for failing, not slowing
    flag = [e for e in session.events() if e.kind == "flagged"][-1]
    assert flag.data["failures"] == BEST_FAILURES_TO_SUSPECT and flag.data["version"] == "v1"
    shown = event_line(flag, "")  # the app's output and avo sessions show
    assert shown is not None and "failed beside its successors 2 times" in shown


def test_a_successor_no_faster_than_a_failing_best_is_still_refused(session: Session,
                                                                    worker: Worker) -> None:
    # Measured alone against the best's record, a candidate slower than the best is refused:
    # the best's failure buys it nothing either.
    evaluator = FailingBest(worker, with_a_best(session, worker, 2))
    engine = Engine(session, Tuner(1), evaluator)
    trial = first_reading(engine, evaluator, work(3))
    assert engine.commit(trial, "three times the work", "tuner") is None
    decision = session.recent_attempts(1)[0]
    assert decision.outcome == "not_confirmed", decision.detail
    assert "over v1's recorded rate" in decision.detail
    assert engine.gate.strikes.of(trial.result.kernel_id) == []
    assert len(session.lineage) == 2
