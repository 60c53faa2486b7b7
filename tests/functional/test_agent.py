"""The agent operator end to end: a real session and CPU worker, the real anthropic SDK over
HTTP, and a scripted local Messages API (tests/fake_anthropic)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import (
    BROKEN,
    COMMIT_RETRIES,
    EDITOR,
    KERNEL,
    THREADS_LINE,
    commit_again_if_refused,
    commit_calls,
    edit,
    make_agent,
)
from engine_helpers import ONCE, TENFOLD, start, tenfold_session
from fake_anthropic import (
    ApiError,
    Drop,
    FakeAnthropic,
    Recorded,
    Reply,
    Stall,
    reply,
    text,
    tool_use,
)

from avo_tui.engine import (
    Budgets,
    Engine,
    Hint,
    Pause,
    Resume,
    SetBudgets,
    Stop,
    SupervisorLimits,
)
from avo_tui.evaluation import Worker
from avo_tui.store import Session


def results(request: Recorded) -> list[dict[str, Any]]:
    return request.tool_results()


@pytest.fixture
def tenfold(tmp_path: Path, worker: Worker) -> Iterator[Session]:
    """A session whose seed does all its work twelve times (engine_helpers.TENFOLD): its edit to
    REPEAT 1 is a gain the test may assert committed on a loaded CPU (docs/testing.md)."""
    with tenfold_session(tmp_path / "tenfold", worker) as session:
        yield session


def test_a_step_edits_evaluates_repairs_a_compile_error_and_commits(
    tenfold: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    session = tenfold
    def after_broken_evaluate(request: Recorded) -> Reply:  # the agent sees the error in its source
        evaluated = results(request)[-1]
        assert "compile failed" in evaluated["content"]
        assert ">" in evaluated["content"] and BROKEN in evaluated["content"]
        return reply(tool_use(*edit(BROKEN + "\n", "")),
                     tool_use("evaluate", {"idea": "the broken line removed"}))

    message = "once, not twelve times"
    fake.script(
        reply(text("Let me look."), tool_use("update_plan", {"plan": "do the work once"}),
              tool_use("search_knowledge", {"query": "threads cores"}),
              tool_use(EDITOR, {"command": "view", "path": KERNEL, "view_range": [20, 23]})),
        reply(tool_use(*edit(TENFOLD, ONCE + "\n" + BROKEN)),
              tool_use("evaluate", {"idea": "REPEAT 1, quick check", "quick": True})),
        after_broken_evaluate,
        reply(tool_use("note", {"text": "REPEAT 1 wins"}), *commit_calls(message)),
        *[commit_again_if_refused(message, reply(text("unused")))] * COMMIT_RETRIES,
    )
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    assert live.finish(120) == "step budget reached (1 of 1)"
    outcomes = [a.outcome for a in session.recent_attempts(10)][::-1]
    assert outcomes[0] == "compile" and outcomes[-2:] == ["promising", "committed"], outcomes
    retries = len(outcomes) - 3  # first readings that came out no better than the seed's score
    assert not {"promising", "committed"} & set(outcomes[1:-2]), outcomes

    first = fake.requests[0]
    assert first.stream and first.body["model"] == "claude-opus-4-7"
    brief = first.texts()[0]
    assert "Best so far: v0" in brief and "Lineage" in brief and "cpu-attention" in str(
        first.body["system"])
    viewed = results(fake.requests[1])
    assert "Use every core" in viewed[1]["content"]  # search_knowledge found the section
    assert "#define THREADS 1" in viewed[2]["content"] and TENFOLD in viewed[2]["content"]
    # prompt caching: the system prompt, the tools and the conversation prefix
    for request in fake.requests:
        assert request.body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert request.body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert request.body["messages"][-1]["content"][-1]["cache_control"] == {
            "type": "ephemeral"}
    assert len(fake.requests) == 4 + retries  # the accepted commit ends the step

    version = session.version("head")
    assert (version.id, version.author, version.message) == ("v1", "agent", message)
    assert ONCE in session.read_files(version)[KERNEL]
    assert BROKEN not in session.read_files(version)[KERNEL]
    confirmed = [a for a in session.recent_attempts(10) if a.version == "v1"]
    assert confirmed[0].transcript  # the conversation up to the commit, kept with it
    step = [e for e in live.events if e.kind == "step"][-1]
    transcript = json.loads(session.blobs.get_text(step.data["transcript"]))
    assert transcript["messages"][-1]["content"][-1]["content"].startswith("committed v1")
    assert step.data["tokens"] == len(fake.requests) * 150 and step.data["cost_usd"] > 0
    assert session.state["usage"]["tokens"] == len(fake.requests) * 150
    assert [e.data["text"] for e in live.kinds("plan")] == ["do the work once"]
    assert {e.data["tool"] for e in live.kinds("tool_call")} >= {"evaluate", "commit", EDITOR}
    assert session.state["operator_memory"]["notes"] == ["REPEAT 1 wins"]


def test_the_commit_tool_refuses_an_incorrect_or_unimproved_kernel(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(
        reply(*commit_calls("nothing changed")),
        reply(tool_use(*edit("float inv = 1.0f", "float inv = 2.0f")),
              tool_use("commit", {"message": "wrong"})),
        reply(text("Nothing worth committing; stopping.")),
    )
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    live.finish(120)
    # The same source again is refused, whatever the noise made of its first reading (slower,
    # or within the noise), or, where it flattered it, at the gate as identical to v0.
    unchanged = results(fake.requests[1])[-1]["content"]
    assert unchanged.startswith("not committed: ") or (
        "identical to v0: nothing new to commit" in unchanged), unchanged
    wrong = results(fake.requests[2])[-1]
    assert "not committed" in wrong["content"] and "incorrect" in wrong["content"]
    assert len(session.lineage) == 1
    assert live.kinds("step")[-1].data["summary"] == "Nothing worth committing; stopping."


def test_api_storms_drops_and_timeouts_are_waited_out(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    storm = [ApiError(429), ApiError(529)]  # within the SDK's own two retries
    outage = [ApiError(500), ApiError(529), ApiError(529)]  # beyond them: the agent waits
    fake.script(*storm, reply(tool_use("list_versions", {})), *outage, Drop(), Drop(), Drop(),
                Stall(3.0), Stall(3.0), Stall(3.0), reply(text("done")))
    agent = make_agent(knowledge, request_timeout_s=0.5)
    live = start(session, worker, max_steps=1, operator=agent)
    assert live.finish(120) == "step budget reached (1 of 1)"
    waits = [e.data["message"] for e in live.kinds("error")]
    assert len(waits) == 3, waits
    assert "unavailable (HTTP 529)" in waits[0] and "retrying in 0.05 s" in waits[0]
    assert "cannot reach the API" in waits[1]
    assert "timed out" in waits[2].lower()
    assert live.kinds("step")[-1].data["summary"] == "done"
    assert fake.remaining == 0


def test_a_refused_key_pauses_the_run_with_a_clear_message(
    session: Session, worker: Worker, knowledge: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeAnthropic(api_key="the-real-one") as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "revoked-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
        live.wait(lambda: bool(live.kinds("pause")))
        reason = live.kinds("pause")[0].data["reason"]
        assert "refused the key (HTTP 401)" in reason and "ANTHROPIC_API_KEY" in reason
        assert session.state["status"] == "paused"
        assert len(server.requests) == 1  # a 401 is not retried
        live.engine.submit(Stop("operator"))
        live.finish(30)
    assert live.kinds("step")[-1].data["transcript"]  # the step's record is kept


def test_a_refusal_whose_message_ends_a_sentence_reads_with_one_full_stop(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(ApiError(403, message="Your API key is invalid."))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    live.wait(lambda: bool(live.kinds("pause")))
    reason = live.kinds("pause")[0].data["reason"]
    assert "refused the key (HTTP 403): Your API key is invalid. To go on: " in reason, reason
    assert ".." not in reason
    live.engine.submit(Stop("operator"))
    live.finish(30)


def test_malformed_input_and_escapes_are_tool_errors(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    workspace = session.directory / "workspace"

    def plant_link(request: Recorded) -> Reply:
        (workspace / "link.c").symlink_to(outside)
        return reply(tool_use(EDITOR, {"command": "view", "path": "link.c"}),
                     tool_use(EDITOR, {"command": "create", "path": "link.c", "file_text": "x"}))

    fake.script(
        reply(tool_use(EDITOR, input_json='{"command": "view", "path": }'),
              tool_use("evaluate", {"quick": "yes"}),
              tool_use("no_such_tool", {}),
              tool_use(EDITOR, {"command": "view", "path": "/etc/passwd"}),
              tool_use(EDITOR, {"command": "view", "path": "../session.json"}),
              tool_use(EDITOR, {"command": "create", "path": "big.c", "file_text": "x" * 600_000}),
              tool_use(EDITOR, {"command": "create", "path": "knowledge/cpu.md",
                                "file_text": "overwritten"}),
              tool_use(EDITOR, {"command": "view", "path": "knowledge/cpu.md"}),
              tool_use("profile", {"config": "any"}),
              tool_use("profile", {}),
              tool_use("sanitize", {})),
        plant_link,
        reply(text("done")),
    )
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    live.finish(60)
    first = results(fake.requests[1])
    errors = [(r["is_error"], r["content"]) for r in first]
    assert errors[0][0] and "not valid JSON" in errors[0][1]
    assert errors[1][0] and "quick must be bool" in errors[1][1]
    assert errors[2][0] and "unknown tool 'no_such_tool'" in errors[2][1]
    assert errors[3][0] and "absolute paths are refused" in errors[3][1]
    assert errors[4][0] and "'..' is refused" in errors[4][1]
    assert errors[5][0] and "the limit is 512,000" in errors[5][1]
    assert errors[6][0] and "read-only" in errors[6][1]
    assert not errors[7][0] and "Use every core" in errors[7][1]
    assert errors[8][0] and "profile needs a CUDA target" in errors[8][1]
    assert errors[9][0] and "profile needs a CUDA target" in errors[9][1]
    assert errors[10][0] and "sanitize needs a CUDA target" in errors[10][1]
    linked = results(fake.requests[2])
    assert all(r["is_error"] and "outside the workspace" in r["content"] for r in linked)
    assert outside.read_text() == "secret"
    assert (knowledge / "cpu.md").read_text().startswith("# CPU attention")
    assert not (workspace / "big.c").exists()


def test_a_hint_sent_mid_step_reaches_the_next_request(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    engine_box: list[Engine] = []

    def send_hint(request: Recorded) -> Reply:
        engine_box[0].submit(Hint("try THREADS=0"))
        return reply(tool_use("list_versions", {}))

    fake.script(reply(tool_use("list_attempts", {})), send_hint, reply(text("ok")))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge),
                 before=engine_box.append)
    live.finish(60)
    assert not any("try THREADS=0" in t for t in fake.requests[1].texts())
    assert any("Operator hint" in t and "try THREADS=0" in t for t in fake.requests[2].texts())
    assert [e.data["action"] for e in live.kinds("hint")] == ["received", "used"]


def test_a_pause_takes_effect_between_tool_calls(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    engine_box: list[Engine] = []

    def pause_now(request: Recorded) -> Reply:
        engine_box[0].submit(Pause())
        return reply(tool_use("update_plan", {"plan": "after the pause"}),
                     tool_use("list_versions", {}))

    fake.script(pause_now, reply(text("ok")))
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge),
                 before=engine_box.append)
    live.wait(lambda: session.state.get("status") == "paused")
    # A paused engine still takes commands: the hint is taken before any tool runs, whereas
    # an engine that went on would take it only at the safe point after the first tool.
    live.engine.submit(Hint("while paused"))
    live.wait(lambda: bool(live.kinds("hint")))
    live.engine.submit(Resume())
    live.finish(60)
    kinds = [e.kind for e in live.events if e.kind in ("pause", "hint", "resume", "tool_call")]
    assert kinds[:5] == ["pause", "hint", "resume", "tool_call", "tool_call"]


def test_a_spent_budget_pauses_and_a_raised_one_continues(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    expensive = {"input_tokens": 10_000, "output_tokens": 46_000}  # $1.20 at opus prices
    fake.script(reply(tool_use("list_versions", {}), usage=expensive),
                reply(text("done"), usage=expensive))
    live = start(session, worker, operator=make_agent(knowledge),
                 budgets=Budgets(max_steps=1, max_cost_usd=1.0))
    live.wait(lambda: bool(live.kinds("pause")))
    reason = live.kinds("pause")[0].data["reason"]
    assert reason.startswith("cost budget reached ($1.20 of $1.00)")
    assert "budget cost=" in reason
    assert len(fake.requests) == 1 and live.kinds("tool_call") == []
    live.engine.submit(SetBudgets({"max_cost_usd": 10.0}))
    live.engine.submit(Resume())
    assert live.finish(60) == "step budget reached (1 of 1)"
    assert session.state["budgets"]["max_cost_usd"] == 10.0
    assert session.state["usage"]["cost_usd"] == pytest.approx(2 * 1.20)
    assert session.state["usage"]["tokens"] == 2 * 56_000
    assert live.kinds("step")[-1].data["summary"] == "done"


def test_a_stall_brings_a_supervisor_review_into_the_next_step(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    broken = edit(THREADS_LINE, THREADS_LINE + "\n" + BROKEN)
    fake.script(
        reply(tool_use(*broken), tool_use("evaluate", {"idea": "a broken line"})),
        reply(tool_use(EDITOR, {"command": "create", "path": KERNEL, "file_text": "junk("}),
              tool_use("evaluate", {"idea": "junk"})),
        reply(text("giving up")),
        reply(text("1. Stop editing the tiling; 2. parallelise over heads.")),  # the review
        reply(text("ok")),
    )
    live = start(session, worker, operator=make_agent(knowledge), budgets=Budgets(max_steps=2),
                 limits=SupervisorLimits(consecutive_failures=2))
    live.finish(120)
    review = fake.requests[3]
    assert not review.stream and "stall detector fired" in review.texts()[0]
    assert "2 failed candidates in a row" in review.texts()[0]
    supervisor = [e for e in live.kinds("supervisor") if e.data.get("action") == "review"]
    assert "parallelise over heads" in supervisor[0].data["proposals"]
    assert any("supervisor's directions" in t and "parallelise over heads" in t
               for t in fake.requests[4].texts())


def step_summaries(session: Session, worker: Worker, knowledge: Path) -> list[str]:
    """Run one agent step on the turns scripted so far; the step's summary."""
    live = start(session, worker, max_steps=1, operator=make_agent(knowledge))
    live.finish(60)
    return [e.data["summary"] for e in live.kinds("step")]


def test_a_tool_call_cut_off_at_the_output_limit_is_dropped_and_the_agent_told(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(
        reply(text("I will rewrite"), tool_use(EDITOR, input_json='{"command": "create", "pa'),
              stop_reason="max_tokens"),
        reply(text("done")),
    )
    step_summaries(session, worker, knowledge)
    after_cut = fake.requests[1].body["messages"]
    assert [b["type"] for b in after_cut[-2]["content"]] == ["text"]  # the cut-off call is gone
    assert "cut off at the output limit" in fake.requests[1].texts()[-1]


def test_a_paused_turn_is_continued(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(reply(text("thinking it over"), stop_reason="pause_turn"), reply(text("done")))
    step_summaries(session, worker, knowledge)
    assert fake.requests[1].body["messages"][-1]["role"] == "assistant"  # the turn continues


def test_a_full_context_asks_the_agent_to_wrap_up_then_ends_the_step(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(
        reply(tool_use("list_versions", {}), usage={"input_tokens": 130_000}),
        reply(tool_use("list_versions", {}), usage={"input_tokens": 170_000}),
    )
    [summary] = step_summaries(session, worker, knowledge)
    assert any("wrap up now" in t for t in fake.requests[1].texts())
    assert summary.startswith("step ended: the conversation reached 170,")


def test_a_refusal_ends_the_step(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    fake.script(reply(text("I can't help with that."), stop_reason="refusal"))
    assert step_summaries(session, worker, knowledge) == [
        "the model refused to continue this step"]
