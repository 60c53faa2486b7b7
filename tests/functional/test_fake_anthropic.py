"""The fake Messages API server works with the real anthropic SDK."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from fake_anthropic import (
    ApiError,
    Drop,
    FakeAnthropic,
    Recorded,
    Stall,
    reply,
    text,
    thinking,
    tool_use,
)

MODEL = "claude-test-model"
HELLO: list[Any] = [{"role": "user", "content": "hello"}]


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def client_for(server: FakeAnthropic, **options: Any) -> anthropic.Anthropic:
    settings: dict[str, Any] = {"api_key": "test-key", "max_retries": 2, "timeout": 5}
    settings.update(options)
    return anthropic.Anthropic(base_url=server.url, **settings)


def create(client: anthropic.Anthropic, messages: list[Any] = HELLO) -> anthropic.types.Message:
    return client.messages.create(model=MODEL, max_tokens=100, messages=messages)


def test_non_streaming_reply_and_recording(server: FakeAnthropic) -> None:
    server.script(reply(text("hi there"), usage={"input_tokens": 7, "cache_read_input_tokens": 3}))
    message = create(client_for(server))
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "hi there"  # type: ignore[union-attr]
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 7
    assert message.usage.output_tokens == 50
    assert message.usage.cache_read_input_tokens == 3
    assert message.usage.cache_creation_input_tokens == 0
    [request] = server.requests
    assert request.path == "/v1/messages"
    # SDK 2.12 sends the api_key as a bearer token, not as x-api-key.
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == MODEL
    assert request.body["messages"] == HELLO
    assert not request.stream
    assert server.remaining == 0


def test_streamed_reply_accumulates_every_block(server: FakeAnthropic) -> None:
    usage = {
        "input_tokens": 11,
        "output_tokens": 22,
        "cache_creation_input_tokens": 33,
        "cache_read_input_tokens": 44,
    }
    tool_input = {"path": "kernel.cu", "lines": [1, 2], "nested": {"ok": True}}
    server.script(
        reply(
            thinking("let me think about it", signature="sig-123"),
            text("reading the kernel"),
            tool_use("read_file", tool_input),
            usage=usage,
        )
    )
    client = client_for(server)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        final = stream.get_final_message()
    assert server.requests[0].stream
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    think, said, call = final.content
    assert think.thinking == "let me think about it"  # type: ignore[union-attr]
    assert think.signature == "sig-123"  # type: ignore[union-attr]
    assert said.text == "reading the kernel"  # type: ignore[union-attr]
    assert call.name == "read_file"  # type: ignore[union-attr]
    assert call.input == tool_input  # type: ignore[union-attr]
    assert call.id == "toolu_001"  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.input_tokens == 11
    assert final.usage.output_tokens == 22
    assert final.usage.cache_creation_input_tokens == 33
    assert final.usage.cache_read_input_tokens == 44


def test_sdk_retries_429_and_529_after_the_1_ms_the_fake_asks_for(
    server: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(ApiError(429), ApiError(529, message="Overloaded"), reply(text("finally")))
    with caplog.at_level(logging.INFO, logger="anthropic"):
        message = create(client_for(server))
    assert message.content[0].text == "finally"  # type: ignore[union-attr]
    assert len(server.requests) == 3
    # Without retry-after-ms the SDK would back off 0.375 s to 1 s before each retry.
    waits = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records
             if r.getMessage().startswith("Retrying request")]
    assert waits == ["0.001000 seconds", "0.001000 seconds"]


def test_retry_after_header_given_by_step_replaces_the_default(server: FakeAnthropic) -> None:
    server.script(ApiError(429, headers={"retry-after": "0"}), ApiError(503))
    client = client_for(server, max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as first:
        create(client)
    assert first.value.response.headers["retry-after"] == "0"
    assert "retry-after-ms" not in first.value.response.headers
    with pytest.raises(anthropic.InternalServerError) as second:
        create(client)
    assert second.value.response.headers["retry-after-ms"] == "1"
    assert second.value.type == "api_error"


def test_wrong_key_is_rejected_without_retry_or_consuming_a_step(server: FakeAnthropic) -> None:
    server.script(reply(text("unused")))
    with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
        create(client_for(server, api_key="wrong-key"))
    assert len(server.requests) == 1
    assert server.remaining == 1


def test_dropped_connections_become_connection_errors(server: FakeAnthropic) -> None:
    server.script(Drop(), Drop(), Drop())
    with pytest.raises(anthropic.APIConnectionError):
        create(client_for(server, max_retries=2))
    assert len(server.requests) == 3


def test_stall_times_out_and_shutdown_does_not_wait_for_it() -> None:
    fake = FakeAnthropic().start()
    try:
        fake.script(Stall(3600))
        with pytest.raises(anthropic.APITimeoutError):
            create(client_for(fake, timeout=0.5, max_retries=0))
    finally:
        stopping = threading.Thread(target=fake.stop)
        stopping.start()
        stopping.join(timeout=120)  # a backstop: waiting for the stall would take an hour
        assert not stopping.is_alive(), "stop() waited for the stalled request"


def test_stalled_request_does_not_block_others(server: FakeAnthropic) -> None:
    server.script(Stall(1.0, then=reply(text("late"))), reply(text("quick")))
    client = client_for(server, max_retries=0)
    answers: list[str] = []
    slow = threading.Thread(target=lambda: answers.append(create(client).content[0].text))  # type: ignore[union-attr]
    slow.start()
    server.wait_for_requests(1)
    assert create(client).content[0].text == "quick"  # type: ignore[union-attr]
    assert answers == []
    slow.join(timeout=5)
    assert answers == ["late"]


def test_empty_script_fails_loudly(server: FakeAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="no scripted reply left"):
        create(client_for(server))
    assert len(server.requests) == 1


def test_callable_step_sees_the_tool_result(server: FakeAnthropic) -> None:
    def answer(request: Recorded) -> Any:
        [result] = request.tool_results()
        return reply(text(f"file says {result['content']}"))

    server.script(reply(tool_use("read_file", {"path": "a.cu"})), answer)
    client = client_for(server)
    first = create(client)
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    messages: list[Any] = [
        *HELLO,
        {"role": "assistant", "content": [call.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "42"}],  # type: ignore[union-attr]
        },
    ]
    second = create(client, messages)
    assert second.content[0].text == "file says 42"  # type: ignore[union-attr]
    assert server.requests[1].tool_results()[0]["tool_use_id"] == "toolu_001"


def test_texts_include_text_after_tool_results(server: FakeAnthropic) -> None:
    server.script(reply(text("ok")))
    messages: list[Any] = [
        {"role": "user", "content": "start"},
        {"role": "assistant", "content": [tool_use("ls", {}, id="toolu_x")]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_x", "content": [text("a.cu")]},
                text("hint: budget is low"),
            ],
        },
    ]
    create(client_for(server), messages)
    request = server.requests[0]
    assert request.texts() == ["start", "a.cu", "hint: budget is low"]
    assert request.last_user_message()["content"][1]["text"] == "hint: budget is low"
    assert len(request.tool_results()) == 1


def test_truncated_streamed_tool_input_is_accepted_as_partial(server: FakeAnthropic) -> None:
    server.script(reply(tool_use("read_file", input_json='{"n": 1, "path": "a')))
    client = client_for(server)
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        final = stream.get_final_message()
    assert final.content[0].input == {"n": 1}  # type: ignore[union-attr]


def test_broken_streamed_tool_input_raises_value_error(server: FakeAnthropic) -> None:
    server.script(reply(tool_use("read_file", input_json='{"path": }')))
    client = client_for(server)
    with (
        pytest.raises(ValueError, match="Unable to parse tool parameter JSON"),
        client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream,
    ):
        stream.get_final_message()


def test_wait_for_requests_times_out(server: FakeAnthropic) -> None:
    with pytest.raises(AssertionError, match="expected 1 requests, got 0"):
        server.wait_for_requests(1, timeout=0.05)


def test_x_api_key_header_is_accepted_too(server: FakeAnthropic) -> None:
    server.script(reply(text("raw")))
    request = urllib.request.Request(
        server.url + "/v1/messages",
        data=json.dumps({"model": MODEL, "max_tokens": 5, "messages": HELLO}).encode(),
        headers={"x-api-key": "test-key", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.load(response)
    assert body["content"] == [{"type": "text", "text": "raw"}]
    assert server.requests[0].headers["x-api-key"] == "test-key"


def test_failing_callable_step_answers_400(server: FakeAnthropic) -> None:
    def broken(request: Recorded) -> Any:
        raise KeyError("no tool result")

    server.script(broken)
    with pytest.raises(anthropic.BadRequestError, match="scripted step raised KeyError"):
        create(client_for(server))
    assert len(server.requests) == 1
