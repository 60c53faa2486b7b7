"""The one module that talks to the anthropic SDK (2.x): streamed turns, one-shot questions,
and the SDK's errors sorted by what the run should do about them.

The SDK reads ``ANTHROPIC_BASE_URL`` itself, which is how tests reach a local server; the key
comes from ``ANTHROPIC_API_KEY`` and nowhere else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic

from ..protocol import OperatorUnavailable
from .settings import AgentSettings, TokenUsage

KEY_ENV = "ANTHROPIC_API_KEY"
INVALID_INPUT = "__invalid_json__"  # the key under which unparseable tool input is kept


class ApiKeyMissing(OperatorUnavailable):
    pass


class ApiUnavailable(RuntimeError):
    """Overloaded, rate-limited, down or unreachable, after the SDK's own retries: wait."""


class ApiRejected(RuntimeError):
    """The key was refused (invalid, revoked, no permission or credit): a person must act."""


class ApiRequestError(RuntimeError):
    """The API refused this request (too long, malformed): the step ends, the run goes on."""


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


def api_key() -> str:
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise ApiKeyMissing(
            f"the agent operator needs an API key in {KEY_ENV} (it is read from the "
            "environment only, never stored); without one use --operator tuner"
        )
    return key


class MessagesApi:
    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._client = anthropic.Anthropic(
            api_key=api_key(),
            max_retries=settings.sdk_retries,
            timeout=settings.request_timeout_s,
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def stream(
        self,
        *,
        system: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
    ) -> Turn:
        """One streamed assistant turn."""
        options: dict[str, Any] = {}
        thinking = self.settings.thinking_param()
        if thinking:
            options["thinking"] = thinking
        with _translated_errors():
            events = self._client.messages.create(
                model=self.settings.model,
                max_tokens=self.settings.max_tokens,
                system=system,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                **options,
            )
            with events:
                reply = _Accumulator()
                for event in events:
                    text = reply.add(event.model_dump(mode="json", exclude_none=True))
                    if text and on_text:
                        on_text(text)
                return reply.turn(events.response.headers.get("request-id"))

    def ask(self, *, system: str, prompt: str, max_tokens: int = 4000) -> Turn:
        """A one-shot question without tools (the supervisor's review)."""
        with _translated_errors():
            response = self._client.messages.create(
                model=self.settings.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
            )
            return _turn(response, getattr(response, "_request_id", None))


class _Accumulator:
    """Builds the turn from raw stream events. Tool input is parsed here, at the end, so
    that input the model garbled reaches the tools as such (and the agent gets an is_error
    result) instead of failing the whole turn, as the SDK's own accumulator does."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.raw_input: dict[int, str] = {}
        self.stop_reason = "end_turn"
        self.usage: dict[str, int] = {}

    def add(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "message_start":
            self.usage.update(event["message"].get("usage") or {})
        elif kind == "content_block_start":
            self.blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            block, delta = self.blocks[event["index"]], event["delta"]
            match delta.get("type"):
                case "text_delta":
                    block["text"] = block.get("text", "") + delta["text"]
                    return delta["text"]
                case "thinking_delta":
                    block["thinking"] = block.get("thinking", "") + delta["thinking"]
                case "signature_delta":
                    block["signature"] = delta["signature"]
                case "input_json_delta":
                    index = event["index"]
                    self.raw_input[index] = self.raw_input.get(index, "") + delta["partial_json"]
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v})
        return None

    def turn(self, request_id: str | None) -> Turn:
        for index, raw in self.raw_input.items():
            try:
                self.blocks[index]["input"] = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError:
                self.blocks[index]["input"] = {INVALID_INPUT: raw}
        content = [_keep(self.blocks[i]) for i in sorted(self.blocks)]
        return Turn(content, self.stop_reason, _usage(self.usage), request_id)


def _usage(doc: dict[str, Any]) -> TokenUsage:
    return TokenUsage(
        doc.get("input_tokens") or 0,
        doc.get("output_tokens") or 0,
        doc.get("cache_creation_input_tokens") or 0,
        doc.get("cache_read_input_tokens") or 0,
    )


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
    """Turn the SDK's exceptions into the three the agent acts on."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        if exc is None or not isinstance(exc, anthropic.AnthropicError):
            return False
        raise _classify(exc) from exc


def _classify(error: anthropic.AnthropicError) -> Exception:
    if isinstance(error, anthropic.APIConnectionError):  # includes timeouts
        return ApiUnavailable(f"cannot reach the API: {error}")
    if isinstance(error, anthropic.APIStatusError):
        status, detail = error.status_code, _message(error)
        if isinstance(error, anthropic.AuthenticationError | anthropic.PermissionDeniedError) or (
            status == 402
        ):
            return ApiRejected(f"the API refused the key (HTTP {status}): {detail}")
        if status in (400, 404, 413, 422) and _error_type(error) != "overloaded_error":
            return ApiRequestError(f"the API rejected the request (HTTP {status}): {detail}")
        return ApiUnavailable(f"the API is unavailable (HTTP {status}): {detail}")
    return ApiUnavailable(f"API error: {error}")


def _error_type(error: anthropic.APIStatusError) -> str | None:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("type")
    return None


def _message(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", error.message))
    return error.message
