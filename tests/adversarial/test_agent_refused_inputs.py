"""A turn whose tool inputs the tools refuse (a 10 MB file write, a 3 MB note, a 2 MB plan): the
refused inputs leave the conversation, replaced by a short stand-in, so the step goes on and the
next request stays small. Found 2026-11-24: they rode along, every later request of the step was
15.9 MB, the API answered "prompt is too long", and three failed steps paused a weekend run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_helpers import EDITOR, KERNEL, make_agent
from engine_helpers import start
from fake_anthropic import FakeAnthropic, RawSSE, reply, text, tool_use

from avo_tui.evaluation import Worker
from avo_tui.store import Session


def message_start() -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
        "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1}}}


def tool_turn_in_pieces(calls: list[tuple[str, dict[str, Any]]], piece: int) -> RawSSE:
    """A tool-use turn streamed as the API streams a long input: deltas of ``piece`` characters."""
    events: list[str | bytes | dict[str, Any]] = [message_start()]
    for index, (name, given) in enumerate(calls):
        raw = json.dumps(given)
        events.append({"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": f"toolu_big{index}", "name": name, "input": {}}})
        events += [{"type": "content_block_delta", "index": index, "delta": {
            "type": "input_json_delta", "partial_json": raw[i:i + piece]}}
            for i in range(0, len(raw), piece)]
        events.append({"type": "content_block_stop", "index": index})
    events += [{"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 30_000}}, {"type": "message_stop"}]
    return RawSSE(events)


def test_a_refused_10_mb_input_is_left_out_and_the_step_goes_on(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    huge = [(EDITOR, {"command": "create", "path": "big.c", "file_text": "x" * 10_000_000}),
            ("note", {"text": "n" * 3_000_000}), ("update_plan", {"plan": "p" * 2_000_000})]
    # The write arrives in 10,000 deltas: joined once, not copied at each one.
    fake.script(tool_turn_in_pieces(huge, 1000),
                reply(tool_use("list_versions", {})), reply(text("done, within bounds")))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    assert live.finish(120) == "step budget reached (1 of 1)"
    assert live.kinds("step")[-1].data["summary"] == "done, within bounds"  # the step went on
    nexts = fake.requests[1:]
    assert all(len(json.dumps(r.body)) < 1_000_000 for r in nexts), \
        [len(json.dumps(r.body)) for r in nexts]
    results = nexts[0].tool_results()
    assert [r["is_error"] for r in results] == [True, True, True]
    assert "10,000,000 characters long" in results[0]["content"]
    kept = nexts[0].body["messages"][-2]["content"]  # the refused turn, as sent back
    assert kept[0]["input"]["path"] == "big.c"  # what was refused stays readable
    assert kept[0]["input"]["file_text"].startswith("[10,000,000 characters, refused by")
    assert "3,000,000 characters" in kept[1]["input"]["text"]
    assert not (session.directory / "workspace" / "big.c").exists()


def test_small_refused_inputs_and_accepted_ones_stay_as_they_were(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fine = {"command": "view", "path": KERNEL, "view_range": [1, 3]}
    wrong = {"command": "view", "path": "/etc/passwd"}
    fake.script(reply(tool_use(EDITOR, fine), tool_use(EDITOR, wrong)), reply(text("done")))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    live.finish(60)
    sent = [b["input"] for b in fake.requests[1].body["messages"][-2]["content"]]
    assert sent == [fine, wrong]
