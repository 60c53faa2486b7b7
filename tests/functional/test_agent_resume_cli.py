"""``avo run --operator agent`` killed mid-step and resumed, and the API check before a run, as a
user meets them: a real ``avo run --headless`` process, the real SDK speaking HTTP to a local
fake of the Messages API, a real session on disk. No mocks."""

from __future__ import annotations

import copy
import socket
import subprocess
from pathlib import Path
from typing import Any

from agent_helpers import EDITOR, KERNEL, UNROLL_2, UNROLL_LINE, edit, killed_after
from engine_helpers import ONCE, TARGET, TENFOLD, TENFOLD_TARGET, tenfold_seed
from fake_anthropic import ApiError, FakeAnthropic, Stall, reply, text, tool_use
from test_agent_cli import env, run_avo  # noqa: F401  (env: the settings-file fixture)

from avo_tui.store import Outcome, Session

STALL_S = 600.0  # the turn in flight when the run is killed; stopping the server ends it
IDEA = "UNROLL 2, evaluated before the kill"


def closed_port_url() -> str:
    """The URL of a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def new_session_args(name: str, *extra: str, target: str = TARGET.ref) -> list[str]:
    return ["run", "--session", name, "--target", target, "--operator", "agent",
            "--headless", "--max-steps", "1", "--quick", *extra]


def uncached(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages without their cache breakpoints (where they sit is not the conversation)."""
    plain = copy.deepcopy(messages)
    for message in plain:
        for block in message["content"]:
            block.pop("cache_control", None)
    return plain


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit status 1 and said why in one `avo: error:` line."""
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("avo: error: "), done.stderr
    return lines[0]


def session_record(directory: Path) -> tuple[dict[str, Any], list[tuple[int, str, Any]]]:
    with Session.open(directory, writable=False) as session:
        return session.state, [(e.seq, e.kind, e.data) for e in session.events()]


def test_a_run_killed_mid_step_resumes_the_step_at_its_last_completed_turn(
    tmp_path: Path, env: dict[str, str]  # noqa: F811
) -> None:
    directory = tmp_path / "resume-1"  # on the target's own seed: the step commits nothing
    with FakeAnthropic() as server:
        env |= {"ANTHROPIC_API_KEY": server.api_key, "ANTHROPIC_BASE_URL": server.url}
        server.script(
            reply(tool_use("list_versions", {})),
            reply(tool_use(EDITOR, {"command": "view", "path": KERNEL})),
            reply(tool_use(*edit(UNROLL_LINE, UNROLL_2)),
                  tool_use("evaluate", {"idea": IDEA, "quick": True})),
            Stall(STALL_S),  # turn 4: in flight when the run is killed
        )
        killed_after(["--sessions-dir", str(tmp_path), *new_session_args("resume-1")], env,
                     server, 4, tmp_path / "first.log")
        in_flight = server.requests[3]
        assert server.remaining == 0
        edited = in_flight.tool_results()
        assert len(edited) == 2 and not any(r.get("is_error") for r in edited), edited
        assert (directory / "drafts" / "conversation.json").exists()
        # Whatever the kill left in the workspace folder, the step goes on with the files it
        # had after its last completed turn.
        (directory / "workspace" / KERNEL).write_text("// half-written\n")

        server.script(
            reply(tool_use(EDITOR, {"command": "view", "path": KERNEL})),
            reply(text("done")),
        )
        resumed_run = run_avo(tmp_path, env, "run", "--session", "resume-1", "--headless",
                              "--max-steps", "1")
        assert resumed_run.returncode == 0, resumed_run.stdout + resumed_run.stderr
        assert len(server.requests) == 6 and server.remaining == 0

    resumed = server.requests[4]
    messages = uncached(resumed.body["messages"])
    assert len(messages) > 1  # not the step's opening brief alone
    assert messages == uncached(in_flight.body["messages"])
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3 + ["user"]
    view = str(server.requests[5].tool_results())
    assert UNROLL_2 in view and UNROLL_LINE not in view and "half-written" not in view
    assert UNROLL_2 in (directory / "workspace" / KERNEL).read_text()

    state, events = session_record(directory)
    kinds = [kind for _, kind, _ in events]
    resumed_events = [data for _, kind, data in events if kind == "step_resumed"]
    assert len(resumed_events) == 1 and resumed_events[0]["turn"] == 3, resumed_events
    steps = [data for _, kind, data in events if kind == "step"]
    # Where the reading came out promising (noise), the step leaves it to the next one.
    assert len(steps) == 1 and steps[0]["summary"].split("; ")[0] == "done", steps
    assert not steps[0]["failed"]
    assert kinds.index("step_resumed") < kinds.index("step")
    # What the step tried before the kill is in its research record.
    [record] = [data for _, kind, data in events if kind == "research"]
    assert any(IDEA in idea for idea in record["ideas"]), record
    assert state["status"] != "crashed", state
    assert not (directory / "drafts" / "conversation.json").exists()  # dropped with the step
    assert "run ended: limit reached: 1 of 1 steps this run (--max-steps)" in resumed_run.stdout


def test_an_api_that_does_not_answer_stops_a_new_run_before_anything_is_created(
    tmp_path: Path, env: dict[str, str]  # noqa: F811
) -> None:
    url = closed_port_url()
    env |= {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": url}
    done = run_avo(tmp_path, env, *new_session_args("unreachable"))
    line = one_error_line(done)
    assert "did not answer" in line and url in line, line
    assert "scoring the seed" not in done.stdout
    assert not (tmp_path / "unreachable").exists()


def test_a_refused_key_stops_a_new_run_before_anything_is_created(
    tmp_path: Path, env: dict[str, str]  # noqa: F811
) -> None:
    with FakeAnthropic(api_key="the-right-key") as server:
        env |= {"ANTHROPIC_API_KEY": "a-wrong-key", "ANTHROPIC_BASE_URL": server.url}
        done = run_avo(tmp_path, env, *new_session_args("refused"))
    line = one_error_line(done)
    assert "ANTHROPIC_API_KEY" in line, line
    assert "a-wrong-key" not in line  # the key itself is never printed
    assert server.count_requests and not server.requests
    assert "scoring the seed" not in done.stdout
    assert not (tmp_path / "refused").exists()


def test_settings_the_api_refuses_stop_a_new_run_with_the_apis_message(
    tmp_path: Path, env: dict[str, str]  # noqa: F811
) -> None:
    refusal = "thinking.budget_tokens: not supported by this model"
    with FakeAnthropic() as server:
        server.count_tokens = ApiError(400, message=refusal)
        env |= {"ANTHROPIC_API_KEY": server.api_key, "ANTHROPIC_BASE_URL": server.url}
        done = run_avo(tmp_path, env, *new_session_args("refused-settings", "--thinking",
                                                        "2048"))
    line = one_error_line(done)
    assert refusal in line, line
    checked = server.count_requests
    assert len(checked) == 1, checked  # a refusal is not asked again
    assert checked[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert server.requests == []  # no conversation was started
    assert not (tmp_path / "refused-settings").exists()


def test_an_api_that_does_not_answer_stops_a_resume_and_leaves_the_session_as_it_was(
    tmp_path: Path, env: dict[str, str]  # noqa: F811
) -> None:
    directory = tmp_path / "kept"
    with FakeAnthropic() as server:
        server.script(reply(text("Nothing worth changing yet.")))
        first = run_avo(tmp_path, env | {"ANTHROPIC_API_KEY": server.api_key,
                                         "ANTHROPIC_BASE_URL": server.url},
                        *new_session_args("kept"))
        assert first.returncode == 0, first.stdout + first.stderr
    before = session_record(directory)
    assert [data["summary"] for _, kind, data in before[1] if kind == "step"] == [
        "Nothing worth changing yet."]

    url = closed_port_url()
    done = run_avo(tmp_path, env | {"ANTHROPIC_API_KEY": server.api_key,
                                    "ANTHROPIC_BASE_URL": url},
                   "run", "--session", "kept", "--headless", "--max-steps", "2")
    line = one_error_line(done)
    assert "did not answer" in line and url in line, line
    assert "resuming" not in done.stdout
    assert session_record(directory) == before  # no new step, event or state


def test_a_resumed_step_still_takes_its_promising_candidate_to_the_gate(
    tmp_path: Path, env: dict[str, str]  # noqa: F811
) -> None:
    """The candidates waiting for the gate are rebuilt from the stored attempts when a step
    resumes after a kill: the turns bound ends the resumed step, and the promising candidate
    evaluated before the kill goes to the gate."""
    directory = tmp_path / "resume-gate"
    settings = Path(env["AVO_SETTINGS"])
    settings.write_text(settings.read_text() + "max_turns = 3\n")
    seed = tmp_path / "seed" / KERNEL
    seed.parent.mkdir()
    seed.write_text(tenfold_seed()[KERNEL])
    idea = "REPEAT 1, evaluated before the kill"
    with FakeAnthropic() as server:
        env |= {"ANTHROPIC_API_KEY": server.api_key, "ANTHROPIC_BASE_URL": server.url}
        server.script(
            reply(tool_use(*edit(TENFOLD, ONCE)), tool_use("evaluate", {"idea": idea})),
            Stall(STALL_S),  # turn 2: in flight when the run is killed
        )
        args = new_session_args("resume-gate", "--seed", str(seed), target=str(TENFOLD_TARGET))
        killed_after(["--sessions-dir", str(tmp_path), *args], env, server, 2,
                     tmp_path / "first.log")
        with Session.open(directory, writable=False) as session:
            [evaluated] = [a for a in session.recent_attempts(5) if a.idea == idea]
            assert evaluated.outcome == Outcome.PROMISING, evaluated
            assert len(session.lineage) == 1

        server.script(reply(tool_use("list_versions", {})), reply(tool_use("list_versions", {})))
        resumed_run = run_avo(tmp_path, env, "run", "--session", "resume-gate", "--headless",
                              "--max-steps", "1")
        assert resumed_run.returncode == 0, resumed_run.stdout + resumed_run.stderr
        assert server.remaining == 0

    _, events = session_record(directory)
    assert [data["turn"] for _, kind, data in events if kind == "step_resumed"] == [1]
    [step] = [data for _, kind, data in events if kind == "step"]
    assert step["summary"].startswith("step ended: 3 turns without a commit"), step
    assert f"at the step's end the gate committed v1 from {evaluated.id} promising" in \
        step["summary"], step
    with Session.open(directory, writable=False) as session:
        assert ONCE in session.read_files("v1")[KERNEL]
