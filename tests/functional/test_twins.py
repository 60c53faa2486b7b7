"""Twins (engine/twins.py) on the real parts: a TinyDB session, the real engine and CPU worker.
A candidate that is a version or an earlier attempt is named before anything is timed, and
its record carries no timing; a direction's state follows what was measured of it."""

from __future__ import annotations

import time

from engine_helpers import KERNEL, TARGET, repeated

from avo_tui.engine import Engine, Evaluator
from avo_tui.evaluation import Worker
from avo_tui.operators import Trial, Tuner
from avo_tui.operators.agent import ledger
from avo_tui.operators.agent.research import StepLog, record
from avo_tui.store import Attempt, Outcome, Score, Session


def untimed(trial: Trial) -> bool:
    return trial.attempt.score is None and not trial.result.timed and trial.result.untimed


def test_a_version_or_an_earlier_attempt_is_named_and_never_timed(
    session: Session, worker: Worker
) -> None:
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, Tuner(1), evaluator)
    seed = session.read_files("v0")

    # The best's very files: named without a compile (once they were timed alone, against
    # the best's stored score, and read as a gain or a loss by the noise).
    same = engine.evaluate(seed, base="v0", author="tuner")
    assert evaluator.count == 0
    assert same.outcome == Outcome.UNCHANGED and untimed(same)
    assert same.attempt.detail == "identical to v0: nothing new to measure"

    # The seed reworded: built beside the best and found to be its kernel; from then on the
    # seed's kernel is known, and another rewording stops before the best is even built.
    reworded = engine.evaluate({KERNEL: "// reworded\n" + seed[KERNEL]}, base="v0",
                               author="tuner")
    assert evaluator.count == 1 and reworded.outcome == Outcome.UNCHANGED and untimed(reworded)
    again = engine.evaluate({KERNEL: "// reworded again\n" + seed[KERNEL]}, base="v0",
                            author="tuner")
    assert evaluator.count == 2 and again.result.known_kernel and untimed(again)
    assert again.attempt.detail == "identical to v0: nothing new to measure"

    # A new kernel is timed, and its record keeps what it compiled to.
    slow = repeated(seed, 2)
    first = engine.evaluate(slow, base="v0", author="tuner")
    assert first.result.timed and first.attempt.score is not None
    assert first.attempt.kernel == first.result.kernel_id is not None
    named = f"identical to {first.attempt.id} ({first.outcome}): nothing new to measure"

    # Its very files again: named, nothing evaluated.
    counted = evaluator.count
    twice = engine.evaluate(slow, base="v0", author="tuner")
    assert evaluator.count == counted and untimed(twice)
    assert twice.attempt.detail.startswith(named), twice.attempt.detail
    assert twice.result.kernel_id == first.result.kernel_id

    # Its kernel under other comments: compiled, stopped before its checks and timing; after
    # a restart too (the index is read back from the session's attempts).
    dressed = {KERNEL: "/* the same again */\n" + slow[KERNEL]}
    for running in (engine, Engine(session, Tuner(1), evaluator)):
        counted = evaluator.count
        trial = running.evaluate(dressed, base="v0", author="tuner")
        assert evaluator.count == counted + 1
        assert trial.result.known_kernel and untimed(trial)
        assert trial.attempt.detail.startswith(named), trial.attempt.detail
        assert trial.result.kernel_id == first.result.kernel_id
        dressed = {KERNEL: "/* and again */\n" + slow[KERNEL]}

    # No record of an untimed candidate carries a timing.
    for attempt in session.recent_attempts(20):
        if attempt.outcome == Outcome.UNCHANGED:
            assert attempt.score is None, attempt


def _attempt(number: int, outcome: str, gmean: float | None = None) -> Attempt:
    score = Score(gmean, {"c": gmean}) if gmean is not None else None
    return Attempt(f"a{number}", "v0", "agent", {}, outcome, f"{outcome} detail", score,
                   time.time())


def test_an_untimed_attempt_neither_fails_a_direction_nor_reads_as_a_timing() -> None:
    def status(*outcomes: str) -> str:
        directions: list[ledger.Direction] = []
        for n, outcome in enumerate(outcomes, 1):
            directions = ledger.record_step(directions, [("BLOCK_N 176", _attempt(n, outcome))],
                                            step=n, lesson="")
        return directions[-1].status

    assert status(Outcome.UNCHANGED) == "tried"
    assert status("compile") == "tried"
    assert status("incorrect", Outcome.UNCHANGED) == "tried"
    assert status(Outcome.SLOWER) == "failed"
    assert status(Outcome.SLOWER, Outcome.UNCHANGED, "compile") == "failed"
    assert status(Outcome.SLOWER, Outcome.PROMISING) == "tried"
    assert status(Outcome.PROMISING, Outcome.NOT_CONFIRMED) == "failed"
    assert status(Outcome.SLOWER, Outcome.COMMITTED, Outcome.SLOWER) == "worked"

    # A record from before this fix gave an unchanged attempt a zero score: it is no timing.
    log = StepLog("v0")
    log.add("a comment", _attempt(1, Outcome.UNCHANGED, 0.0))
    kept = record(log, step=1, outcome="no commit", files={}, base_files={},
                  base_score=Score(10.0, {"c": 10.0}), final="", lesson="")
    assert log.best() is None and kept.change == ""
    log.add("timed", _attempt(2, Outcome.SLOWER, 9.0))
    kept = record(log, step=1, outcome="no commit", files={}, base_files={},
                  base_score=Score(10.0, {"c": 10.0}), final="", lesson="")
    assert kept.change.startswith("a2 against v0: geomean -10.0%"), kept.change


def test_a_twin_of_a_reading_still_undecided_takes_that_reading_to_the_gate(
    session: Session, worker: Worker
) -> None:
    """The agent reads a kernel as a gain, edits on, comes back to it under other comments and
    commits: the kernel is not timed again at evaluate, and the gate decides on it with the
    first reading it had (it is the gate that times it, beside the best)."""
    from avo_tui.engine.scores import score_of

    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, Tuner(1), evaluator)
    slow = repeated(session.read_files("v0"), 2)
    # As if noise had flattered this kernel's first reading into a gain.
    result = evaluator.evaluate(slow)
    flattered = session.record_attempt(slow, base="v0", author="tuner", outcome="promising",
                                       score=score_of(result), kernel=result.kernel_id)
    engine.trials.readings.keep(Trial(flattered, result, slow, result.kernel_id or ""))

    counted = evaluator.count
    dressed = engine.evaluate({KERNEL: "// back to it\n" + slow[KERNEL]}, base="v0",
                              author="tuner")
    assert evaluator.count == counted + 1 and untimed(dressed)
    assert dressed.attempt.detail.startswith(f"identical to {flattered.id} (promising): "
                                             "nothing new to measure; its first reading stands")
    gated = dressed.for_the_gate()
    assert gated is not None and gated.attempt.id == flattered.id
    engine.commit(dressed, "back to it", "tuner")
    decision = session.recent_attempts(1)[0]
    assert evaluator.count >= counted + 2  # the gate measured it
    assert flattered.id in decision.detail and decision.id != dressed.attempt.id
