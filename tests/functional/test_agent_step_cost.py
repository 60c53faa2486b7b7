"""Cost in view (issue 54), through the real SDK and the loopback Messages API on a real run:
the brief says what the last step cost, the average, and the steps the budget holds at that
rate; --max-step-cost ends a step that passes its dollars, cleanly, its attempts and research
record kept, with a warning to wrap up first."""

from __future__ import annotations

import re
from pathlib import Path

from agent_helpers import make_agent
from engine_helpers import start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.cli import build_parser
from avo_tui.commands.prepare import _agent_flags
from avo_tui.engine import Budgets
from avo_tui.evaluation import Worker
from avo_tui.operators.agent.agent import OVER_COST
from avo_tui.store import Session

STEP = re.compile(r"# Step brief \(step (\d+)\)")
BUDGET = 100.0


def test_the_brief_shows_the_last_steps_cost_the_average_and_the_steps_left(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    briefs: dict[int, str] = {}

    def turn(request: Recorded) -> Step:
        last = request.texts()[-1]
        step = int(found.group(1)) if (found := STEP.search(last)) else 0
        briefs[step] = last
        # Each step spends differently: step n reads n hundred thousand input tokens.
        return reply(text("Nothing to try."), usage={"input_tokens": 100_000 * step})

    fake.script(*[turn] * 3)
    live = start(session, worker, operator=make_agent(knowledge),
                 budgets=Budgets(max_steps=3, max_cost_usd=BUDGET))
    live.finish(120)
    costs = [e.data["cost_usd"] for e in live.kinds("step")]
    assert len(costs) == 3 and costs[0] < costs[1] < costs[2]
    assert "The last step cost" not in briefs[1]  # no step has ended yet
    average = sum(costs[:2]) / 2
    more = int((BUDGET - sum(costs[:2])) // average)
    assert (f"The last step cost ${costs[1]:.2f}; a step costs ${average:.2f} on average over "
            f"2; at that rate the budget holds {more} more steps.") in briefs[3], briefs[3]


def test_a_step_past_max_step_cost_ends_after_a_warning_and_keeps_its_work(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    requests: list[list[str]] = []

    def turn(request: Recorded) -> Step:
        requests.append(request.texts())
        call = (tool_use("evaluate", {"idea": "unroll by four", "quick": True})
                if len(requests) == 1 else tool_use("list_versions", {}))
        return reply(call, usage={"input_tokens": 45_000})  # $0.225 a turn at $5/MTok

    fake.script(*[turn] * 10)
    # A debrief would be asked at a step's end: not past the step's limit.
    agent = make_agent(knowledge, max_step_cost_usd=0.5, debrief=True)
    live = start(session, worker, operator=agent, max_steps=1)
    live.finish(120)
    assert len(requests) == 3  # $0.225, $0.45 (past 80%: warned), $0.675 (ended)
    assert "a step may take 60 turns and $0.50;" in requests[0][-1]  # the brief
    assert re.search(r"this step so far \$0\.2\d of its \$0\.50 limit", requests[1][-1])
    assert not any("wrap up now" in t for t in requests[1])
    assert any("This step has spent $0.45 of its $0.50 limit (--max-step-cost): wrap up now"
               in t for t in requests[2])
    assert not any("The step has ended" in t for r in requests for t in r)  # no debrief
    summary = live.kinds("step")[-1].data["summary"]
    assert summary.startswith(OVER_COST) and "$0.68 of $0.50" in summary, summary
    assert [a.idea for a in session.recent_attempts(5)] == ["unroll by four"]
    record = [e for e in live.kinds("research") if e.data.get("action") == "record"][-1]
    assert record.data["ideas"] and "unroll by four" in record.data["ideas"][0]


def test_avo_run_takes_max_step_cost_into_the_agents_settings() -> None:
    run = ["run", "--session", "s", "--target", "cpu-attention", "--operator", "agent"]
    args = build_parser().parse_args([*run, "--max-step-cost", "2.5"])
    assert _agent_flags(args)["max_step_cost_usd"] == 2.5
    assert _agent_flags(build_parser().parse_args(run))["max_step_cost_usd"] is None
