"""A run can start without a seed (issue 56): on the docs' example target with its seed left
out (docs/targets.md), the agent's first step writes v0 from the skeleton it is given, through
the real SDK against the loopback fake API, a real session and the real C compiler and
worker; the next step is judged against v0. The tuner is refused in one line before anything
is written, and a session left with no version shows, lists and resumes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from agent_helpers import EDITOR, commit_calls, killed_after, settings_file, use_fake
from engine_helpers import (
    SHORT_GATE_CAP_S,
    TARGET,
    judged_against,
    slow_seed,
    start,
    submitting,
)
from fake_anthropic import FakeAnthropic, Recorded, Stall, Step, reply, text, tool_use
from target_example import example, write_example

from avo_tui.cli import main
from avo_tui.engine import OperatorEdit, Pause, Stop
from avo_tui.evaluation import Worker
from avo_tui.store import Session

pytestmark = pytest.mark.usefixtures("c_compiler")

KERNEL = "scaled_residual.c"  # v0's file: the target's name in C
SIGNATURE = ("void avo_scaled_residual(const float *x, const float *r, float *out, int rows, "
             "int cols, float alpha) {")
UNROLL_4 = "#define UNROLL 4  // avo:knob 1 2 4 8"
NO_VERSION = "no version yet: the agent writes v0"
STALL_S = 600.0  # the turn in flight when the first run is killed; stopping the server ends it


@pytest.fixture
def seedless(tmp_path: Path) -> Path:
    """The docs' example target file with its seed= line removed."""
    return write_example(tmp_path / "target", [('    seed="scaled_residual.c",\n', "")]).resolve()


def avo_run(sessions: Path, *args: str) -> int:
    return main(["--sessions-dir", str(sessions), "run", "--headless", "--quick",
                 "--gate-cap", str(SHORT_GATE_CAP_S), *args])


def write_v0(message: str) -> list[Step]:
    """The scripted turns of a step that writes v0: view the skeleton and write the docs'
    seed (a correct kernel) over it, evaluate it, then commit (checklist, then the gate)."""
    kernel = example()[1]
    return [reply(tool_use(EDITOR, {"command": "view", "path": KERNEL}),
                  tool_use(EDITOR, {"command": "create", "path": KERNEL, "file_text": kernel})),
            reply(tool_use("evaluate", {"idea": message})),
            reply(*commit_calls(message))]


def brief(request: Recorded) -> str:
    return request.texts()[0]


@pytest.mark.parametrize("operator", [["--operator", "tuner"], []], ids=["asked", "default"])
def test_the_tuner_is_refused_in_one_line_before_anything_is_written(
    seedless: Path, tmp_path: Path, operator: list[str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asked for, or the default where no API key is set."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("AVO_SETTINGS", str(tmp_path / "no-settings.toml"))
    assert avo_run(tmp_path / "sessions", "--target", str(seedless), "--session", "t",
                   *operator) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "avo: error: target scaled-residual has no seed, and the tuner varies the knobs of a "
        "version: write a seed kernel (the target file's seed=) or run the agent (--operator "
        "agent)"), lines[0]
    assert lines[0].endswith("default where no API key is set)") == (not operator)
    assert not (tmp_path / "sessions" / "t").exists()


def test_the_agent_writes_v0_at_its_first_step_and_the_next_is_judged_against_it(
    seedless: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeAnthropic() as server:
        server.script(
            *write_v0("version 0: one pass over the elements"),
            reply(tool_use(EDITOR, {"command": "str_replace", "path": KERNEL,
                                    "old_str": UNROLL_4,
                                    "new_str": UNROLL_4.replace("UNROLL 4", "UNROLL 8")}),
                  tool_use("evaluate", {"idea": "UNROLL 8"})),
            reply(text("Nothing more worth trying in this step.")),
        )
        use_fake(monkeypatch, server)
        monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path)))
        assert avo_run(tmp_path, "--target", str(seedless), "--session", "first",
                       "--operator", "agent", "--max-steps", "2") == 0
        requests = [r for r in server.requests if r.body.get("messages")]
    out = capsys.readouterr().out
    first, second_brief = [brief(r) for r in requests if len(r.body["messages"]) == 1]
    assert "There is no kernel yet: scaled-residual has no seed, so this step writes version 0" \
        in first
    assert "## The target file, my_target.py (the reference)" in first
    assert "def scaled_add(x, r, alpha, **_):" in first  # the reference, whole
    assert "any correct kernel is committed" in first.lower()
    skeleton = str(requests[1].tool_results()[0]["content"])
    assert SIGNATURE in skeleton, skeleton
    assert "commit   v0 from - by agent" in out, out
    with Session.open(tmp_path / "first", writable=False) as session:
        v0 = session.version("v0")
        assert (v0.author, v0.parent, list(v0.files)) == ("agent", None, [KERNEL])
        assert v0.score is not None and v0.score.gmean > 0
        assert session.read_files(v0)[KERNEL] == example()[1]
        tried = [session.attempt(f"a{n}") for n in range(1, session.attempt_count + 1)]
    assert tried[0].base is None and "nothing to compare it with" in tried[0].detail
    assert main(["--sessions-dir", str(tmp_path), "sessions", "attempts", "first", "a1"]) == 0
    assert "diff against -" in capsys.readouterr().out
    assert "# Step brief (step 2)\nThe workspace holds v0 (the head)" in second_brief
    second = next(a for a in tried if a.idea == "UNROLL 8")
    assert second.base == "v0"
    assert judged_against(second.detail), second.detail


def test_a_run_killed_before_v0_shows_lists_and_resumes_with_the_agent(
    seedless: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run killed (-9) before v0 exists leaves a session with no version: every view reads
    it and says so, the tuner is still refused, and the next run of the agent resumes the
    step from its last completed turn and writes v0."""
    message = "version 0, written before the kill"
    with FakeAnthropic() as server:
        turns = write_v0(message)
        server.script(turns[0], Stall(STALL_S))  # the kernel written, evaluate is in flight
        settings = settings_file(tmp_path)
        env = {**os.environ, "AVO_SETTINGS": str(settings), "ANTHROPIC_API_KEY": server.api_key,
               "ANTHROPIC_BASE_URL": server.url}
        killed_after(["--sessions-dir", str(tmp_path), "run", "--headless", "--quick",
                      "--target", str(seedless), "--session", "later", "--operator", "agent",
                      "--max-steps", "1"], env, server, 2, tmp_path / "first.log")

        sessions = ["--sessions-dir", str(tmp_path), "sessions"]
        assert main([*sessions, "show", "later"]) == 0
        shown = capsys.readouterr().out
        assert "head -" in shown and "0 versions" in shown and NO_VERSION in shown, shown
        assert main([*sessions, "show", "later", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["state"]["head"] is None
        assert main([*sessions, "list", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [(s["name"], s["versions"], s["error"]) for s in listed] == [("later", 0, None)]

        assert avo_run(tmp_path, "--session", "later", "--operator", "tuner") == 1
        assert "has no seed, and the tuner" in capsys.readouterr().err

        use_fake(monkeypatch, server)
        monkeypatch.setenv("AVO_SETTINGS", str(settings))
        server.script(*turns[1:])
        assert avo_run(tmp_path, "--session", "later", "--max-steps", "1") == 0
        resumed = server.requests[-1]
    out = capsys.readouterr().out
    assert f"resuming 'later' with {NO_VERSION} with the agent" in out
    assert "resumed the interrupted step at turn 2" in out, out
    assert resumed.body["messages"][0]["content"][0]["text"].startswith("# Step brief (step 1)")
    assert len(resumed.body["messages"]) == 5  # the brief and its first turn, kept
    with Session.open(tmp_path / "later", writable=False) as session:
        head = session.head
        assert head is not None and (head.id, head.author, head.message) == ("v0", "agent",
                                                                           message)


def test_a_correct_hand_edit_becomes_v0_of_a_session_with_no_version(
    tmp_path: Path, worker: Worker,
) -> None:
    """`avo send NAME edit PATH` before the agent has written v0: the operator's kernel, once
    it is correct, is v0 (a broken one is refused, as ever), and the head moves to it."""
    seed = slow_seed()
    broken = {name: text.replace("float sum = 0.0f;", "float sum = ;")
              for name, text in seed.items()}
    with Session.create(tmp_path / "by-hand", target=TARGET.ref, operator="agent",
                        seed_files=None) as session:
        live = start(session, worker, max_steps=None, before=submitting(
            Pause(), OperatorEdit(broken, "a typo"), OperatorEdit(seed, "written by hand")))
        live.wait(lambda: len(session.lineage) == 1)
        live.engine.submit(Stop())
        live.finish()
        v0 = session.version("head")
        assert (v0.id, v0.author, v0.parent, v0.message) == ("v0", "operator", None,
                                                             "written by hand")
        assert session.read_files(v0) == seed
        first = session.attempt("a1")
        assert first.base is None and first.outcome == "compile"
