"""The agent on real parts: a real session and CPU worker, the real anthropic SDK, and a local
fake of the Messages API that plays a scripted conversation."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import FakeAnthropic, Recorded, Step, reply, tool_use

from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators.agent import AgentSettings
from avo_tui.operators.agent.agent import Agent
from avo_tui.operators.agent.preflight import MAX_LINE_CHARS

EDITOR = "str_replace_based_edit_tool"
KERNEL = "attention.c"
THREADS_LINE = "#define THREADS 1       // avo:knob 0 1 2 4 8"
# A line of the target's own seed that an edit may change where a test needs a new kernel
# evaluated but no gain (the seeded session copied for each test: no seed scored again).
UNROLL_LINE = "#define UNROLL 4        // avo:knob 1 2 4 8"
UNROLL_2 = UNROLL_LINE.replace("UNROLL 4", "UNROLL 2")
BROKEN = "static int broken = ;"
# How often a scripted agent asks again for a commit refused at its first reading. The agent
# tests' seed and edit are engine_helpers.slow_seed and SLOW -> FAST, 1.75x by construction.
# A first reading compared with the seed's score stored earlier also carries whatever the load
# did meanwhile (evaluations of one kernel seconds apart read up to 1.7x apart there), and
# commit_again_if_refused covers that. The jump rule (3x on two cores, 1.5x the number of cores)
# judges the gain beside the seed, which the load does not move.
COMMIT_RETRIES = 4


def commit_again_if_refused(message: str, then: Step) -> Step:
    """A scripted turn that does what an agent would when its commit was refused before the
    gate (its first reading came out slower than the best's stored score, or within the noise,
    as on a machine whose load changed since the best was scored): evaluate again, and ask
    again. The gain is structural, but a first reading is compared with a score measured at
    another moment; only the gate times the best beside the candidate. Any other turn goes on
    with ``then``."""

    def turn(request: Recorded) -> Step:
        results = request.tool_results()
        last = str(results[-1]["content"]) if results else ""
        if last.startswith("not committed: "):
            return reply(tool_use("evaluate", {"idea": "the same, measured again"}),
                         *commit_calls(message))
        if last.startswith(CHECKLIST):
            return reply(tool_use("commit", {"message": message}))
        return then

    return turn


CHECKLIST = "Nothing was submitted yet."  # how the commit tool's checklist opens


def commit_calls(message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an agent sends to commit: the first call returns the checklist, the second
    submits the kernel to the gate."""
    return tool_use("commit", {"message": message}), tool_use("commit", {"message": message})


def edit(old: str, new: str) -> tuple[str, dict[str, object]]:
    return EDITOR, {"command": "str_replace", "path": KERNEL, "old_str": old, "new_str": new}


def settings_file(tmp_path: Path, **values: object) -> Path:
    """An [agent] settings file for a fast run on the fake, with ``values`` added."""
    path = tmp_path / "settings.toml"
    lines = ['model = "claude-sonnet-4-6"', 'thinking = "off"', "outage_wait_s = 0.05",
             "debrief = false", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    path.write_text("[agent]\n" + "\n".join(lines) + "\n")
    return path


def one_line(error: BaseException) -> str:
    """The error's message, checked to be one short line without a traceback."""
    line = str(error)
    assert "\n" not in line and "Traceback" not in line and len(line) <= MAX_LINE_CHARS, line
    return line


def use_fake(monkeypatch: pytest.MonkeyPatch, server: FakeAnthropic) -> None:
    """Point the SDK at the fake, as a user would with a real key and the real URL."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)


def make_agent(knowledge: Path, **settings: object) -> Agent:
    # No debrief unless a test asks for one: it is one more request at every step's end,
    # which a script would have to answer (tests/functional/test_agent_research.py covers it).
    values: dict[str, object] = dict(
        outage_wait_s=0.05, outage_wait_max_s=0.2, request_timeout_s=10.0, sdk_retries=2,
        debrief=False,
    )
    values.update(settings)
    return Agent(AgentSettings(**values), knowledge=KnowledgeBase([knowledge]))  # type: ignore[arg-type]


KILL_WAIT_S = 240.0  # an upper bound on waiting for the run's requests (a busy machine)


def killed_after(args: list[str], env: dict[str, str], server: FakeAnthropic, requests: int,
                 log: Path) -> str:
    """``avo ARGS`` run in a process of its own (output to ``log``) until the fake API has
    received ``requests`` requests, then killed with -9, as a crash or a reboot ends a run;
    its output, once it is checked to have died of the kill."""
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "avo_tui.cli", *args], env=env,
                               text=True, stdout=out, stderr=subprocess.STDOUT)
        try:
            server.wait_for_requests(requests, timeout=KILL_WAIT_S)
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=60)
    output = log.read_text()
    assert run.returncode == -signal.SIGKILL, output
    return output
