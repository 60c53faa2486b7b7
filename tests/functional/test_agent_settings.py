"""The agent's settings as the API meets them: the effort reaches every kind of request (a
streamed turn, a one-shot question, the check before a run), the settings are checked against
what the model accepts, and ``ask`` can think. The real SDK speaks HTTP to the loopback fake of
the Messages API, which records every request body."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import ApiError, FakeAnthropic, reply, text, thinking

from avo_tui.cli import main
from avo_tui.commands.prepare import _agent_settings
from avo_tui.operators.agent import AgentSettings, SettingsError, load_settings
from avo_tui.operators.agent.api import MessagesApi
from avo_tui.operators.agent.models import model_limits
from avo_tui.operators.agent.preflight import check_api

SYSTEM = [{"type": "text", "text": "You tune kernels."}]
HELLO = [{"role": "user", "content": "hello"}]


def settings(**values: Any) -> AgentSettings:
    return AgentSettings(**{"request_timeout_s": 10.0, "sdk_retries": 0, **values})


def streamed_turn(fake: FakeAnthropic, agent: AgentSettings) -> dict[str, Any]:
    fake.script(reply(text("ok")))
    MessagesApi(agent).stream(system=SYSTEM, tools=[], messages=HELLO)
    return fake.requests[-1].body


def asked(fake: FakeAnthropic, agent: AgentSettings) -> dict[str, Any]:
    fake.script(reply(text("ok")))
    MessagesApi(agent).ask(system="You review.", prompt="How is it going?")
    return fake.requests[-1].body


def preflight(fake: FakeAnthropic, agent: AgentSettings) -> dict[str, Any]:
    check_api(agent)
    return fake.count_requests[-1].body


REQUESTS = {"a streamed turn": streamed_turn, "ask": asked, "the preflight": preflight}


# --- effort -------------------------------------------------------------------------------------

@pytest.mark.parametrize("request_kind", REQUESTS)
def test_the_effort_reaches_every_request(fake: FakeAnthropic, request_kind: str) -> None:
    body = REQUESTS[request_kind](fake, settings(effort="medium"))
    assert body["output_config"] == {"effort": "medium"}


@pytest.mark.parametrize("request_kind", REQUESTS)
def test_an_empty_effort_sends_no_output_config(fake: FakeAnthropic, request_kind: str) -> None:
    body = REQUESTS[request_kind](fake, settings(effort=""))
    assert "output_config" not in body
    assert body["model"] == "claude-opus-4-7"  # the request was made, only without effort


def test_the_default_effort_is_high_and_is_sent(fake: FakeAnthropic) -> None:
    assert AgentSettings().effort == "high"
    assert streamed_turn(fake, settings())["output_config"] == {"effort": "high"}


def test_the_effort_is_read_from_the_settings_file_and_kept_with_the_session(
    tmp_path: Path,
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[agent]\neffort = "xhigh"\n')
    loaded = load_settings(path)
    assert loaded.effort == "xhigh"
    assert AgentSettings.from_doc(loaded.to_doc()) == loaded
    path.write_text('[agent]\neffort = "lots"\n')
    with pytest.raises(SettingsError, match=r"effort must be one of low, medium, high, xhigh, "
                       r"max, or '' to send none; got 'lots'"):
        load_settings(path)


def test_the_effort_flag_reaches_the_check_before_a_run(
    tmp_path: Path, fake: FakeAnthropic, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVO_SETTINGS", str(tmp_path / "none.toml"))
    fake.count_tokens = ApiError(400, message="stop here")  # the run ends before the seed
    run = ["--sessions-dir", str(tmp_path), "run", "--session", "s", "--target",
           "cpu-attention", "--operator", "agent", "--headless"]
    assert main([*run, "--effort", "low"]) != 0
    assert fake.count_requests[-1].body["output_config"] == {"effort": "low"}
    assert "effort low" in capsys.readouterr().err  # the refusal names the run's settings
    assert main([*run, "--effort", "none"]) != 0
    assert "output_config" not in fake.count_requests[-1].body
    assert "effort not sent" in capsys.readouterr().err
    sent = len(fake.count_requests)
    assert main([*run, "--model", "claude-haiku-4-5", "--thinking", "off",
                 "--effort", "max"]) != 0
    err = capsys.readouterr().err
    assert "claude-haiku-4-5 takes no effort" in err and len(err.strip().splitlines()) == 1
    assert len(fake.count_requests) == sent  # refused before any request
    assert not (tmp_path / "s").exists()


def test_a_flag_mends_a_stored_session_the_model_table_refuses(fake: FakeAnthropic) -> None:
    # A session stored before effort existed, on a model that takes none.
    stored = {"model": "claude-opus-4-1", "thinking": "off", "request_timeout_s": 10.0,
              "sdk_retries": 0}
    flags: dict[str, Any] = dict(model=None, max_tokens=None, thinking=None, effort=None)
    with pytest.raises(SettingsError, match="claude-opus-4-1 takes no effort"):
        _agent_settings("agent", stored, flags)
    mended = _agent_settings("agent", stored, flags | {"effort": ""})
    assert mended is not None and mended.effort == ""
    assert "output_config" not in fake.count_requests[-1].body


# --- checked against the model ------------------------------------------------------------------

REFUSED = {
    "max_tokens above the output limit": (
        dict(model="claude-opus-4-1", max_tokens=32_001, thinking="off", effort=""),
        "max_tokens 32001 is above claude-opus-4-1's output limit (32000)"),
    "max_tokens above the output limit, dated ID": (
        dict(model="claude-haiku-4-5-20251001", max_tokens=64_001, thinking="off", effort=""),
        "max_tokens 64001 is above claude-haiku-4-5's output limit (64000)"),
    "max_tokens above the output limit, 4.0's dated ID": (
        dict(model="claude-opus-4-20250514", max_tokens=64_000, thinking="off", effort=""),
        "above claude-opus-4-0's output limit (32000)"),
    "context_window above the window": (
        dict(model="claude-sonnet-4-5", context_window=1_000_000, thinking="off", effort=""),
        "context_window 1000000 is above claude-sonnet-4-5's context window (200000)"),
    "context_window above a 1M window": (
        dict(model="claude-opus-4-7", context_window=2_000_000),
        "above claude-opus-4-7's context window (1000000)"),
    "adaptive thinking where there is none": (
        dict(model="claude-opus-4-5"), "claude-opus-4-5 has no adaptive thinking"),
    "a thinking budget where only adaptive is taken": (
        dict(model="claude-opus-4-7", thinking="16000"),
        "claude-opus-4-7 takes no thinking budget (thinking 16000)"),
    "effort where there is none": (
        dict(model="claude-sonnet-4-5", thinking="8000"),
        "claude-sonnet-4-5 takes no effort (effort 'high')"),
    "max effort below the 4.6 models": (
        dict(model="claude-opus-4-5", thinking="8000", effort="max"),
        "claude-opus-4-5 has no effort 'max' (it takes low, medium, high)"),
    "xhigh effort before Opus 4.7": (
        dict(model="claude-sonnet-4-6", effort="xhigh"),
        "claude-sonnet-4-6 has no effort 'xhigh'"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_settings_a_known_model_cannot_serve_are_refused_naming_it(case: str) -> None:
    values, message = REFUSED[case]
    with pytest.raises(SettingsError, match="^agent settings: .*" + re.escape(message)):
        AgentSettings(**values)  # type: ignore[arg-type]


def test_an_unknown_effort_level_is_refused_on_any_model() -> None:
    for model in ("claude-opus-4-7", "claude-next-1"):
        with pytest.raises(SettingsError, match=r"effort must be one of .*got 'ultra'"):
            AgentSettings(model=model, effort="ultra")


def test_what_a_model_accepts_is_accepted_up_to_its_limits() -> None:
    AgentSettings(model="claude-opus-4-7", max_tokens=128_000, context_window=1_000_000,
                  effort="max")
    AgentSettings(model="claude-opus-4-6", thinking="16000", effort="max")
    AgentSettings(model="claude-opus-4-5", thinking="16000", max_tokens=64_000, effort="low")
    AgentSettings(model="claude-haiku-4-5", thinking="off", effort="")
    AgentSettings(model="claude-opus-4-1", thinking="16000", effort="")


def test_a_model_the_table_does_not_know_gets_only_the_generic_checks() -> None:
    assert model_limits("claude-opus-4-9") is None  # not read as claude-opus-4 (4.0)
    future = AgentSettings(model="claude-opus-4-9", max_tokens=500_000,
                           context_window=5_000_000, thinking="16000", effort="max")
    assert future.output_config() == {"effort": "max"}
    with pytest.raises(SettingsError, match="thinking must be"):
        AgentSettings(model="claude-opus-4-9", thinking="100")


# --- ask with thinking --------------------------------------------------------------------------

def test_ask_with_thinking_sends_the_sessions_thinking_and_returns_only_the_answer(
    fake: FakeAnthropic,
) -> None:
    api = MessagesApi(settings(effort="medium"))
    fake.script(reply(thinking("the plan, privately"), text("Tile by 128."),
                      text("Then pipeline.")))
    turn = api.ask(system="You review.", prompt="Review the lineage.", max_tokens=4000,
                   thinking=True)
    body = fake.requests[-1].body
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "medium"}
    assert body["max_tokens"] == 32_000  # the thinking shares the limit: the session's
    assert turn.text == "Tile by 128.\nThen pipeline."
    assert [b["type"] for b in turn.content] == ["thinking", "text", "text"]


def test_ask_with_a_thinking_budget_leaves_room_for_the_answer(fake: FakeAnthropic) -> None:
    api = MessagesApi(settings(model="claude-sonnet-4-6", thinking="16000", max_tokens=20_000))
    fake.script(reply(text("fine")))
    api.ask(system="s", prompt="p", max_tokens=4000, thinking=True)
    body = fake.requests[-1].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16_000}
    assert body["max_tokens"] > 16_000


def test_ask_without_thinking_sends_none_and_keeps_its_limit(fake: FakeAnthropic) -> None:
    api = MessagesApi(settings())
    fake.script(reply(text("fine")))
    api.ask(system="s", prompt="p", max_tokens=4000)
    body = fake.requests[-1].body
    assert "thinking" not in body and body["max_tokens"] == 4000
