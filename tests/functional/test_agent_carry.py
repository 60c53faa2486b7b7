"""A promising candidate the agent leaves uncommitted is carried to the next step (issue 72,
"nothing promising is dropped"), through the real SDK and the loopback Messages API on a real
session and CPU worker: the next step's workspace holds it and its brief says so, across a
restart of the run; a rollback in between drops it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import EDITOR, KERNEL, commit_calls, edit, make_agent
from engine_helpers import ONCE, TENFOLD, LiveRun, start, tenfold_session
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.engine.commands import Rollback
from avo_tui.evaluation import Worker
from avo_tui.store import Outcome, Session

IDEA = "REPEAT 1: do the work once, not twelve times"
STEP = re.compile(r"# Step brief \(step (\d+)\)")
VIEW = tool_use(EDITOR, {"command": "view", "path": KERNEL})


@pytest.fixture
def tenfold(tmp_path: Path, worker: Worker) -> Iterator[Session]:
    """Its seed's one edit, REPEAT 1, is 12x faster: a commit a test may assert
    (docs/testing.md)."""
    with tenfold_session(tmp_path / "tenfold", worker) as session:
        yield session


def brief_of(request: Recorded) -> str:
    return str(request.body["messages"][0]["content"][0]["text"])


def step_of(request: Recorded) -> int:
    found = STEP.search(brief_of(request))
    assert found is not None
    return int(found.group(1))


def leave_a_promising_candidate(request: Recorded) -> Step | None:
    """Step 1 of a script: edit, evaluate a promising candidate, end the turn without a
    commit. None for a request of a later step."""
    if step_of(request) != 1:
        return None
    if len(request.body["messages"]) == 1:
        return reply(tool_use(*edit(TENFOLD, ONCE)), tool_use("evaluate", {"idea": IDEA}))
    return reply(text("A gain, but I will look at it again next step."))


def promising_of(session: Session) -> str:
    [attempt] = [a for a in session.recent_attempts(10) if a.idea == IDEA]
    assert attempt.outcome == Outcome.PROMISING, attempt
    return attempt.id


def viewed(request: Recorded) -> str:
    return str(request.tool_results()[0]["content"])


def test_an_uncommitted_promising_candidate_starts_the_next_step_across_a_restart(
    tenfold: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    requests: list[Recorded] = []

    def turn(request: Recorded) -> Step:
        requests.append(request)
        first = leave_a_promising_candidate(request)
        if first is not None:
            return first
        turns = (len(request.body["messages"]) + 1) // 2
        if turns == 1:
            return reply(VIEW)
        if turns == 2:
            return reply(tool_use("evaluate", {"idea": "the carried candidate"}),
                         *commit_calls("REPEAT 1, carried from step 1"))
        if turns == 3:  # the checklist: submit
            return reply(tool_use("commit", {"message": "REPEAT 1, carried from step 1"}))
        return reply(text("done"))

    fake.script(*[turn] * 8)
    live = start(tenfold, worker, operator=make_agent(knowledge), max_steps=1)
    live.finish(240)
    carried = promising_of(tenfold)
    [ended] = live.kinds("step")
    assert f"{carried} promising, never gated, is left to the next step" in \
        ended.data["summary"], ended.data["summary"]
    assert tenfold.run_state.lane(1).carry == carried  # kept for the next run
    assert not any(a.detail.startswith(f"re-evaluation of {carried}")
                   for a in tenfold.recent_attempts(10))  # it never went to the gate

    # The run starts again (a new engine and agent): step 2 starts from the candidate.
    live = start(tenfold, worker, operator=make_agent(knowledge), max_steps=2)
    live.finish(240)
    opened = requests[2]
    assert step_of(opened) == 2
    said = brief_of(opened)
    assert f"The workspace holds {carried}, a candidate the last step left uncommitted" in said
    assert "Its first reading was promising" in said and "The gate never judged it." in said
    assert "commit it if it holds" in said and "or drop it" in said
    shown = viewed(requests[3])
    assert ONCE in shown and TENFOLD not in shown  # the workspace holds it, not v0
    # Its reading, read back from the store by a run that never made it, went to the gate.
    version = tenfold.head
    assert version is not None and version.id == "v1", [
        f"{a.id} {a.outcome} {a.detail[:120]}" for a in tenfold.recent_attempts(6)]
    assert ONCE in tenfold.read_files(version)[KERNEL]
    assert tenfold.run_state.lane(1).carry is None


def test_a_rollback_drops_the_candidate_a_step_left(
    tenfold: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    requests: list[Recorded] = []
    live: list[LiveRun] = []

    def turn(request: Recorded) -> Step:
        requests.append(request)
        first = leave_a_promising_candidate(request)
        if first is not None:
            if len(request.body["messages"]) > 1:  # the step ends: the operator rolls back
                live[0].engine.submit(Rollback("v0"))
            return first
        if len(request.body["messages"]) == 1:
            return reply(VIEW)
        return reply(text("done"))

    fake.script(*[turn] * 4)
    live.append(start(tenfold, worker, operator=make_agent(knowledge), max_steps=2))
    live[0].finish(240)
    carried = promising_of(tenfold)
    assert live[0].kinds("rollback")
    opened = requests[2]
    assert step_of(opened) == 2
    said = brief_of(opened)
    assert "The workspace holds v0 (the head), your starting point." in said
    assert carried not in said.split("## ")[0]
    shown = viewed(requests[3])
    assert TENFOLD in shown and ONCE not in shown
    assert tenfold.run_state.lane(1).carry is None
