"""The agent's memory through the real SDK and the loopback Messages API, over several steps
of a real run: each step evaluates an idea and answers its debrief; the next brief carries
the lesson and the ledger of directions, an idea tried before is named at evaluate, and every
evaluate result says the turn and the spending. (test_agent_memory.py drives 200 steps of
the layer below the conversation.)"""

from __future__ import annotations

import re
from pathlib import Path

from agent_helpers import make_agent
from engine_helpers import start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.engine import Budgets
from avo_tui.evaluation import Worker
from avo_tui.operators.agent import ledger
from avo_tui.store import Session

STEPS = 4
STEP = re.compile(r"# Step brief \(step (\d+)\)")
IDEAS = {1: "THREADS 2 to split the rows", 2: "REPEAT fused into one loop",
         3: "unroll the inner dot product by four", 4: "THREADS 2 to split the rows again"}


def lesson(step: int) -> str:
    return f"Lesson {step}: the measurement of step {step} said nothing new."


def remembering(briefs: dict[int, str], results: dict[int, str]) -> Step:
    """An agent that evaluates the step's idea, stops, and answers the debrief."""
    current = [0]

    def turn(request: Recorded) -> Step:
        texts = request.texts()
        last = texts[-1] if texts else ""
        if last.startswith("The stall detector fired"):  # the supervisor's review
            return reply(text("Nothing new to propose."))
        if "The step has ended" in last:
            step = current[0]
            return reply(text(f"<lesson>{lesson(step)}</lesson><summary>S{step}</summary>"
                              f"<next>pending idea {step}</next>"))
        found = STEP.search(last)
        if found:
            current[0] = int(found.group(1))
            briefs[current[0]] = last
            return reply(tool_use("evaluate", {"idea": IDEAS[current[0]], "quick": True}))
        tool_results = request.tool_results()
        results[current[0]] = str(tool_results[-1]["content"]) if tool_results else ""
        return reply(text("Nothing more to try."))

    return turn


def test_each_lesson_reaches_the_next_brief_and_the_ledger_keeps_every_idea(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """On the seeded session copied for each test: every step evaluates the best's own kernel
    (nothing is measured), as what is checked is what the agent is told and keeps."""
    briefs: dict[int, str] = {}
    results: dict[int, str] = {}
    fake.script(*[remembering(briefs, results)] * (3 * STEPS + 3))
    live = start(session, worker, operator=make_agent(knowledge, debrief=True),
                 budgets=Budgets(max_steps=STEPS, max_cost_usd=100.0))
    live.finish(300)
    assert sorted(briefs) == list(range(1, STEPS + 1))
    for step in range(2, STEPS + 1):
        assert f"lesson: {lesson(step - 1)}" in briefs[step], briefs[step]
        assert "## Ledger of directions" in briefs[step]
        assert f"{IDEAS[step - 1]}" in briefs[step]
    assert "a step may take 60 turns; the session has spent $" in briefs[1]
    assert "of its $100.00 budget" in briefs[1]
    for step in range(1, STEPS + 1):
        assert re.search(r"Budget: turn 1 of 60 in this step; this step so far \$\d+\.\d\d; "
                         r"the session has spent \$\d+\.\d\d of its \$100\.00 budget",
                         results[step]), results[step]
    # Step 4 tries step 1's idea again: evaluate says so.
    assert "closest past attempts" in results[4] and IDEAS[1] in results[4]
    assert "closest past attempts" not in results[3]
    held = ledger.stored(session.state["operator_memory"])
    tried = [d for d in held if d.status != "pending"]
    assert {d.idea for d in tried} == {IDEAS[n] for n in (1, 2, 3)}
    assert next(d for d in tried if d.idea == IDEAS[1]).tries == 2
    assert {d.idea for d in held if d.status == "pending"} == {
        f"pending idea {n}" for n in range(1, STEPS + 1)}
