"""The one module that talks to the anthropic SDK (2.x): streamed turns, one-shot questions,
a preflight check, and every way a request can fail sorted by what the run should do.

The client is the provider's (providers.py: Anthropic's API, Bedrock, Vertex or a gateway), and
the model is named by the provider's ID (models.provider_model_id); everything else is the same
Messages API. The SDK reads ``ANTHROPIC_BASE_URL`` itself, which is how tests reach a local
server; keys and credentials come from the environment and nowhere else.

The SDK's own retries are off: it honours any ``retry-after`` (an hour included) by sleeping
inside the call, where neither pause nor stop can reach it. Retrying is the agent's job
(retry.py), in a loop with safe points; the errors here carry the server's ``retry-after``.

A streamed turn is trusted only when it is whole: the stream must end with ``message_stop``,
every delta must belong to a block that was started, every tool call needs an id and a name,
and the usage figures must be counts. Anything else (a cut or stalled connection, data that is
not JSON, an event out of order) is a :class:`StreamBroken`, retried from the last complete
turn; a half turn never reaches the conversation. An answer of any other shape (a JSON body
where a stream was asked, an empty body, the wrong content type, a stream where JSON was asked)
is one too: no answer reaches the run as a traceback.

The first contact (:meth:`MessagesApi.preflight`) counts tokens where the provider serves that,
and otherwise, or when the count is not served after all (404, or an answer that is not a
count), makes the smallest real request: one streamed turn of a few tokens.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast

import anthropic
import httpx2
from anthropic.types import RawMessageStreamEvent

from .models import provider_model_id
from .providers import PROVIDERS, ApiKeyMissing, api_key, in_avo_words, make_client
from .settings import AgentSettings, TokenUsage, redact_url

INVALID_INPUT = "__invalid_json__"  # the key under which unparseable tool input is kept
# What a count_tokens request that is not served answers: the route is unknown (404), the
# method is not allowed there (405), or the server has no such feature (501).
NOT_SERVED = frozenset({404, 405, 501})
PREFLIGHT_MAX_TOKENS = 16  # of the smallest real request, where counting is not served

__all__ = ["ApiKeyMissing", "api_key"]  # where they were before providers.py


class ApiUnavailable(RuntimeError):
    """Overloaded, rate-limited, down or unreachable: wait and try again. ``retry_after`` is
    the wait the server asked for, in seconds, if it named one."""

    def __init__(self, message: str, retry_after: float | None = None, *,
                 timed_out: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.timed_out = timed_out  # no answer within the request's timeout


class StreamBroken(ApiUnavailable):
    """A streamed turn that did not arrive whole: cut, stalled, malformed or unterminated.
    The turn is dropped and asked for again."""


class NotAnApi(StreamBroken):
    """An answer that is not the Messages API's at all (a login page, a proxy's text): no
    event came, and the content type and status say what came instead. Mid-run it is a broken
    turn like any other; at the first contact it names a wrong base_url."""


class ApiRejected(RuntimeError):
    """The key was refused (invalid, revoked, no permission or credit): a person must act."""


class ApiRequestError(RuntimeError):
    """The API refused this request (too long, malformed): the step ends, the run goes on."""


class ApiNotFound(ApiRequestError):
    """HTTP 404: nothing at the URL tried (``url``, redacted), or no such model (``detail``
    says which)."""

    def __init__(self, message: str, url: str, detail: str) -> None:
        super().__init__(message)
        self.url = url
        self.detail = detail


class CountNotServed(RuntimeError):
    """The provider does not count tokens (no route, the SDK refuses, or an answer that is not
    a count): the first contact makes the smallest real request instead."""


@dataclass(frozen=True)
class Turn:
    content: list[dict[str, Any]]  # the assistant's blocks, as they go back in the next request
    stop_reason: str
    usage: TokenUsage
    request_id: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(b["text"] for b in self.content if b["type"] == "text").strip()

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b["type"] == "tool_use"]


class MessagesApi:
    def __init__(self, settings: AgentSettings, timeout_s: float | None = None) -> None:
        """``timeout_s`` replaces the settings' ``request_timeout_s`` (the first contact's)."""
        self.settings = settings
        self.provider = PROVIDERS[settings.provider]
        self.model = provider_model_id(settings.model, settings.provider, settings.region)
        self._client = make_client(settings, timeout_s)  # its retries are off: retry.py retries

    @property
    def base_url(self) -> str:
        """Where requests go, as it may be shown (its credentials hidden)."""
        return redact_url(str(self._client.base_url))

    def stream(
        self,
        *,
        system: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
        max_tokens: int | None = None,
    ) -> Turn:
        """One streamed assistant turn, whole, or an exception from this module."""
        with _translated_errors():
            # With untyped dicts for messages, mypy cannot pick the streaming overload.
            events = cast("anthropic.Stream[RawMessageStreamEvent]", self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens or self.settings.max_tokens,
                system=system,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
                messages=encodable(messages),
                stream=True,
                thinking=self._thinking(),
                output_config=self._output_config(),
            ))
            if not isinstance(events, anthropic.Stream):
                raise StreamBroken(f"the API answered a streamed request with {_shape(events)}")
            with events:
                reply = _Accumulator()
                for event in events:
                    text = reply.add(event.model_dump(mode="json", exclude_none=True))
                    if text and on_text:
                        on_text(text)
                if not reply.started:
                    _not_an_event_stream(events.response)
                headers = events.response.headers
                return reply.turn(headers.get("request-id") or headers.get("x-amzn-requestid"))

    def preflight(self, *, system: str, tools: list[dict[str, Any]]) -> int | None:
        """Check the credentials, the model and the settings (thinking and effort included)
        before a run spends anything: with a request that generates nothing (token counting)
        where the provider serves one, else with the smallest real request (a streamed turn of
        a few tokens, shaped like the run's). Returns the prompt's size in tokens, or None when
        it was not counted."""
        if self.provider.count_tokens:
            try:
                return self._count(system=system, tools=tools)
            except CountNotServed:
                pass
        budget = self.settings.thinking_param() or {}
        self.stream(system=[{"type": "text", "text": system}], tools=tools,
                    messages=[{"role": "user", "content": "Reply with the word ready."}],
                    max_tokens=int(budget.get("budget_tokens", 0)) + PREFLIGHT_MAX_TOKENS)
        return None

    def _count(self, *, system: str, tools: list[dict[str, Any]]) -> int:
        with _translated_errors():
            try:
                counted: object = self._client.messages.count_tokens(
                    model=self.model,
                    system=system,
                    tools=tools,  # type: ignore[arg-type]
                    messages=[{"role": "user", "content": "preflight"}],
                    thinking=self._thinking(),
                    output_config=self._output_config(),
                )
            except anthropic.APIStatusError as error:
                if error.status_code in NOT_SERVED:
                    raise CountNotServed(f"HTTP {error.status_code}") from error
                raise
            except anthropic.APIConnectionError:
                raise
            except (anthropic.AnthropicError, ValueError) as error:  # the SDK's refusal, bad JSON
                raise CountNotServed(_describe(error)) from error
        tokens = getattr(counted, "input_tokens", None)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise CountNotServed(f"count_tokens answered {_shape(counted)}")
        return tokens

    def _thinking(self) -> Any:
        return self.settings.thinking_param() or anthropic.omit

    def _output_config(self) -> Any:
        return self.settings.output_config() or anthropic.omit

    def ask(self, *, system: str, prompt: str, max_tokens: int = 4000,
            thinking: bool = False) -> Turn:
        """A one-shot question without tools (the supervisor's review, a review before a
        commit), at the session's effort. ``thinking`` adds the session's thinking; as thinking
        shares a response's ``max_tokens`` with the answer, the limit is then at least the
        session's ``max_tokens``, which the settings keep above a thinking budget. Only the
        answer is in the turn's ``text``; its thinking blocks are in ``content``."""
        if thinking and self.settings.thinking_param() is not None:
            max_tokens = max(max_tokens, self.settings.max_tokens)
        with _translated_errors():
            response: object = self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                thinking=self._thinking() if thinking else anthropic.omit,
                output_config=self._output_config(),
            )
            if not isinstance(response, anthropic.types.Message):
                raise StreamBroken(f"the API answered with {_shape(response)} where a message "
                                   "was expected")
            return _turn(response, getattr(response, "_request_id", None))


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(value: Any) -> Any:
    """``value`` with every lone surrogate replaced by U+FFFD. The model can send one (JSON's
    ``\\ud800``) in a tool input; sent back as part of the conversation, it would make every
    later request fail to encode."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [encodable(v) for v in value]
    if isinstance(value, dict):
        return {k: encodable(v) for k, v in value.items()}
    return value


_EVENT_STREAMS = ("text/event-stream", "application/vnd.amazon.eventstream")


def _not_an_event_stream(response: httpx2.Response) -> None:
    """Raise :class:`NotAnApi` when a streamed request's answer, which sent no event, was not
    an event stream at all: what it was (content type and status) says more than "truncated"."""
    kind = _content_type(response)
    if kind.startswith(_EVENT_STREAMS):
        return
    answer = (f"the API answered with {kind} (HTTP {response.status_code}) at "
              f"{_where(response)}, not an event stream")
    if kind.endswith("json"):  # the API's shape, perhaps: a gateway that does not stream
        raise StreamBroken(answer)
    raise NotAnApi(answer)


def _content_type(response: httpx2.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip() or "no content type"


def _where(response: httpx2.Response) -> str:
    """The request's method and URL, its credentials hidden."""
    try:
        request = response.request
    except RuntimeError:  # a response built without its request
        return "?"
    return f"{request.method} {redact_url(str(request.url))}"


def _shape(answer: object) -> str:
    """What an answer of an unexpected kind was, in a few words (never the whole of it)."""
    if isinstance(answer, str):
        return f"text ({len(answer):,} characters: {answer[:60]!r})" if answer else "an empty body"
    return f"a {type(answer).__name__}"


class _Accumulator:
    """Builds the turn from raw stream events, checking that it is whole (see the module's
    docstring). Tool input is parsed at the end, so that input the model garbled reaches the
    tools as such (and the agent gets an is_error result) instead of failing the whole turn,
    as the SDK's own accumulator does."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.raw_input: dict[int, list[str]] = {}  # joined once: a 10 MB input is no quadratic
        self.stop_reason: str | None = None
        self.usage: dict[str, int] = {}
        self.started = self.stopped = False

    def add(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind != "message_start" and not self.started and kind != "ping":
            raise StreamBroken(f"the stream sent {kind!r} before message_start")
        if kind == "message_start":
            self.started = True
            self._count(_field(event, "message", dict).get("usage"))
        elif kind == "content_block_start":
            block = _field(event, "content_block", dict)
            if not isinstance(block.get("type"), str):
                raise StreamBroken("the stream started a content block without a type")
            self.blocks[_field(event, "index", int)] = dict(block)
        elif kind == "content_block_delta":
            return self._delta(_field(event, "index", int), _field(event, "delta", dict))
        elif kind == "message_delta":
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason is not None:
                self.stop_reason = str(reason)
            self._count(event.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        return None

    def _delta(self, index: int, delta: dict[str, Any]) -> str | None:
        block = self.blocks.get(index)
        if block is None:
            raise StreamBroken(f"the stream sent a delta for block {index}, never started")
        match delta.get("type"):
            case "text_delta":
                text = str(delta.get("text", ""))
                block["text"] = block.get("text", "") + text
                return text
            case "thinking_delta":
                block["thinking"] = block.get("thinking", "") + str(delta.get("thinking", ""))
            case "signature_delta":
                block["signature"] = str(delta.get("signature", ""))
            case "input_json_delta":
                self.raw_input.setdefault(index, []).append(str(delta.get("partial_json", "")))
        return None

    def _count(self, usage: object) -> None:
        """Usage figures are counts: anything else (a negative number, a string) is refused
        rather than allowed to lower what the run has spent."""
        if usage is None:
            return
        if not isinstance(usage, Mapping):
            raise StreamBroken(f"the stream sent usage that is not an object: {usage!r}")
        for name in _USAGE_FIELDS:
            value = usage.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise StreamBroken(f"the stream sent an impossible {name}: {value!r}")
            if value:
                self.usage[name] = value

    def turn(self, request_id: str | None) -> Turn:
        if not self.stopped:
            raise StreamBroken("the stream ended before message_stop (a truncated response)")
        if self.stop_reason is None:
            raise StreamBroken("the stream ended without a stop_reason")
        for index, parts in self.raw_input.items():
            raw = "".join(parts)
            try:
                self.blocks[index]["input"] = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError:
                self.blocks[index]["input"] = {INVALID_INPUT: raw}
        for block in self.blocks.values():
            if block["type"] == "tool_use" and not (
                _nonempty(block.get("id")) and _nonempty(block.get("name"))
            ):
                raise StreamBroken("the stream sent a tool call without an id or a name")
        content = [_keep(self.blocks[i]) for i in sorted(self.blocks)]
        return Turn(content, self.stop_reason, _usage(self.usage), request_id)


_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                 "cache_read_input_tokens")


def _field(event: dict[str, Any], name: str, kind: type) -> Any:
    value = event.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StreamBroken(f"the stream sent {event.get('type')!r} without a valid {name!r}")
    return value


def _nonempty(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _usage(doc: Mapping[str, Any]) -> TokenUsage:
    def count(name: str) -> int:
        value = doc.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    return TokenUsage(count("input_tokens"), count("output_tokens"),
                      count("cache_creation_input_tokens"), count("cache_read_input_tokens"))


def _turn(message: Any, request_id: str | None) -> Turn:
    return Turn(
        [_block(b) for b in message.content],
        message.stop_reason or "end_turn",
        _usage(message.usage.model_dump()),
        request_id,
    )


# The fields each block type takes when sent back; anything else the SDK adds is dropped.
_BLOCK_FIELDS = {
    "text": ("type", "text"),
    "thinking": ("type", "thinking", "signature"),
    "redacted_thinking": ("type", "data"),
    "tool_use": ("type", "id", "name", "input"),
}


def _block(block: Any) -> dict[str, Any]:
    return _keep(block.model_dump(mode="json", exclude_none=True))


def _keep(doc: dict[str, Any]) -> dict[str, Any]:
    keep = _BLOCK_FIELDS.get(doc.get("type", ""))
    return {k: doc[k] for k in keep if k in doc} if keep else doc


class _translated_errors:
    """Turn every way a request can fail on the wire into the errors the agent acts on: the
    SDK's own, httpx2's transport errors (a connection cut or stalled mid-body escapes the SDK
    as such) and a body the SDK could not decode."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> Literal[False]:
        if exc is None or isinstance(exc, ApiUnavailable | ApiRejected | ApiRequestError):
            return False
        if isinstance(exc, anthropic.AnthropicError):
            raise _classify(exc) from exc
        if isinstance(exc, httpx2.TimeoutException):
            raise StreamBroken(f"the answer stalled mid-response: {_describe(exc)}",
                               timed_out=True) from exc
        if isinstance(exc, httpx2.HTTPError | OSError):
            raise StreamBroken(f"the connection failed mid-response: {_describe(exc)}") from exc
        if _is_event_stream_error(exc):  # Bedrock's framing, broken or not there at all
            raise StreamBroken(f"the API sent a malformed event stream: {_describe(exc)}") \
                from exc
        if isinstance(exc, ValueError):  # e.g. event data that is not JSON
            raise StreamBroken(f"the API sent a malformed response: {_describe(exc)}") from exc
        return False


def _is_event_stream_error(error: BaseException) -> bool:
    """Whether ``error`` is botocore's on an AWS event stream it cannot decode (Bedrock only;
    botocore is loaded by then, or the error cannot have come from it)."""
    eventstream = sys.modules.get("botocore.eventstream")
    return eventstream is not None and isinstance(
        error, eventstream.ParserError | eventstream.EventStreamError)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _classify(error: anthropic.AnthropicError) -> Exception:
    if isinstance(error, anthropic.APITimeoutError):
        return ApiUnavailable(f"no answer from the API: {error}", timed_out=True)
    if isinstance(error, anthropic.APIConnectionError):
        return ApiUnavailable(f"cannot reach the API: {in_avo_words(str(error))}")
    if isinstance(error, anthropic.APIStatusError):
        status, detail = error.status_code, _message(error)
        if status == 404:
            url = _where(error.response)
            return ApiNotFound(f"the API has nothing at {url} (HTTP 404): {detail}", url,
                               detail)
        if isinstance(error, anthropic.AuthenticationError | anthropic.PermissionDeniedError) or (
            status == 402
        ):
            return ApiRejected(f"the API refused the key (HTTP {status}): {detail}")
        if status in (400, 404, 413, 422) and _error_type(error) != "overloaded_error":
            return ApiRequestError(f"the API rejected the request (HTTP {status}): {detail}")
        return ApiUnavailable(f"the API is unavailable (HTTP {status}): {detail}",
                              retry_after(error.response.headers))
    return ApiUnavailable(f"API error: {in_avo_words(str(error))}")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for (``retry-after-ms``, else ``retry-after`` in seconds or
    as an HTTP date), or None when it named none it could mean."""
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            value = float(millis) / 1000
        else:
            given = headers.get("retry-after")
            if given is None:
                return None
            try:
                value = float(given)
            except ValueError:
                value = parsedate_to_datetime(given).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None
    return value if value == value and value >= 0 else None  # NaN and the past name nothing


def _error_type(error: anthropic.APIStatusError) -> str | None:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        kind = body["error"].get("type")
        return kind if isinstance(kind, str) else None
    return None


def _message(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", error.message))
    kind = _content_type(error.response)
    if not kind.endswith("json"):  # a proxy's page: what it is, not its markup
        title = _TITLE.search(error.response.text or "")
        heading = f": {' '.join(title.group(1).split())[:120]!r}" if title else ""
        return f"an answer of {kind}, not the API's{heading}"
    return error.message


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
