"""How a step ends, through the real SDK and the loopback Messages API on a real session and
CPU worker (issue 72): --max-step-cost is a cap, the debrief and the review included; every
step keeps a lesson; a promising candidate goes to the gate whatever ended its step; the record
says what happened ("every candidate was a twin of v0", not "none correct")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import KERNEL, edit, make_agent
from engine_helpers import FAST, SLOW, LiveRun, new_session, slow_seed, start
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, text, tool_use

from avo_tui.evaluation import Worker
from avo_tui.operators.agent import AgentSettings
from avo_tui.operators.agent.agent import OVER_COST
from avo_tui.store import Outcome, Session


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


CAP = 0.01  # dollars: the issue's --max-step-cost, far below one turn of the default model
STEP = re.compile(r"# Step brief \(step (\d+)\)")
IDEA = "REPEAT 4: do the work four times, not seven"


@pytest.fixture
def slow(tmp_path: Path, worker: Worker) -> Iterator[Session]:
    with new_session(tmp_path / "slow", worker, slow_seed()) as session:
        yield session


def to_the_limit(request: Recorded) -> dict[str, int]:
    """Usage as a model that writes until its output limit would run up: every request costs
    close to its bound, so two requests of a step past its cap would show."""
    return {"input_tokens": len(json.dumps(request.body)) // 4,
            "output_tokens": int(request.body["max_tokens"])}


def bound(settings: AgentSettings, request: Recorded) -> float:
    """One request's bound as the issue prices it: max_tokens at the output price and its
    input tokens at the input price."""
    price = settings.price()
    assert price is not None
    usage = to_the_limit(request)
    return (usage["output_tokens"] * price.output + usage["input_tokens"] * price.input) / 1e6


def test_max_step_cost_is_a_cap_every_step_keeps_a_lesson_and_a_promising_candidate_is_gated(
    slow: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """With --max-step-cost 0.01, each step's first turn already passes the cap. Step 1 edits,
    evaluates a promising candidate and asks for its checklist (the review before a commit
    would be one more request: not sent), and the cap ends it: the candidate still goes to
    the gate. Step 2 ends by itself (its debrief would be one more request: not sent). Step 3
    evaluates and the cap ends it. Each keeps a lesson written from its record."""
    steps: list[list[Recorded]] = []

    def turn(request: Recorded) -> Step:
        usage = to_the_limit(request)
        if "tools" not in request.body:  # the review before a commit
            steps[-1].append(request)
            return reply(text("APPROVE"), usage=usage)
        texts = request.texts()
        if any("The step has ended" in t for t in texts):
            steps[-1].append(request)
            return reply(text("<lesson>asked</lesson>"), usage=usage)
        found = next((STEP.search(t) for t in texts if STEP.search(t)), None)
        if found is None:
            steps[-1].append(request)
            return reply(text("done"), usage=usage)
        steps.append([request])
        number = int(found.group(1))
        if number == 1:
            return reply(tool_use(*edit(SLOW, FAST)), tool_use("evaluate", {"idea": IDEA}),
                         tool_use("commit", {"message": IDEA}), usage=usage)
        if number == 2:
            return reply(text("Nothing to try in this step."), usage=usage)
        return reply(tool_use("evaluate", {"idea": "measure the best again"}), usage=usage)

    fake.script(*[turn] * 12)
    agent = make_agent(knowledge, max_step_cost_usd=CAP, debrief=True, review_commits=True)
    live = start(slow, worker, operator=agent, max_steps=3)
    live.finish(240)

    edited = slow.store_files({KERNEL: slow.read_files("v0")[KERNEL].replace(SLOW, FAST)})
    ended = live.kinds("step")
    assert len(ended) == 3 and len(steps) == 3
    for event, requests in zip(ended, steps, strict=True):
        assert len(requests) == 1, [r.texts()[-1][:80] for r in requests]  # nothing past it
        assert event.data["cost_usd"] <= CAP + max(bound(agent.settings, r) for r in requests)
    kept = records(live)
    assert [bool(r["lesson"]) for r in kept] == [True, True, True], kept
    assert all(r["lesson"].startswith("[from the record, ") for r in kept)
    assert "no debrief: it would not fit under the step's cost limit" in kept[1]["lesson"]
    assert kept[0]["lesson"].startswith(f"[from the record, {OVER_COST}]")
    assert IDEA in kept[0]["lesson"]

    # The promising candidate of step 1 reached the gate, though the cap ended its step.
    evaluated, *gated = sorted((a for a in slow.recent_attempts(10) if a.files == edited),
                               key=lambda a: a.number)
    assert evaluated.outcome == Outcome.PROMISING and evaluated.idea == IDEA, evaluated
    assert gated and gated[0].outcome != Outcome.UNCHANGED, slow.recent_attempts(10)
    assert "at the step's end the gate" in ended[0].data["summary"], ended[0].data["summary"]


def test_a_request_of_text_past_ascii_is_priced_at_a_token_a_character_or_more() -> None:
    """A hint or a kernel comment in Chinese, or a tool's output of emoji: each character may
    be a token of its own, and the request's bound (the cap's) must not price it at a third
    of that."""
    from avo_tui.operators.agent.step_cap import CHARS_PER_TOKEN, request_chars

    wide = "内核优化🚀" * 300
    assert request_chars({"role": "user", "content": wide}) >= CHARS_PER_TOKEN * len(wide)
