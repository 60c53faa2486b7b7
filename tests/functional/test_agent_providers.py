"""Claude where the user has it: Amazon Bedrock, Google Vertex AI and gateways, each through the
anthropic SDK's own client (``AnthropicBedrock``, ``AnthropicVertex``) speaking its real wire
format to a loopback fake (tests/fake_anthropic: Bedrock's binary event stream, Vertex's
``:streamRawPredict`` paths), and the first contact and the turns on answers they did not
expect. No mocks: credentials are fake but go through boto3's SigV4 signer and google-auth's
service-account token flow."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import UNROLL_2, UNROLL_LINE, edit, one_line, settings_file
from fake_anthropic import (
    ApiError,
    FakeAnthropic,
    RawBody,
    RawSSE,
    Step,
    bedrock_chunk,
    bedrock_exception,
    event_stream_message,
    reply,
    text,
    tool_use,
)

from avo_tui.cli import main
from avo_tui.operators.agent import AgentSettings
from avo_tui.operators.agent.api import ApiUnavailable, MessagesApi, StreamBroken
from avo_tui.operators.agent.models import (
    canonical_model,
    model_limits,
    provider_model_id,
    regional_premium,
)
from avo_tui.operators.agent.preflight import ApiCheckFailed, check_api
from avo_tui.operators.agent.providers import PROVIDERS, ApiKeyMissing, ProviderUnavailable
from avo_tui.operators.agent.settings import Price, SettingsError, agent_default, with_provider
from avo_tui.store import Session

HAS_BEDROCK = all(importlib.util.find_spec(m) for m in ("boto3", "botocore"))
HAS_VERTEX = bool(importlib.util.find_spec("google") and importlib.util.find_spec("google.auth"))
bedrock_extra = pytest.mark.skipif(not HAS_BEDROCK, reason="needs pip install 'avo-tui[bedrock]'")
vertex_extra = pytest.mark.skipif(not HAS_VERTEX, reason="needs pip install 'avo-tui[vertex]'")

AWS_KEY_ID = "AKIDAVOTESTFAKE"
SYSTEM = [{"type": "text", "text": "You tune kernels."}]
HELLO = [{"role": "user", "content": "hello"}]
PROVIDER_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
                "ANTHROPIC_BEDROCK_BASE_URL", "ANTHROPIC_VERTEX_BASE_URL", "AWS_PROFILE",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_BEARER_TOKEN_BEDROCK", "AWS_REGION", "AWS_DEFAULT_REGION",
                "CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID",
                "GOOGLE_APPLICATION_CREDENTIALS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential of the machine's reaches a test, and nothing looks beyond loopback:
    boto3 reads no config file and asks no instance metadata, google-auth finds no gcloud."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    nowhere = str(tmp_path / "nowhere")
    monkeypatch.setenv("AWS_CONFIG_FILE", nowhere)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", nowhere)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    if HAS_BEDROCK:  # the SDK keeps one boto3 session (its credentials read once) per process
        from anthropic.lib.aws._auth import _get_session

        _get_session.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The fake as Bedrock: fake AWS keys in the environment, as a user's would be."""
    with FakeAnthropic(api_key=AWS_KEY_ID) as server:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-sigv4")
        yield server


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAnthropic]:
    """The fake as Vertex: a service account's key file (a fresh RSA key) whose token_uri is
    the fake's, so google-auth signs a real JWT grant and gets its access token over loopback."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    with FakeAnthropic(api_key="ya29.avo-test-token") as server:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        account = tmp_path / "service-account.json"
        account.write_text(json.dumps({
            "type": "service_account", "project_id": "avo-test", "private_key_id": "k1",
            "private_key": pem, "client_email": "avo@avo-test.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": f"{server.url}/token"}))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
        yield server


def avo_run(tmp_path: Path, name: str, *extra: str) -> int:
    """A new session on the target's own seed, run for one step: these tests need a step's
    turns and an evaluation, not a gain (scoring the seed of seven times the work that the
    commit tests need took 4-5 s more)."""
    return main(["--sessions-dir", str(tmp_path / "sessions"), "run", "--session", name,
                 "--target", "cpu-attention", "--headless", "--max-steps", "1", "--quick",
                 *extra])


IDEA = "UNROLL 2"
A_STEP = (  # one scripted step: an edit, an evaluation of it, and the agent's last word
    reply(tool_use(*edit(UNROLL_LINE, UNROLL_2)), tool_use("evaluate", {"idea": IDEA})),
    reply(text("Evaluated; nothing more this step.")),
)


def evaluated(request_body: dict[str, Any]) -> bool:
    """Whether this request carries the evaluation's result back to the model."""
    results = [b for m in request_body["messages"] if m["role"] == "user"
               for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    return any(IDEA in json.dumps(r) or "correct" in json.dumps(r) for r in results)


# -- each provider, end to end, through avo run ---------------------------------------------------

@bedrock_extra
def test_avo_run_provider_bedrock_runs_a_step_through_the_bedrock_client(
    tmp_path: Path, aws: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path, base_url=aws.url)))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    # Bedrock counts no tokens through the SDK: the first contact is the smallest real turn.
    aws.script(reply(text("ready")), *A_STEP)
    assert avo_run(tmp_path, "bedrock-1", "--provider", "bedrock") == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "step 1 done" in out, out + err
    assert "operator: agent (through bedrock)" in out
    assert [r.wire for r in aws.requests] == ["bedrock"] * 3
    assert all(r.path == "/model/global.anthropic.claude-sonnet-4-6/invoke-with-response-stream"
               for r in aws.requests)
    first = aws.requests[0]
    assert first.body["max_tokens"] < 100  # the first contact generates next to nothing
    signature = first.headers["authorization"]
    assert signature.startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")
    assert "/eu-west-1/bedrock/aws4_request" in signature  # signed for Bedrock, in the region
    assert "x-api-key" not in first.headers and not aws.count_requests
    assert evaluated(aws.requests[2].body)  # the evaluation's result went back to the model
    with Session.open(tmp_path / "sessions" / "bedrock-1", writable=False) as session:
        stored = session.meta["settings"]["agent"]
        assert (stored["provider"], stored["region"]) == ("bedrock", "eu-west-1")
        assert "fake-secret" not in (session.directory / "session.json").read_text()
    assert main(["--sessions-dir", str(tmp_path / "sessions"), "sessions", "show",
                 "bedrock-1"]) == 0
    assert "operator agent via bedrock eu-west-1" in capsys.readouterr().out


@vertex_extra
def test_avo_run_provider_vertex_runs_a_step_through_the_vertex_client(
    tmp_path: Path, gcp: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path, region="us-east5",
                                                         project="avo-test")))
    monkeypatch.setenv("ANTHROPIC_VERTEX_BASE_URL", gcp.url)  # the SDK's own setting
    gcp.script(*A_STEP)
    assert avo_run(tmp_path, "vertex-1", "--provider", "vertex") == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "step 1 done" in out, out + err
    base = "/projects/avo-test/locations/us-east5/publishers/anthropic/models/"
    [count] = gcp.count_requests  # Vertex counts tokens: the first contact generates nothing
    assert count.path == base + "count-tokens:rawPredict"
    assert count.body["model"] == "claude-sonnet-4-6"
    assert [r.path for r in gcp.requests] == [base + "claude-sonnet-4-6:streamRawPredict"] * 2
    assert all(r.headers["authorization"] == f"Bearer {gcp.api_key}" for r in gcp.requests)
    assert gcp.token_requests >= 1  # google-auth's own flow minted the token
    assert evaluated(gcp.requests[1].body)
    with Session.open(tmp_path / "sessions" / "vertex-1", writable=False) as session:
        assert with_provider("agent", session.meta) == "agent via vertex us-east5"


# -- a gateway: its key, its missing or odd count_tokens ------------------------------------------

@pytest.mark.parametrize("auth", ["bearer", "x-api-key"])
def test_a_gateway_gets_its_key_in_the_header_it_asks_for(
    auth: str, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", fake.api_key)
    api = MessagesApi(AgentSettings(provider="gateway", base_url=fake.url, gateway_auth=auth))
    fake.script(reply(text("hi")))
    assert check_api(api.settings, api) == 1234
    api.stream(system=SYSTEM, tools=[], messages=HELLO)
    for request in (*fake.count_requests, *fake.requests):
        if auth == "bearer":
            assert request.headers["authorization"] == f"Bearer {fake.api_key}"
            assert "x-api-key" not in request.headers
        else:
            assert request.headers["x-api-key"] == fake.api_key
            assert "authorization" not in request.headers


def test_a_gateway_without_its_url_or_key_is_one_line(
    fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    with pytest.raises(SettingsError, match="a gateway needs its URL"):
        AgentSettings(provider="gateway")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ApiKeyMissing, match="ANTHROPIC_AUTH_TOKEN"):
        check_api(AgentSettings(provider="gateway", base_url=fake.url))


def gateway_run(tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path, base_url=fake.url)))
    return avo_run(tmp_path, "gateway-1", "--provider", "gateway")


def test_a_gateway_without_count_tokens_starts_a_run(
    tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.count_tokens = ApiError(404, message="no route POST /v1/messages/count_tokens")
    fake.script(reply(text("ready")), reply(text("Nothing to change yet.")))
    assert gateway_run(tmp_path, fake, monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "step 1 done" in out, out + err
    assert len(fake.count_requests) == 1  # a 404 is an answer: not asked again
    assert fake.requests[0].stream and fake.requests[0].body["max_tokens"] < 100


def test_a_gateway_that_answers_count_tokens_with_a_stream_starts_a_run(
    tmp_path: Path, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Found 2026-11-24: the SDK hands back the stream's text as the count, and the first
    # contact crashed on 'str' object has no attribute 'input_tokens'.
    fake.count_tokens = RawSSE([{"type": "message_start", "message": {"id": "m", "usage": {}}},
                                {"type": "message_stop"}])
    fake.script(reply(text("ready")), reply(text("Nothing to change yet.")))
    assert gateway_run(tmp_path, fake, monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "step 1 done" in out, out + err
    assert fake.requests[0].body["max_tokens"] < 100


@pytest.mark.parametrize("answer", [
    RawBody(b'{"input_tokens": "lots"}'),
    RawBody(b'{"input_tokens": -5}'),
    RawBody(b'{"tokens": 12}'),
    RawBody(b"<html><body>502 from the proxy</body></html>", "text/html"),
    RawBody(b""),
    RawBody(b"{not json", "application/json"),
], ids=["a string", "negative", "no count", "html", "empty", "not json"])
def test_a_count_that_is_not_a_count_falls_back_to_the_smallest_turn(
    answer: RawBody, fake: FakeAnthropic
) -> None:
    fake.count_tokens = answer
    fake.script(reply(text("ready")))
    settings = AgentSettings(sdk_retries=0)
    assert check_api(settings, MessagesApi(settings)) is None
    assert len(fake.requests) == 1 and fake.requests[0].stream


# -- the first contact ends in a start or in one line ----------------------------------------------

def test_a_first_contact_answered_with_json_where_a_stream_was_asked_is_one_line(
    fake: FakeAnthropic,
) -> None:
    fake.count_tokens = ApiError(404)
    message = {"id": "m", "type": "message", "role": "assistant", "content": [],
               "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}
    fake.script(*[RawBody(json.dumps(message).encode())] * 3)
    settings = AgentSettings(sdk_retries=1)
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(settings, MessagesApi(settings))
    line = one_line(failed.value)
    assert line.startswith(f"Anthropic's API at {fake.url}") and "did not answer" in line, line


def test_a_hostile_error_message_still_makes_one_short_line(fake: FakeAnthropic) -> None:
    fake.count_tokens = ApiError(400, message="bad\nsettings\r\n" + "x" * 1_000_000)
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(AgentSettings())
    line = one_line(failed.value)
    assert "refuses this run's settings" in line and "bad settings" in line


@bedrock_extra
def test_bedrock_without_credentials_is_one_line_naming_bedrock_and_its_url(
    aws: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(AgentSettings(provider="bedrock", region="us-east-1", base_url=aws.url))
    line = one_line(failed.value)
    assert line.startswith(f"Amazon Bedrock at {aws.url}") and "credentials" in line, line
    assert not aws.requests  # nothing unsigned left the machine


@bedrock_extra
def test_bedrock_refusing_the_credentials_names_where_they_come_from(
    aws: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE")
    with pytest.raises(ApiCheckFailed) as failed:
        check_api(AgentSettings(provider="bedrock", region="us-east-1", base_url=aws.url))
    line = one_line(failed.value)
    assert "HTTP 403" in line and "AWS_ACCESS_KEY_ID" in line and "AKIDSOMEONEELSE" not in line


@vertex_extra
def test_vertex_without_a_project_or_region_is_one_line(
    gcp: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProviderUnavailable, match=r"needs a project.*ANTHROPIC_VERTEX_PROJECT_ID"):
        check_api(AgentSettings(provider="vertex", region="global", base_url=gcp.url))
    with pytest.raises(ProviderUnavailable, match="CLOUD_ML_REGION"):
        check_api(AgentSettings(provider="vertex", project="p", base_url=gcp.url))
    monkeypatch.setenv("CLOUD_ML_REGION", "global")  # the environment's, as the SDK reads it
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", "avo-test")
    settings = AgentSettings(provider="vertex", base_url=gcp.url)
    assert (settings.region, settings.project) == ("global", "avo-test")  # kept in the session
    assert check_api(settings) == 1234


def test_a_provider_without_its_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(PROVIDERS, "bedrock", PROVIDERS["bedrock"].__class__(
        "Amazon Bedrock", "", False, "bedrock", ("avo_no_such_module",)))
    with pytest.raises(ProviderUnavailable, match=r"pip install 'avo-tui\[bedrock\]'"):
        check_api(AgentSettings(provider="bedrock", region="us-east-1"))


# -- answers of the wrong shape mid-run: retried as broken turns, never a traceback -------------

def message_events(reply_text: str) -> list[dict[str, Any]]:
    return [
        {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
            "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "text_delta", "text": reply_text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 3}},
        {"type": "message_stop"},
    ]


def bedrock_frames(*frames: bytes) -> RawSSE:
    return RawSSE(list(frames))


BEDROCK_FAULTS: dict[str, Step] = {
    "JSON where the event stream was asked": RawBody(b'{"message": "not a stream"}'),
    "an empty body": RawBody(b"", "application/vnd.amazon.eventstream"),
    "a frame whose CRC is wrong": bedrock_frames(
        bedrock_chunk(message_events("x")[0])[:-4] + b"\0\0\0\0"),
    "a frame cut short": bedrock_frames(bedrock_chunk(message_events("x")[0])[:20]),
    "a chunk that is not base64 of JSON": bedrock_frames(
        bedrock_chunk(message_events("x")[0]),
        event_stream_message({":event-type": "chunk", ":message-type": "event",
                              ":content-type": "application/json"}, b'{"bytes": "!!!"}')),
    "an exception frame mid-stream": bedrock_frames(
        *[bedrock_chunk(e) for e in message_events("half")[:3]],
        bedrock_exception("throttlingException", "Too many tokens, please wait.")),
    "a stream of chunks with no type": bedrock_frames(
        *[bedrock_chunk({"surprise": i}) for i in range(3)]),
}


@bedrock_extra
@pytest.mark.parametrize("fault", list(BEDROCK_FAULTS))
def test_bedrock_answers_of_the_wrong_shape_are_retried(fault: str, aws: FakeAnthropic) -> None:
    api = MessagesApi(AgentSettings(provider="bedrock", region="us-east-1", base_url=aws.url))
    aws.script(BEDROCK_FAULTS[fault], reply(text("whole")))
    # A broken turn, or for an exception frame an outage (throttling): retry.py waits both out.
    kind = ApiUnavailable if "exception" in fault else StreamBroken
    with pytest.raises(kind):
        api.stream(system=SYSTEM, tools=[], messages=HELLO)
    assert api.stream(system=SYSTEM, tools=[], messages=HELLO).text == "whole"  # asked again


MESSAGES_FAULTS: dict[str, Step] = {
    "JSON where a stream was asked": RawBody(b'{"type": "message", "content": []}'),
    "an empty body": RawBody(b"", "text/event-stream"),
    "HTML from a proxy": RawBody(b"<html>gateway timeout</html>", "text/html"),
    "an event of an unknown type": RawSSE([*message_events("x")[:1], {"type": "surprise"}]),
}


@pytest.mark.parametrize("fault", list(MESSAGES_FAULTS))
def test_messages_answers_of_the_wrong_shape_are_broken_turns(
    fault: str, fake: FakeAnthropic
) -> None:
    api = MessagesApi(AgentSettings())
    fake.script(MESSAGES_FAULTS[fault])
    with pytest.raises(StreamBroken):
        api.stream(system=SYSTEM, tools=[], messages=HELLO)


def test_a_one_shot_question_answered_with_a_stream_is_a_broken_turn(fake: FakeAnthropic) -> None:
    fake.script(RawSSE(list(message_events("streamed anyway"))),
                RawBody(b"", "application/json"))
    api = MessagesApi(AgentSettings())
    for _ in range(2):
        with pytest.raises(StreamBroken):
            api.ask(system="You review.", prompt="How is it going?")


# -- model IDs, prices and what is shown -----------------------------------------------------------

def test_model_names_map_to_each_providers_ids_and_back() -> None:
    assert provider_model_id("claude-sonnet-4-5", "bedrock", "us-east-1") == \
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    # Before Sonnet 4.5 no global profile: the region's geography.
    assert provider_model_id("claude-opus-4-1", "bedrock", "eu-central-1") == \
        "eu.anthropic.claude-opus-4-1-20250805-v1:0"
    assert provider_model_id("claude-opus-4-1", "vertex", "us-east5") == \
        "claude-opus-4-1@20250805"
    assert provider_model_id("claude-opus-4-7", "anthropic") == "claude-opus-4-7"
    own = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    for given in ("us.anthropic.claude-haiku-4-5-20251001-v1:0", own, "corp-claude-large"):
        assert provider_model_id(given, "bedrock", "us-east-1") == given  # sent as given
    assert canonical_model("us.anthropic.claude-haiku-4-5-20251001-v1:0") == "claude-haiku-4-5"
    assert canonical_model("claude-opus-4@20250514") == "claude-opus-4-0"
    limits = model_limits("anthropic.claude-opus-4-6-v1")
    assert limits is not None and limits.name == "claude-opus-4-6"
    # A provider's ID is checked like the model it names.
    with pytest.raises(SettingsError, match="claude-haiku-4-5 takes no effort"):
        AgentSettings(model="claude-haiku-4-5@20251001", thinking="off", effort="high",
                      max_tokens=8000)


def test_prices_follow_the_provider_and_its_endpoint() -> None:
    base = AgentSettings(model="claude-sonnet-4-6").price()
    assert base == Price(3.0, 15.0, 3.75, 0.3)
    assert AgentSettings(model="claude-sonnet-4-6", provider="bedrock",
                         region="us-east-1").price() == base  # the global profile
    regional = AgentSettings(model="claude-sonnet-4-6", provider="vertex", region="us-east5",
                             project="p").price()
    assert regional is not None and regional.output == pytest.approx(16.5)
    assert regional_premium("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock",
                            "us-east-1") == pytest.approx(1.1)
    assert regional_premium("claude-opus-4-1", "vertex", "us-east5") == 1.0  # no premium then
    contract = AgentSettings(model="claude-sonnet-4-6", provider="vertex", region="us-east5",
                             project="p", pricing={"vertex/claude-sonnet": Price(2, 10, 2.5, .2)})
    assert contract.price() == Price(2, 10, 2.5, .2)  # a provider's own table, as it is


def test_the_provider_is_shown_only_where_it_is_not_anthropics_api() -> None:
    def meta(agent: object) -> dict[str, Any]:
        return {"settings": {"agent": agent}}

    assert with_provider("agent", meta({"provider": "bedrock", "region": "us-west-2"})) == \
        "agent via bedrock us-west-2"
    assert with_provider("agent,tuner", meta({"provider": "gateway", "base_url": "https://g"})) \
        == "agent,tuner via gateway https://g"
    assert with_provider("agent", meta({"provider": "anthropic"})) == "agent"
    assert with_provider("tuner", meta({"provider": "vertex"})) == "tuner"
    damaged: object
    for damaged in (None, [], meta([]), {"settings": "x"}, meta(None)):
        assert with_provider("agent", damaged) == "agent"
    assert with_provider("agent", meta({"provider": 7, "region": 3})) == "agent via 7"


def test_unknown_provider_settings_are_refused_in_one_line() -> None:
    with pytest.raises(SettingsError, match="provider must be one of anthropic, bedrock"):
        AgentSettings(provider="azure")
    with pytest.raises(SettingsError, match="gateway_auth must be one of"):
        AgentSettings(gateway_auth="basic")
    with pytest.raises(SettingsError, match="base_url must be an http"):
        AgentSettings(base_url="ftp://x")
    assert os.environ.get("AWS_REGION") is None
    assert AgentSettings(provider="bedrock").region == ""  # none to record: the SDK's word


def test_a_provider_named_in_the_settings_file_makes_the_agent_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path)))
    assert agent_default(None) == ""  # no key: the tuner, as before
    assert agent_default("vertex") == "through vertex"
    monkeypatch.setenv("AVO_SETTINGS", str(settings_file(tmp_path, provider="gateway",
                                                         base_url="https://gw.example")))
    assert agent_default(None) == "through gateway"
    (tmp_path / "settings.toml").write_text("[agent\n")  # a file that does not read
    assert agent_default(None) == ""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    assert agent_default(None) == "ANTHROPIC_API_KEY is set"
