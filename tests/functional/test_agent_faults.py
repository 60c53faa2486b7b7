"""A hostile Messages API and hostile tool inputs, end to end: the real SDK over loopback HTTP
to the scripted fake, a real session and CPU worker. Every fault must leave the run alive and
the step whole: a broken turn is asked for again from the last complete turn, a bad tool input
is an ``is_error`` result, a request the API refuses fails the step, and repeated failures
pause the run instead of looping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import EDITOR, KERNEL, UNROLL_2, UNROLL_LINE, edit, make_agent
from engine_helpers import start
from fake_anthropic import (
    ApiError,
    Cut,
    FakeAnthropic,
    RawSSE,
    Recorded,
    Step,
    reply,
    text,
    tool_use,
)

from avo_tui.cli import main
from avo_tui.engine import Budgets, Stop
from avo_tui.evaluation import Worker
from avo_tui.operators.agent import ledger
from avo_tui.store import ResearchPayload, Session, Version, payload_of

TOOL_TURN = reply(tool_use("list_versions", {}))
# The SSE events of TOOL_TURN (fake_anthropic._sse_events): message_start, ping,
# content_block_start, two input_json deltas, content_block_stop, message_delta, message_stop.
MID_TOOL_INPUT = 4
BEFORE_MESSAGE_DELTA = 6


def message_start() -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": "msg_raw", "type": "message", "role": "assistant", "model": "claude-fake",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}}


def ending(stop_reason: str = "end_turn") -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": stop_reason},
             "usage": {"output_tokens": 5}}, {"type": "message_stop"}]


BROKEN_TURNS: dict[str, tuple[Step, str]] = {
    "connection dropped mid-body": (Cut(TOOL_TURN, MID_TOOL_INPUT, "drop"), "mid-response"),
    "connection stalled mid-body": (Cut(TOOL_TURN, MID_TOOL_INPUT, "stall"), "mid-response"),
    "ends without message_stop": (Cut(TOOL_TURN, BEFORE_MESSAGE_DELTA, "end"),
                                  "before message_stop"),
    "a delta for a block never started": (RawSSE([message_start(), {
        "type": "content_block_delta", "index": 3,
        "delta": {"type": "text_delta", "text": "orphan"}}, *ending()]), "never started"),
    "data that is not JSON": (RawSSE(["event: message_start\ndata: {not json\n\n"]),
                              "malformed response"),
    "a tool call without an id": (RawSSE([message_start(), {
        "type": "content_block_start", "index": 0,
        "content_block": {"type": "tool_use", "name": "list_versions", "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_stop", "index": 0}, *ending("tool_use")]), "without an id"),
    "negative usage": (reply(tool_use("list_versions", {}),
                             usage={"output_tokens": -10_000_000}), "impossible output_tokens"),
}


def messages(request: Recorded) -> list[dict[str, Any]]:
    """A request's conversation without its cache markers (they move to the last block)."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "cache_control"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    stripped = strip(request.body["messages"])
    assert isinstance(stripped, list)
    return stripped


@pytest.mark.parametrize("fault", list(BROKEN_TURNS))
def test_a_broken_stream_is_asked_for_again_from_the_last_complete_turn(
    fault: str, session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    broken, why = BROKEN_TURNS[fault]
    fake.script(reply(tool_use("list_attempts", {})), broken, TOOL_TURN, reply(text("done")))
    agent = make_agent(knowledge, sdk_retries=0, request_timeout_s=1.0)
    live = start(session, worker, max_steps=1, operator=agent)
    assert live.finish(120) == "step budget reached (1 of 1)"
    assert session.state["status"] == "finished"
    errors = [e.data["message"] for e in live.kinds("error")]
    assert len(errors) == 1 and why in errors[0] and "retrying in" in errors[0], errors
    # The broken turn left nothing behind: the retry is the same request, and the conversation
    # goes on from the whole turn that replaced it.
    assert messages(fake.requests[2]) == messages(fake.requests[1])
    assert len(fake.requests[1].body["messages"]) == 3  # brief, list_attempts, its result
    assert [r["is_error"] for r in fake.requests[3].tool_results()] == [False]
    steps = live.kinds("step")
    assert [s.data["summary"] for s in steps] == ["done"]
    assert session.state["usage"]["tokens"] >= 0 and session.state["usage"]["cost_usd"] >= 0


def test_negative_usage_never_lowers_what_was_spent(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(reply(tool_use("list_versions", {}), usage={"input_tokens": 1000}),
                reply(text("x"), usage={"input_tokens": -50_000_000, "output_tokens": -1}),
                reply(text("done"), usage={"input_tokens": 1000}))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge, sdk_retries=0))
    live.finish(60)
    assert session.state["usage"]["tokens"] == 2 * (1000 + 50)  # the two whole turns only
    assert session.state["usage"]["cost_usd"] > 0


def test_a_long_retry_after_waits_in_our_loop_where_stop_acts(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(ApiError(429, headers={"retry-after": "3600"}), reply(text("never asked")))
    agent = make_agent(knowledge, outage_wait_max_s=900.0)
    live = start(session, worker, max_steps=1, operator=agent)
    live.wait(lambda: bool(live.kinds("error")))
    wait = live.kinds("error")[0].data["message"]
    assert "HTTP 429" in wait and "asked for 3600 s" in wait and "retrying in 900 s (at " in wait
    sessions, name = str(session.directory.parent), session.directory.name
    assert main(["--sessions-dir", sessions, "send", name, "stop"]) == 0  # from another shell
    # Without our own loop the SDK sleeps the hour inside the call, and this join times out.
    live.finish(30)
    assert session.state["status"] == "stopped"
    assert len(fake.requests) == 1  # the SDK did not retry on its own
    assert live.kinds("step")[-1].data["summary"].startswith("step ended early")


def test_a_request_the_api_refuses_fails_the_step_and_repeats_pause_the_run(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    refused = "thinking.budget_tokens: this model does not accept a thinking budget"
    fake.script(*[ApiError(400, message=refused) for _ in range(3)], reply(text("done")))
    live = start(session, worker, operator=make_agent(knowledge), budgets=Budgets(max_steps=10))
    live.wait(lambda: bool(live.kinds("pause")))
    reason = live.kinds("pause")[0].data["reason"]
    assert reason.startswith("3 steps in a row failed") and refused in reason
    assert len(fake.requests) == 3  # one request a step, then the pause: no loop
    steps = live.kinds("step")
    assert len(steps) == 3 and all(s.data["failed"] and refused in s.data["summary"]
                                   for s in steps)
    live.engine.submit(Stop("operator"))
    assert live.finish(30) == "operator"
    assert session.state["status"] == "stopped"


def test_hostile_tool_inputs_are_tool_errors_and_the_step_goes_on(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    kernel = session.read_files("v0")[KERNEL]
    hostile: list[dict[str, Any]] = [
        {"command": "create", "path": None, "file_text": "x"},
        {"command": "create", "path": "a.c", "file_text": None},
        {"command": "create", "path": "nul\x00byte.c", "file_text": "x"},
        {"command": "create", "path": "n" * 300 + ".c", "file_text": "x"},
        {"command": "create", "path": "/".join(["d"] * 3000), "file_text": "x"},
        {"command": "create", "path": "lone.c", "file_text": "half a pair: \ud800"},
        {"command": "create", "path": f"{KERNEL}/inner.c", "file_text": "x"},
        {"command": "view", "path": KERNEL, "view_range": [None, 3]},
        {"command": "insert", "path": KERNEL, "insert_line": 10**30, "insert_text": "x"},
    ]
    fake.script(reply(*[tool_use(EDITOR, args) for args in hostile],
                      tool_use("show_version", {"version": "v" + "9" * 40}),
                      tool_use("note", {"text": None})),
                reply(text("done")))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    assert live.finish(60) == "step budget reached (1 of 1)"
    results = fake.requests[1].tool_results()
    assert len(results) == len(hostile) + 2
    assert all(r["is_error"] for r in results), [r["content"] for r in results]
    assert not any("Traceback" in r["content"] for r in results)
    assert live.kinds("step")[-1].data["summary"] == "done"
    workspace = session.directory / "workspace"
    assert (workspace / KERNEL).read_text() == kernel
    assert sorted(p.name for p in workspace.iterdir()) == [KERNEL]


def test_a_huge_note_is_refused_and_later_requests_stay_small(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(reply(tool_use("note", {"text": "x" * 3_000_000})), reply(text("done")),
                reply(text("second step")))
    live = start(session, worker, max_steps=2, operator=make_agent(knowledge))
    live.finish(60)
    result = fake.requests[1].tool_results()[0]
    assert result["is_error"] and "limit" in result["content"]
    assert len(json.dumps(fake.requests[2].body)) < 100_000  # the next step's brief
    assert [s.data["summary"] for s in live.kinds("step")] == ["done", "second step"]


def test_a_bug_in_the_agent_fails_the_step_keeps_its_transcript_and_the_run_goes_on(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from avo_tui.operators.agent import agent as agent_module

    calls = []

    def buggy(self: Any, turn: Any) -> Version | None:
        calls.append(turn)
        if len(calls) == 1:
            raise ZeroDivisionError("a bug in the tool loop")
        return original(self, turn)

    original = agent_module._Step._run_tools
    monkeypatch.setattr(agent_module._Step, "_run_tools", buggy)
    fake.script(TOOL_TURN, TOOL_TURN, reply(text("second step")))
    live = start(session, worker, max_steps=2, operator=make_agent(knowledge))
    assert live.finish(60) == "step budget reached (2 of 2)"
    first, second = live.kinds("step")
    assert first.data["failed"] and "a bug in the tool loop" in first.data["summary"]
    transcript = json.loads(session.blobs.get_text(first.data["transcript"]))
    assert transcript["messages"][-1]["role"] == "assistant"  # the turn the bug met is kept
    error = live.kinds("error")[0].data
    assert "ZeroDivisionError" in error["message"] and "_run_tools" in error["traceback"]
    assert second.data["summary"] == "second step" and not second.data["failed"]


def test_a_step_an_api_fault_ends_still_leaves_a_lesson(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """Issue 86: a step that ends on a request the API refuses (HTTP 400) after evaluating a
    candidate keeps a lesson written from its record (no request: the API refuses), in its
    research record and in the ledger's direction, even with the debrief on."""
    refused = "messages: the request is malformed"
    fake.script(reply(tool_use(*edit(UNROLL_LINE, UNROLL_2)),
                      tool_use("evaluate", {"idea": "UNROLL 2 for fewer registers"})),
                ApiError(400, message=refused))
    record = _lesson_of_the_failed_step(session, worker, knowledge, refused)
    assert "UNROLL 2 for fewer registers" in record.lesson
    assert len(fake.requests) == 2  # no debrief was sent after the refusal
    [direction] = ledger.stored(session.state["operator_memory"])
    assert direction.learned == (1,)  # the journal's lesson of step 1 is shown with it


@pytest.mark.parametrize("ending", ["api fault before any candidate", "a bug in the tool loop"])
def test_a_step_that_ends_before_it_tried_anything_still_leaves_a_lesson(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path,
    monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """Issue 86, a lesson for every step whatever ended it: a step whose first request the API
    refuses, or whose tool loop meets a bug, tried nothing, and still keeps a lesson written
    from its record that says what ended it."""
    from avo_tui.operators.agent import agent as agent_module

    if ending.startswith("api"):
        cause = "messages: the request is malformed"
        fake.script(ApiError(400, message=cause))
    else:
        cause = "a bug in the tool loop"

        def buggy(self: Any, turn: Any) -> Version | None:
            raise ZeroDivisionError(cause)

        monkeypatch.setattr(agent_module._Step, "_run_tools", buggy)
        fake.script(TOOL_TURN)
    _lesson_of_the_failed_step(session, worker, knowledge, cause)


def _lesson_of_the_failed_step(session: Session, worker: Worker, knowledge: Path,
                               cause: str) -> ResearchPayload:
    """One step, with the debrief on, that ``cause`` fails: its research record, whose lesson
    is written from the record and names the cause."""
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge, debrief=True))
    live.finish(120)
    [step] = live.kinds("step")
    assert step.data["failed"] and cause in step.data["summary"]
    [event] = live.kinds("research")
    record = payload_of(event)
    assert isinstance(record, ResearchPayload)
    assert record.lesson.startswith("[from the record, no debrief: step failed"), record
    assert cause in record.lesson, record.lesson
    return record
