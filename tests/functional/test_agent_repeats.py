"""Repeats caught before they cost a compile (issue 54): the idea check by meaning
(operators/agent/repeats.py), measured on the pair set, kept by the ledger (two values of one
knob are two directions), and answered at evaluate through the real SDK and the loopback
Messages API before anything is compiled."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from agent_helpers import make_agent
from bench_scripts import load_benchmark
from engine_helpers import start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.engine import Budgets
from avo_tui.evaluation import Worker
from avo_tui.operators.agent import ledger, repeats
from avo_tui.store import Outcome, ResearchPayload, Session

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "repeat_detection.py"
FAILED = "lazy rescaling: only correct O when the running maximum grows"
REPEAT = "skip the accumulator rescale when the row max is unchanged"
KNOB_FAILED = "THREADS 2 to split the rows"
KNOB_OTHER = "THREADS 4 to split the rows"
LESSONS = {3: "Lesson of step 3: the branch on the row max cost more than the rescale saved.",
           5: "Lesson of step 5: with a threshold of 8 the rescale still ran on 90% of tiles."}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "repeat_detection_bench")


def test_the_detector_meets_its_thresholds_on_the_pair_set(bench: ModuleType) -> None:
    pairs = bench.load()
    assert len(pairs["same"]) >= 30 and len(pairs["different"]) >= 30
    found = bench.measure(pairs)
    assert found.recall >= 0.8, found.misses
    assert found.precision >= 0.9, found.misses


def test_the_issue_s_pairs() -> None:
    assert repeats.same(REPEAT, FAILED)  # shared words alone scored 0.07
    assert not repeats.same("BLOCK_N 176 for the full shapes", "BLOCK_N 192 for the full shapes")
    assert repeats.apart("BLOCK_N=176", "BLOCK_N 192") == "block_n 176 is not block_n 192"
    assert repeats.settings("3 pipeline stages") == repeats.settings("STAGES=3")


def _attempt(session: Session, idea: str, outcome: str) -> str:
    return session.record_attempt({"attention.c": idea}, base="v0", author="agent",
                                  outcome=outcome, idea=idea, detail=f"{outcome}").id


def test_two_values_of_one_knob_are_two_directions(session: Session) -> None:
    first = _attempt(session, "BLOCK_N 176 for the full shapes", Outcome.SLOWER)
    second = _attempt(session, "BLOCK_N 192 for the full shapes", Outcome.SLOWER)
    again = _attempt(session, "BLOCK_N=176, measured again", Outcome.SLOWER)
    directions = ledger.record_step([], [
        ("BLOCK_N 176 for the full shapes", session.attempt(first)),
        ("BLOCK_N 192 for the full shapes", session.attempt(second)),
        ("BLOCK_N=176, measured again", session.attempt(again))], step=1, lesson="")
    assert [(d.idea, d.tries) for d in directions] == [
        ("BLOCK_N 192 for the full shapes", 1), ("BLOCK_N 176 for the full shapes", 2)]
    assert [d.idea for d in ledger.repeated(directions, "BLOCK_N 176 again")] == [
        "BLOCK_N 176 for the full shapes"]
    assert ledger.repeated(directions, "BLOCK_N 160 for the full shapes") == []


def _seed_history(session: Session) -> None:
    """The journal holds two steps' lessons, and the ledger two failed directions: the
    rescale learned in both steps, THREADS 2 in neither."""
    for step, lesson in LESSONS.items():
        session.append(ResearchPayload("record", step, "v0", "no commit",
                                       ideas=(f"a{step} slower: {FAILED}",), lesson=lesson))
    failed = [ledger.Direction(FAILED, "failed", 3, 5, 2, why="a5 slower: geomean -4.0%",
                               learned=tuple(LESSONS)),
              ledger.Direction(KNOB_FAILED, "failed", 4, 4, 1, why="a4 slower")]
    session.set_state(operator_memory={"ledger": [d.to_doc() for d in failed]})


def test_a_repeat_of_a_failed_direction_is_answered_before_any_compile(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    _seed_history(session)
    before = {a.id for a in session.recent_attempts(1_000)}
    calls = [
        {"idea": REPEAT, "quick": True},  # a repeat in other words: answered, not compiled
        {"idea": KNOB_OTHER, "quick": True},  # another value of the failed knob: evaluated
        {"idea": REPEAT, "quick": True, "differs": "rescale per warp, not per row"},
    ]
    results: list[str] = []

    def turn(request: Recorded) -> Step:
        done = request.tool_results()
        if done:
            results.append(str(done[-1]["content"]))
        if len(results) < len(calls):
            return reply(tool_use("evaluate", calls[len(results)]))
        return reply(text("Nothing more to try."))

    fake.script(*[turn] * (len(calls) + 1))
    live = start(session, worker, operator=make_agent(knowledge),
                 budgets=Budgets(max_steps=1, max_cost_usd=100.0))
    live.finish(300)
    assert len(results) == len(calls), results
    answered = results[0]
    assert answered.startswith("Not evaluated: nothing was compiled or timed."), answered
    assert FAILED in answered and "a5 slower: geomean -4.0%" in answered
    for lesson in LESSONS.values():  # every lesson learned under the direction, whole
        assert lesson in answered
    assert "`differs`" in answered
    assert "Not evaluated" not in results[1] and "Not evaluated" not in results[2]
    new = [a for a in session.recent_attempts(1_000) if a.id not in before]
    # The repeat cost no compile: the only attempts are the other knob value and the repeat
    # said to differ, in that order.
    assert [a.idea for a in sorted(new, key=lambda a: int(a.id[1:]))] == [
        KNOB_OTHER, f"{REPEAT} (differs: rescale per warp, not per row)"]
