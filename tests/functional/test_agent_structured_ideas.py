"""Ideas with a structure, end to end (issue 72): through the real SDK and the loopback
Messages API on a real session and CPU worker, an evaluate that states technique, place,
direction and value and reads slower is a failed direction; the same four fields in other words are
refused as its repeat (the earlier attempt and its outcome shown) until the agent says what
differs, which is recorded; another value is not refused. Issue 86: the fields are read into
the shared vocabulary, the brief shows the kernel's regions and the ledger's tags, and the
knobs read from the diff count whatever the fields say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_helpers import UNROLL_2, UNROLL_LINE, edit, make_agent
from engine_helpers import CALL, start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.evaluation import Worker
from avo_tui.store import Session

REFUSED = "Not evaluated: nothing was compiled or timed. This idea repeats a direction"
DIFFERS = "the loop bound is a compile-time constant now"
# All the work twenty times over: slower by construction, a direction that failed. Three times
# over read "inconclusive" on a loaded 2-core machine (three sweeps, one of them disturbed, put
# the top of the 99% interval over the floor): that is the safe reading of a rough first
# reading, not a defect, so the test's slower kernel is one that no load can hide (>= 10x).
SLOWER = tool_use(*edit(CALL, CALL.replace("attend_block", "for (int rep = 0; rep < 20; ++rep) "
                                                           "attend_block")))


def evaluate(idea: str, technique: str, place: str, value: str, **more: str) -> dict[str, Any]:
    return tool_use("evaluate", {"idea": idea, "technique": technique, "place": place,
                                 "direction": "increase", "value": value, **more})


FIRST = evaluate("unroll the inner loop 8x", "unrolling", "inner loop", "8")
AGAIN = ("8-way unrolling of the innermost loop", "unrolling", "the Inner Loop", "8x")


def test_a_stated_change_that_failed_is_refused_in_other_words_until_the_agent_says_why(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    results: list[str] = []

    def turn(request: Recorded) -> Step:
        results.extend(str(r["content"]) for r in request.tool_results())
        step_two = "(step 2)" in request.texts()[0]
        turns = (len(request.body["messages"]) + 1) // 2
        if not step_two:
            return reply(SLOWER, FIRST) if turns == 1 else reply(text("It failed."))
        if turns == 1:
            return reply(SLOWER, evaluate(*AGAIN))
        if turns == 2:
            return reply(evaluate(*AGAIN, differs=DIFFERS), evaluate(*AGAIN[:3], "4"))
        return reply(text("done"))

    fake.script(*[turn] * 6)
    live = start(session, worker, operator=make_agent(knowledge), max_steps=2)
    live.finish(240)

    first, refused, differs, four = (results[1], results[3], results[4], results[5])
    assert not first.startswith(REFUSED)
    [failed] = [a for a in session.recent_attempts(10) if a.idea == "unroll the inner loop 8x"]
    assert failed.outcome == "slower", failed
    # The same four fields in other words: refused, shown the earlier attempt and its outcome.
    assert refused.startswith(REFUSED), refused
    assert f"{failed.id} slower" in refused, refused
    assert "call evaluate again with the same idea and `differs`" in refused
    # Said what differs: evaluated, and the reason is kept with the attempt.
    assert not differs.startswith(REFUSED), differs
    ideas = [a.idea or "" for a in session.recent_attempts(10)]
    assert any(AGAIN[0] in idea and f"(differs: {DIFFERS})" in idea for idea in ideas), ideas
    # Another value of the same technique at the same place is another experiment.
    assert not four.startswith(REFUSED), four
    assert len(ideas) == 3, ideas


# The same diff twice: one knob moved (UNROLL 4 to 2) beside the slower edit.
KNOB_EDIT = tool_use(*edit(UNROLL_LINE, UNROLL_2))


def test_the_same_knob_change_with_fields_and_without_is_a_repeat(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """Issue 86: the knobs read from the diff always count. Step 1 states its change in the
    four fields and reads slower; step 2 makes the same edit, states no field and words it
    otherwise: refused before any compile, as the same experiment."""
    results: list[str] = []
    first = evaluate("halve the unrolling of the block loop", "unrolling", "block loop", "2")
    again = tool_use("evaluate", {"idea": "a shorter unroll, to free registers"})

    def turn(request: Recorded) -> Step:
        results.extend(str(r["content"]) for r in request.tool_results())
        step_two = "(step 2)" in request.texts()[0]
        turns = (len(request.body["messages"]) + 1) // 2
        if turns == 1:
            return reply(SLOWER, KNOB_EDIT, again if step_two else first)
        return reply(text("done"))

    fake.script(*[turn] * 4)
    live = start(session, worker, operator=make_agent(knowledge), max_steps=2)
    live.finish(240)

    evaluated, refused = results[2], results[5]
    assert not evaluated.startswith(REFUSED), evaluated
    [failed] = [a for a in session.recent_attempts(10) if a.idea and "halve" in a.idea]
    assert failed.outcome == "slower", failed
    assert refused.startswith(REFUSED), refused
    assert f"{failed.id} slower" in refused, refused
    assert len(session.recent_attempts(10)) == 1


def test_the_fields_are_read_into_the_shared_vocabulary_and_the_brief_shows_its_words(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """Issue 86, end to end: step 1 states its change in its own words (a synonym, a place by
    an identifier, "raise", "8.0") and reads slower; step 2's brief lists the kernel's regions
    and the ledger's tag, and the same change in other words (another synonym, the region's
    name, "increase", "8") is refused as its repeat; a technique outside the list is refused
    with the list."""
    results: list[str] = []
    briefs: list[str] = []
    first = tool_use("evaluate", {"idea": "more partial sums in dot", "technique":
                                  "loop unrolling", "place": "partial[u] in dot()",
                                  "direction": "raise", "value": "8.0"})
    again = tool_use("evaluate", {"idea": "wider unroll of the dot product", "technique":
                                  "unroll", "place": "dot", "direction": "increase",
                                  "value": "8"})
    unknown = tool_use("evaluate", {"idea": "something else", "technique": "magic sauce"})
    # A GPU technique on this CPU target: not read as it, refused with the CPU's list.
    gpu_only = tool_use("evaluate", {"idea": "a producer warp", "technique":
                                     "warp specialisation"})

    def turn(request: Recorded) -> Step:
        results.extend(str(r["content"]) for r in request.tool_results())
        step_two = "(step 2)" in request.texts()[0]
        turns = (len(request.body["messages"]) + 1) // 2
        if turns == 1:
            briefs.append(request.texts()[0])
            return reply(SLOWER, again, unknown, gpu_only) if step_two else reply(SLOWER, first)
        return reply(text("done"))

    fake.script(*[turn] * 4)
    live = start(session, worker, operator=make_agent(knowledge), max_steps=2)
    live.finish(240)

    [failed] = session.recent_attempts(10)
    assert failed.outcome == "slower", failed
    tag = "[change: unrolling | @dot | increase | 8]"
    assert "- dot (attention.c lines" in briefs[1], briefs[1]
    assert tag in briefs[1].split("The changes stated so far")[1], briefs[1]
    refused, listed, not_here = results[3], results[4], results[5]
    assert refused.startswith(REFUSED) and tag in refused, refused
    assert "technique must be one of tile size, pipeline stages, unrolling" in listed, listed
    assert "got 'magic sauce'" in listed
    assert "got 'warp specialisation'" in not_here and "threads" in not_here, not_here
    for said in (listed, not_here.split("got")[0]):
        assert not any(word in said for word in ("warp", "tma", "occupancy")), said
