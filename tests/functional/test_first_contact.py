"""The first contact with a misconfigured API says what is wrong (issue 53, item 8), through the
real anthropic SDK speaking HTTP to the loopback fake: a hanging endpoint is one line within the
first contact's short timeout, after a "contacting ..." line; a 404 names the URL tried and the
base_url to try; a login page is named by its content type and status; a URL's credentials are
never stored or shown, and a query string is refused; the SDK's argument names become avo's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_helpers import one_line, settings_file
from fake_anthropic import ApiError, FakeAnthropic, RawBody, Stall, reply, text

from avo_tui.cli import main
from avo_tui.operators.agent import AgentSettings
from avo_tui.operators.agent.api import MessagesApi, NotAnApi
from avo_tui.operators.agent.preflight import ApiCheckFailed, check_api
from avo_tui.operators.agent.providers import ProviderUnavailable
from avo_tui.operators.agent.settings import SettingsError, provider_label, redact_url

LOGIN_PAGE = (b"<!doctype html><html><head><title>Sign in - Corp SSO</title></head>"
              b"<body><form>user, password</form></body></html>")
SECRET = "s3cret-pw"


def avo(tmp_path: Path, *args: str) -> int:
    return main(["--sessions-dir", str(tmp_path / "sessions"), *args])


def avo_run(tmp_path: Path, name: str, *extra: str) -> int:
    return avo(tmp_path, "run", "--session", name, "--target", "cpu-attention", "--headless",
               "--max-steps", "1", "--quick", *extra)


# -- a hanging endpoint ---------------------------------------------------------------------------

def test_a_hanging_endpoint_is_one_line_within_the_first_contacts_timeout(
    fake: FakeAnthropic,
) -> None:
    fake.count_tokens = Stall(60)  # accepts the connection, never answers
    said: list[str] = []
    settings = AgentSettings(first_contact_timeout_s=0.5, request_timeout_s=600.0)
    with pytest.raises(ApiCheckFailed) as failed:  # within 0.5 s, not 3 x 600 s
        check_api(settings, say=said.append)
    assert said and said[0].startswith("contacting Anthropic's API at http://127.0.0.1")
    line = one_line(failed.value)
    assert "no answer within 0.5 s" in line and "base_url" in line, line
    assert "first_contact_timeout_s" in line
    assert len(fake.count_requests) == 1  # a hang is not tried again


def test_avo_run_says_contacting_and_names_a_hanging_endpoint(
    tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.count_tokens = Stall(60)
    monkeypatch.setenv("AVO_SETTINGS",
                       str(settings_file(tmp_path, first_contact_timeout_s=0.5)))
    assert avo_run(tmp_path, "hang-1", "--operator", "agent") != 0
    out, err = capsys.readouterr()
    assert "contacting Anthropic's API at" in out + err, out + err
    assert "no answer within 0.5 s" in out + err and "Traceback" not in err, out + err


def test_a_turn_keeps_the_long_timeout(fake: FakeAnthropic) -> None:
    fake.script(Stall(1.0))  # slower than the first contact's timeout, well within a turn's
    api = MessagesApi(AgentSettings(first_contact_timeout_s=0.2, request_timeout_s=30.0))
    turn = api.stream(system=[{"type": "text", "text": "s"}], tools=[],
                      messages=[{"role": "user", "content": "hi"}])
    assert turn.text == "ok"


# -- a 404 ----------------------------------------------------------------------------------------

def test_a_404_names_the_url_tried_and_the_base_url_to_try(fake: FakeAnthropic) -> None:
    settings = AgentSettings(provider="gateway", base_url=f"{fake.url}/v1")
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(settings)
    line = one_line(failed.value)
    assert f"POST {fake.url}/v1/v1/messages" in line, line
    assert f"did you mean {fake.url}/ without /v1?" in line, line
    assert "refuses this run's settings" not in line  # not blamed on the model


def test_a_404_about_the_model_names_the_model(fake: FakeAnthropic) -> None:
    fake.count_tokens = ApiError(404, message="model: claude-sonnet-4-6")
    fake.script(ApiError(404, message="model: claude-sonnet-4-6"))
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(AgentSettings(model="claude-sonnet-4-6", thinking="off"))
    line = one_line(failed.value)
    assert "does not serve the model claude-sonnet-4-6" in line, line


# -- an answer that is not the API's ---------------------------------------------------------------

def test_a_login_page_is_named_by_its_content_type_and_status(fake: FakeAnthropic) -> None:
    fake.count_tokens = RawBody(LOGIN_PAGE, "text/html; charset=utf-8")
    fake.script(*[RawBody(LOGIN_PAGE, "text/html; charset=utf-8")] * 3)
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(AgentSettings(sdk_retries=2))
    line = one_line(failed.value)
    assert "text/html (HTTP 200)" in line and "truncated" not in line, line
    assert "is not the Messages API" in line and "base_url" in line, line
    assert len(fake.requests) == 1  # a login page does not change on a second try


def test_a_login_page_mid_run_is_a_broken_turn_that_says_what_came(fake: FakeAnthropic) -> None:
    fake.script(RawBody(LOGIN_PAGE, "text/html"))
    with pytest.raises(NotAnApi, match=r"text/html \(HTTP 200\)"):
        MessagesApi(AgentSettings()).stream(system=[{"type": "text", "text": "s"}], tools=[],
                                            messages=[{"role": "user", "content": "hi"}])


def test_an_html_error_page_is_named_by_its_title_not_its_markup(fake: FakeAnthropic) -> None:
    fake.count_tokens = RawBody(LOGIN_PAGE, "text/html", 404)
    fake.script(RawBody(LOGIN_PAGE, "text/html", 404))
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(AgentSettings(provider="gateway", base_url=fake.url))
    line = one_line(failed.value)
    assert f"POST {fake.url}/v1/messages" in line, line
    assert "an answer of text/html, not the API's: 'Sign in - Corp SSO'" in line, line
    assert "<form>" not in line


# -- credentials inside a URL ---------------------------------------------------------------------

def test_a_urls_credentials_are_redacted_wherever_it_is_shown() -> None:
    url = f"https://corp-user:{SECRET}@llm.example.com/anthropic"
    assert redact_url(url) == "https://***@llm.example.com/anthropic"
    assert redact_url("https://h/p?api-key=K#frag") == "https://h/p?***#***"
    assert redact_url("https://llm.example.com/") == "https://llm.example.com/"
    settings = AgentSettings(provider="gateway", base_url=url)
    assert settings.base_url == url  # the request still uses it
    assert SECRET not in json.dumps(settings.to_doc())
    assert provider_label({"settings": {"agent": {"provider": "gateway", "base_url": url}}}) \
        == "gateway https://***@llm.example.com/anthropic"  # an older session's, shown


def test_a_stored_url_gets_its_credentials_back_only_from_where_they_came(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"https://corp-user:{SECRET}@llm.example.com/anthropic"
    stored = AgentSettings(provider="gateway", base_url=url).to_doc()
    monkeypatch.setenv("AVO_SETTINGS", str(tmp_path / "none.toml"))
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(SettingsError) as refused:
        AgentSettings.from_doc(stored)
    line = one_line(refused.value)
    assert "never stored" in line and "ANTHROPIC_BASE_URL" in line and SECRET not in line
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path, base_url=url)))
    assert AgentSettings.from_doc(stored).base_url == url
    monkeypatch.setenv("AVO_SETTINGS", str(tmp_path / "none.toml"))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    assert AgentSettings.from_doc(stored).base_url == url


def test_a_gateway_url_with_a_password_is_stored_and_shown_redacted(
    tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = fake.url.removeprefix("http://")
    url = f"http://corp-user:{SECRET}@{host}"
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(
        tmp_path, base_url=url, gateway_auth="x-api-key")))
    fake.script(reply(text("Nothing to change yet.")))
    assert avo_run(tmp_path, "cred-1", "--provider", "gateway") == 0
    assert avo(tmp_path, "sessions", "show", "cred-1") == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "Traceback" not in err, out + err
    assert f"http://***@{host}" in out, out
    for path in (tmp_path / "sessions" / "cred-1").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_base_url_with_a_query_string_is_refused_in_one_line(
    tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SettingsError) as refused:
        AgentSettings(provider="gateway", base_url=f"{fake.url}/corp?api-key={SECRET}")
    line = one_line(refused.value)
    assert "query string" in line and "ANTHROPIC_AUTH_TOKEN" in line and "gateway_auth" in line
    assert SECRET not in line
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"{fake.url}?api-key={SECRET}")
    with pytest.raises(SettingsError, match="query string"):
        AgentSettings()  # the SDK would read it for Anthropic's API
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(
        tmp_path, base_url=f"{fake.url}/corp?api-key={SECRET}")))
    assert avo_run(tmp_path, "query-1", "--provider", "gateway") != 0
    out, err = capsys.readouterr()
    assert "query string" in out + err and SECRET not in out + err, out + err
    assert not fake.requests and not fake.count_requests


# -- the SDK's words -------------------------------------------------------------------------------

def test_a_missing_bedrock_region_is_named_by_avos_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("boto3")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    nowhere = str(tmp_path / "nowhere")
    monkeypatch.setenv("AWS_CONFIG_FILE", nowhere)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from anthropic.lib.aws._auth import _get_session

    _get_session.cache_clear()  # type: ignore[attr-defined]
    with pytest.raises(ProviderUnavailable) as failed:
        check_api(AgentSettings(provider="bedrock"))
    line = one_line(failed.value)
    assert "aws_region" not in line and "region in [agent]" in line, line
