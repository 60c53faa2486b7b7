"""How a step ends, through the real SDK and the loopback Messages API on a real session and
CPU worker (issue 72): its record says what happened ("every candidate was a twin of v0", not
"none correct")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_helpers import make_agent
from engine_helpers import LiveRun, start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.evaluation import Worker
from avo_tui.store import Session


def records(live: LiveRun) -> list[dict[str, Any]]:
    return [e.data for e in live.kinds("research") if e.data.get("action") == "record"]


def test_a_step_whose_only_candidates_were_twins_says_so(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    calls: list[int] = []

    def turn(request: Recorded) -> Step:
        calls.append(1)
        if len(calls) <= 2:  # the workspace holds v0's files as they are: a twin, twice
            return reply(tool_use("evaluate", {"idea": f"measure the seed again ({len(calls)})"}))
        return reply(text("Nothing new to try."))

    fake.script(*[turn] * 3)
    live = start(session, worker, operator=make_agent(knowledge), max_steps=1)
    live.finish(120)
    attempts = session.recent_attempts(2)
    assert [a.outcome for a in attempts] == ["unchanged", "unchanged"], attempts
    [record] = records(live)
    assert record["outcome"] == "no commit; every candidate was a twin of v0", record
