"""``avo run --operator agent`` as a user runs it: a real process, the real SDK speaking HTTP
to a local Messages API (ANTHROPIC_BASE_URL), settings from a file, a session on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from agent_helpers import COMMIT_RETRIES, commit_again_if_refused, commit_calls, edit
from engine_helpers import (
    ONCE,
    SHORT_GATE_CAP_S,
    TARGET,
    TENFOLD,
    TENFOLD_CPU_ATTENTION,
    tenfold_seed,
)
from fake_anthropic import FakeAnthropic, reply, text, tool_use

from avo_tui.cli import main
from avo_tui.store import Session

AVO = [sys.executable, "-m", "avo_tui.cli"]


def run_avo(sessions: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AVO, "--sessions-dir", str(sessions), *args], env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    settings = tmp_path / "settings.toml"
    settings.write_text('[agent]\nmodel = "claude-sonnet-4-6"\nthinking = "off"\n'
                        "outage_wait_s = 0.05\ndebrief = false\n")
    return {**os.environ, "AVO_SETTINGS": str(settings)}


def test_a_headless_agent_run_commits_a_version(tmp_path: Path, env: dict[str, str]) -> None:
    with FakeAnthropic() as server:
        message = "once, not twelve times"  # a gain no load hides (engine_helpers.TENFOLD)
        server.script(
            reply(tool_use(*edit(TENFOLD, ONCE)), tool_use("evaluate", {"idea": "REPEAT 1"})),
            reply(*commit_calls(message)),
            *[commit_again_if_refused(message, reply(text("Nothing else worth trying now.")))
              ] * COMMIT_RETRIES,
        )
        env |= {"ANTHROPIC_API_KEY": server.api_key, "ANTHROPIC_BASE_URL": server.url}
        seed = tmp_path / "seed" / "attention.c"
        seed.parent.mkdir()
        seed.write_text(tenfold_seed()["attention.c"])
        done = run_avo(tmp_path, env, "run", "--session", "agent-1", "--target",
                       TENFOLD_CPU_ATTENTION.ref, "--seed", str(seed), "--operator", "agent",
                       "--headless", "--max-steps", "2", "--quick", "--max-output-tokens", "8000")
        assert done.returncode == 0, done.stdout + done.stderr
        assert server.requests[0].body["model"] == "claude-sonnet-4-6"  # the settings file
        assert server.requests[0].body["max_tokens"] == 8000  # the flag
        assert "thinking" not in server.requests[0].body
    out = done.stdout
    assert "commit   v1 from v0 by agent" in out
    assert "step 2 done" in out
    assert "run ended: limit reached: 2 of 2 steps this run (--max-steps)" in out
    with Session.open(tmp_path / "agent-1", writable=False) as session:
        assert session.version("head").author == "agent"
        stored = session.meta["settings"]["agent"]
        assert stored["model"] == "claude-sonnet-4-6"
        assert server.api_key not in (tmp_path / "agent-1" / "session.json").read_text()


def test_the_agent_without_a_key_is_a_clear_error_and_creates_nothing(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("AVO_SETTINGS", env["AVO_SETTINGS"])
    code = main(["--sessions-dir", str(tmp_path), "run", "--session", "nokey", "--target",
                 "cpu-attention", "--operator", "agent", "--headless"])
    assert code != 0
    assert "needs an API key in ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "nokey").exists()


def test_bad_settings_are_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "bad.toml"
    settings.write_text('[agent]\nthinking = "lots"\nmodle = "x"\n')
    monkeypatch.setenv("AVO_SETTINGS", str(settings))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    code = main(["--sessions-dir", str(tmp_path), "run", "--session", "s", "--target",
                 "cpu-attention", "--operator", "agent", "--headless"])
    err = capsys.readouterr().err
    assert code != 0 and "unknown agent setting(s): modle" in err and str(settings) in err
    settings.write_text('[agent]\nthinking = "lots"\n')
    main(["--sessions-dir", str(tmp_path), "run", "--session", "s", "--target",
          "cpu-attention", "--operator", "agent", "--headless"])
    assert "thinking must be 'adaptive', 'off' or a token budget" in capsys.readouterr().err
    settings.write_text("[agent\n")
    main(["--sessions-dir", str(tmp_path), "run", "--session", "s", "--target",
          "cpu-attention", "--operator", "agent", "--headless"])
    assert "cannot read the settings file" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_from_seeds_a_new_session_with_another_sessions_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    sessions = ["--sessions-dir", str(tmp_path)]
    capped = ["--gate-cap", str(SHORT_GATE_CAP_S)]  # what the gate decides matters not here
    assert main([*sessions, "run", "--session", "mha", "--target", TARGET.ref, "--quick",
                 "--headless", "--max-steps", "1", "--rng-seed", "3", *capped]) == 0
    with Session.open(tmp_path / "mha", writable=False) as source:
        best = source.best()
        assert best is not None
        files = source.read_files(best)
    assert main([*sessions, "run", "--session", "gqa", "--target", TARGET.ref,
                 "--from", "mha", "--quick", "--headless", "--max-steps", "1", *capped]) == 0
    out = capsys.readouterr().out
    assert f"seeding from mha:{best.id}" in out
    assert "operator: tuner (no ANTHROPIC_API_KEY" in out
    with Session.open(tmp_path / "gqa", writable=False) as moved:
        assert moved.read_files("v0") == files
        assert moved.meta["settings"]["origin"] == f"mha:{best.id}"
    assert main([*sessions, "run", "--session", "x", "--target", "cpu-attention",
                 "--from", "mha:v99", "--headless"]) != 0
    assert "v99" in capsys.readouterr().err


def test_the_agent_consults_knowledge_from_the_project_the_settings_and_the_flags(
    tmp_path: Path, env: dict[str, str]
) -> None:
    team, mine = tmp_path / "team", tmp_path / "mine"
    team.mkdir()
    mine.mkdir()
    (team / "regs.md").write_text("# Team registers\n## setmaxnreg split\nProducers 24, "
                                  "consumers 240.\n")
    (mine / "notes.md").write_text("# My notes\n## Ping-pong trick\nAlternate the two "
                                   "consumer warpgroups.\n")
    settings = Path(env["AVO_SETTINGS"])
    settings.write_text(settings.read_text() + '[knowledge]\nfolders = ["team"]\n')
    with FakeAnthropic() as server:
        server.script(
            reply(tool_use("search_knowledge", {"query": "ping-pong consumer warpgroups"})),
            reply(tool_use("read_knowledge", {"ref": "team/regs.md#setmaxnreg split"})),
            reply(text("Nothing worth changing yet.")),
            reply(text("Still nothing.")),
        )
        env |= {"ANTHROPIC_API_KEY": server.api_key, "ANTHROPIC_BASE_URL": server.url}
        first = run_avo(tmp_path, env, "run", "--session", "kb-1", "--target", TARGET.ref,
                        "--operator", "agent", "--headless", "--max-steps", "1", "--quick",
                        "--knowledge", str(mine))
        assert first.returncode == 0, first.stdout + first.stderr
        system = str(server.requests[0].body["system"])
        for listed in ("kernel-contract.md: The kernel contract", "team/regs.md: Team registers",
                       "mine/notes.md: My notes"):
            assert listed in system
        assert "mine/notes.md#Ping-pong trick" in str(server.requests[1].tool_results())
        assert "Producers 24, consumers 240." in str(server.requests[2].tool_results())

        resumed = run_avo(tmp_path, env, "run", "--session", "kb-1", "--headless",
                          "--max-steps", "1")  # one more step
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "mine/notes.md: My notes" in str(server.requests[3].body["system"])
