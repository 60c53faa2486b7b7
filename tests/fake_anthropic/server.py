"""A scripted stand-in for the Anthropic Messages API (POST /v1/messages), standard library only,
and for the same API as Amazon Bedrock and Google Vertex AI serve it, on their own paths:

- Bedrock: POST /model/{model}/invoke (JSON) and /model/{model}/invoke-with-response-stream,
  whose body is AWS's binary event stream (``event_stream_message``): each frame carries one SSE
  event's JSON, base64-encoded, as ``{"bytes": ...}``. The request body names neither the model
  nor ``stream``; the record adds both, so tests read every wire alike. Requests are SigV4
  signed: the fake's key is the AWS access key id its credential scope must name.
- Vertex: POST /projects/{project}/locations/{region}/publishers/anthropic/models/
  {model}:streamRawPredict (the same SSE body) or :rawPredict, and models/count-tokens:rawPredict.
  The fake's key is the OAuth access token; POST /token mints it, as Google's token endpoint
  does for the ``token_uri`` of application default credentials.

The real `anthropic` SDK talks to it through `base_url`. Each request consumes one scripted
step; every request is recorded. Behaviours of the SDK (2.12, on httpx2) worth knowing:

- Retry delay: `retry-after-ms` is read first, then `retry-after` (seconds, floats allowed, or
  an HTTP date). The value is used only when it is > 0; `retry-after: 0` (or `-ms: 0`) falls
  back to exponential backoff (0.5 s, 1 s, ... with jitter). So ApiError sends
  `retry-after-ms: 1` by default (a 1 ms wait) unless the step sets `retry-after` or
  `retry-after-ms` itself. Connection errors (Drop) carry no headers, so they always back off.
- Streamed tool input: the SDK parses the accumulated `partial_json` with jiter in partial
  mode after every delta. Truncated JSON is accepted silently and incomplete trailing values
  are dropped (`'{"path": '` and `'{"path": "a'` both give `input == {}`); JSON that is
  broken rather than cut short (`'{"path": }'`) makes iterating the stream raise a plain
  `ValueError` ("Unable to parse tool parameter JSON from model..."), not an `APIError`.
- Authentication: `Anthropic(api_key=...)` sends `authorization: Bearer <key>`, not
  `x-api-key`; the server accepts the key in either header.
- Streamed usage: `message_delta` usage counts are cumulative and overwrite the snapshot's
  (input/cache counts only when present), so both `message_start` and `message_delta` carry
  all four counts here, as the current API does.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import struct
import threading
import urllib.parse
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeAlias

STOP_REASONS = frozenset(
    {"end_turn", "max_tokens", "tool_use", "pause_turn", "refusal", "stop_sequence",
     "model_context_window_exceeded"}
)  # fmt: skip
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
DEFAULT_USAGE = {
    "input_tokens": 100,
    "output_tokens": 50,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}
_RAW_JSON = "_input_json"  # private key on a tool_use block: raw partial_json to stream


@dataclass
class Recorded:
    """One request received by the server."""

    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    wire: str = "messages"  # "messages", "bedrock" or "vertex": the paths it came by

    @property
    def stream(self) -> bool:
        """Whether the request asked for a streamed (SSE) response."""
        return self.body.get("stream") is True

    def texts(self) -> list[str]:
        """Every text string in the request's messages, in order (tool_result text included)."""
        found: list[str] = []
        for message in self.body.get("messages", []):
            _collect_texts(message.get("content"), found)
        return found

    def last_user_message(self) -> dict[str, Any]:
        """The last message with role "user"."""
        for message in reversed(self.body.get("messages", [])):
            if isinstance(message, dict) and message.get("role") == "user":
                return message
        raise AssertionError("request has no user message")

    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block in the last user message."""
        content = self.last_user_message().get("content")
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _collect_texts(content: Any, found: list[str]) -> None:
    """Append the text strings in a message (or tool_result) content to `found`."""
    if isinstance(content, str):
        found.append(content)
        return
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            found.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            _collect_texts(block.get("content"), found)


@dataclass
class Reply:
    """A successful Messages API answer."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, Any]
    model: str | None = None


@dataclass
class ApiError:
    """An HTTP error answer; `type` defaults from the status."""

    status: int
    type: str = ""
    message: str = "fake server error"
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.type:
            self.type = ERROR_TYPES.get(self.status, "api_error")


@dataclass
class Drop:
    """Read the request, then close the connection without answering."""


@dataclass
class Cut:
    """Stream the first `after_events` SSE events of `reply`, then fail as `how` says:
    "drop" closes the connection mid-body, "stall" sends nothing more until the client gives
    up (or the server stops), "end" ends the body cleanly, without the terminating events."""

    reply: Reply
    after_events: int
    how: str = "drop"

    def __post_init__(self) -> None:
        if self.how not in ("drop", "stall", "end"):
            raise ValueError(f"unknown cut {self.how!r}")


@dataclass
class RawSSE:
    """A 200 event stream of exactly these events: a dict is sent as `event: <type>` with its
    JSON as data; a string is sent verbatim (so it can be malformed SSE)."""

    events: list[str | bytes | dict[str, Any]]


@dataclass
class Stall:
    """Wait `seconds` before answering with `then` (default: a short end_turn text reply)."""

    seconds: float
    then: Step | None = None


@dataclass
class RawBody:
    """An answer (200 unless ``status`` says) of exactly these bytes with this content type (a
    stream asked for and JSON sent, an empty body, HTML from a proxy, its 404 page ...)."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200


Step: TypeAlias = (
    "Reply | ApiError | Drop | Stall | Cut | RawSSE | RawBody | Callable[[Recorded], Step]"
)


def event_stream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message of AWS's binary event-stream framing: a prelude (total length and headers
    length, big-endian uint32), the prelude's CRC32, the headers (name length uint8, name, type
    7 = string, value length uint16, value), the payload, and the CRC32 of all before it."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode()))
        + value.encode() for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock_chunk(event: dict[str, Any]) -> bytes:
    """A Bedrock response-stream chunk carrying one Messages API event."""
    data = base64.b64encode(json.dumps(event).encode()).decode()
    return event_stream_message(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
        json.dumps({"bytes": data}).encode())


def bedrock_exception(kind: str, message: str) -> bytes:
    """An exception frame of a Bedrock response stream (throttlingException ...)."""
    return event_stream_message(
        {":exception-type": kind, ":content-type": "application/json",
         ":message-type": "exception"}, json.dumps({"message": message}).encode())


_BEDROCK_ROUTE = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<action>invoke|invoke-with-response-stream)$")
_VERTEX_ROUTE = re.compile(
    r"^/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/models/"
    r"(?P<model>[^/:]+):(?P<action>rawPredict|streamRawPredict)$")


def text(s: str) -> dict[str, Any]:
    """A text content block."""
    return {"type": "text", "text": s}


def thinking(s: str, signature: str = "sig") -> dict[str, Any]:
    """A thinking content block."""
    return {"type": "thinking", "thinking": s, "signature": signature}


def tool_use(
    name: str,
    input: dict[str, Any] | None = None,
    id: str | None = None,
    *,
    input_json: str | None = None,
) -> dict[str, Any]:
    """A tool_use block; `id` None means an auto id (toolu_001, ...) assigned when served.

    `input` is sent as is (never validated). `input_json` instead streams that raw string as
    the partial_json (see the module docstring for what the SDK makes of broken JSON); a
    non-streaming request gets its parsed value, or a 400 when it is not valid JSON.
    """
    block: dict[str, Any] = {"type": "tool_use", "id": id, "name": name, "input": input or {}}
    if input_json is not None:
        block[_RAW_JSON] = input_json
    return block


def reply(
    *blocks: dict[str, Any],
    stop_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str | None = None,
) -> Reply:
    """A reply step; stop_reason defaults to tool_use when a block is tool_use, else end_turn."""
    if stop_reason is None:
        has_tool = any(b.get("type") == "tool_use" for b in blocks)
        stop_reason = "tool_use" if has_tool else "end_turn"
    if stop_reason not in STOP_REASONS:
        raise ValueError(f"unknown stop_reason {stop_reason!r}")
    return Reply(list(blocks), stop_reason, {**DEFAULT_USAGE, **(usage or {})}, model)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold up server_close()
    fake: FakeAnthropic


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    wire = "messages"  # of the request being answered (Recorded.wire)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_POST(self) -> None:
        """Record the request and answer it with the next scripted step."""
        self.close_connection = True  # one request per connection keeps shutdown simple
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        route = self.path.split("?")[0]
        bedrock, vertex = _BEDROCK_ROUTE.match(route), _VERTEX_ROUTE.match(route)
        self.wire = "bedrock" if bedrock else "vertex" if vertex else "messages"
        if route == "/token":
            with self.server.fake._cond:
                self.server.fake.token_requests += 1
            self._send_json(200, {"access_token": self.server.fake.api_key, "expires_in": 3600,
                                  "token_type": "Bearer"})
            return
        if route == "/v1/messages/count_tokens" or (vertex and vertex["model"] == "count-tokens"):
            self._count_tokens(self._record(raw))
            return
        if not (route == "/v1/messages" or bedrock or vertex):
            self._send_error(ApiError(404, message=f"fake server: no route {self.path}"))
            return
        record = self._record(raw)
        if bedrock:
            record.body["model"] = urllib.parse.unquote(bedrock["model"])
            record.body["stream"] = bedrock["action"] == "invoke-with-response-stream"
        elif vertex:
            record.body["model"] = urllib.parse.unquote(vertex["model"])
        # A client that gave up (e.g. timed out) has closed the socket already.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(self.server.fake._take(record), record)

    def _record(self, raw: bytes) -> Recorded:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Recorded(self.path, headers, body if isinstance(body, dict) else {}, self.wire)

    def _count_tokens(self, record: Recorded) -> None:
        """The preflight route: answered by `fake.count_tokens` (a token count by default),
        recorded apart from the scripted conversation so it consumes no step."""
        fake = self.server.fake
        with fake._cond:
            fake.count_requests.append(record)
        answer = fake._authorized(record) or fake.count_tokens
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if answer is None:
                self._send_json(200, {"input_tokens": 1234})
            else:
                self._answer(answer, record)

    def _answer(self, step: Step, record: Recorded) -> None:
        """Carry out one step."""
        fake = self.server.fake
        try:
            while callable(step):
                step = step(record)
        except Exception as error:  # a failing callable step must not look like a network fault
            step = ApiError(400, message=f"fake server: scripted step raised {error!r}")
        if isinstance(step, Stall):
            if fake._stopping.wait(step.seconds):
                return  # shutting down: drop the connection
            self._answer(step.then or reply(text("ok")), record)
        elif isinstance(step, Drop):
            return
        elif isinstance(step, ApiError):
            self._send_error(step)
        elif isinstance(step, Reply):
            self._send_reply(step, record)
        elif isinstance(step, Cut):
            self._send_reply(step.reply, record, cut=step)
        elif isinstance(step, RawSSE):
            self._start_stream()
            for event in step.events:
                self._write_event(event)
            self._end_stream()
        elif isinstance(step, RawBody):
            self._start(step.status, step.content_type, len(step.body))
            self.end_headers()
            self.wfile.write(step.body)
            self.wfile.flush()
        else:
            self._send_error(ApiError(400, message=f"fake server: not a step: {step!r}"))

    def _start(self, status: int, content_type: str, length: int | None = None) -> None:
        """Send the status line and common headers (the caller ends them)."""
        self.send_response(status, "Overloaded" if status == 529 else None)
        self.send_header("content-type", content_type)
        self.send_header("request-id", self.server.fake._new_id("req_fake_"))
        self.send_header("connection", "close")
        if length is not None:
            self.send_header("content-length", str(length))

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self._start(status, "application/json", len(data))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, error: ApiError) -> None:
        headers = dict(error.headers or {})
        if not {"retry-after", "retry-after-ms"} & {k.lower() for k in headers}:
            headers["retry-after-ms"] = "1"  # makes the SDK retry after 1 ms
        body: dict[str, Any] = {"type": "error",
                                "error": {"type": error.type, "message": error.message}}
        if self.wire == "bedrock":  # AWS's shape: the type in a header
            headers["x-amzn-errortype"] = f"{error.type}:http://internal.amazon.com/"
            body = {"message": error.message}
        self._send_json(error.status, body, headers)

    def _start_stream(self) -> None:
        """Chunked, as the real API streams: a body cut short is then a protocol error to the
        client, not a clean end."""
        bedrock = self.wire == "bedrock"
        self._start(200, "application/vnd.amazon.eventstream" if bedrock else "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _write_event(self, event: str | bytes | dict[str, Any]) -> None:
        """One event: SSE, or on Bedrock's paths an event-stream frame; a string (or bytes)
        goes out verbatim, however malformed."""
        if isinstance(event, bytes):
            data = event
        elif isinstance(event, str):
            data = event.encode()
        elif self.wire == "bedrock":
            data = bedrock_chunk(event)
        else:
            data = f"event: {event.get('type')}\ndata: {json.dumps(event)}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_reply(self, step: Reply, record: Recorded, cut: Cut | None = None) -> None:
        fake = self.server.fake
        blocks = [dict(b) for b in step.content]
        raws: dict[int, str] = {}
        for i, block in enumerate(blocks):
            if block.get("type") == "tool_use" and block.get("id") is None:
                block["id"] = f"toolu_{fake._next_tool_id():03d}"
            if _RAW_JSON in block:
                raws[i] = block.pop(_RAW_JSON)
                try:
                    block["input"] = json.loads(raws[i])
                except ValueError:
                    if not record.stream:
                        msg = "fake server: input_json that is not valid JSON needs stream=true"
                        self._send_error(ApiError(400, message=msg))
                        return
        message = {
            "id": fake._new_id("msg_fake_"),
            "type": "message",
            "role": "assistant",
            "model": step.model or record.body.get("model", "claude-fake"),
            "content": blocks,
            "stop_reason": step.stop_reason,
            "stop_sequence": None,
            "usage": step.usage,
        }
        if not record.stream:
            self._send_json(200, message)
            return
        self._start_stream()
        for sent, event in enumerate(_sse_events(message, raws)):
            if cut is not None and sent == cut.after_events:
                if cut.how == "stall":
                    fake._stopping.wait()
                elif cut.how == "end":
                    self._end_stream()
                return  # "drop": the connection closes without the body's last chunk
            if event["type"] == "message_stop" and self.wire == "bedrock":
                event = {**event, "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": step.usage.get("input_tokens", 0),
                    "outputTokenCount": step.usage.get("output_tokens", 0)}}
            self._write_event(event)
        self._end_stream()


def _halves(s: str) -> list[str]:
    """Split a string into two chunks (one when it is too short)."""
    mid = len(s) // 2
    return [s[:mid], s[mid:]] if mid else [s]


def _sse_events(message: dict[str, Any], raws: dict[int, str]) -> Iterator[dict[str, Any]]:
    """The SSE events (their data; the event name is data["type"]) the real API sends."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    yield {"type": "message_start", "message": start}
    yield {"type": "ping"}
    for i, block in enumerate(message["content"]):
        kind = block.get("type")
        first: dict[str, Any]
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            first = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": c} for c in _halves(block["text"])]
        elif kind == "thinking":
            first = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": c} for c in _halves(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            first = {**block, "input": {}}
            partial = raws.get(i, json.dumps(block["input"]))
            deltas = [{"type": "input_json_delta", "partial_json": c} for c in _halves(partial)]
        else:
            first = block  # e.g. redacted_thinking: sent whole
        yield {"type": "content_block_start", "index": i, "content_block": first}
        for delta in deltas:
            yield {"type": "content_block_delta", "index": i, "delta": delta}
        yield {"type": "content_block_stop", "index": i}
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield {"type": "message_delta", "delta": delta, "usage": usage}
    yield {"type": "message_stop"}


class FakeAnthropic:
    """A local Messages API server that plays scripted steps and records every request."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.url = ""
        self.requests: list[Recorded] = []
        self.count_requests: list[Recorded] = []  # the preflight's, apart from the script
        self.count_tokens: Step | None = None  # its answer; None: a token count
        self.token_requests = 0  # OAuth tokens minted (Vertex's credentials, POST /token)
        self._steps: deque[Step] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._tool_ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def script(self, *steps: Step) -> None:
        """Append steps to the queue; each request consumes one."""
        with self._cond:
            self._steps.extend(steps)

    @property
    def remaining(self) -> int:
        """Steps not yet consumed."""
        with self._cond:
            return len(self._steps)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        """Block until at least `n` requests were received, else raise AssertionError."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")

    def start(self) -> FakeAnthropic:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled handlers give up at once."""
        self._stopping.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take(self, record: Recorded) -> Step:
        """Record a request and pick its step (auth failures and an empty script consume none)."""
        with self._cond:
            self.requests.append(record)
            self._cond.notify_all()
            refused = self._authorized(record)
            if refused:
                return refused
            if not self._steps:
                return ApiError(400, message="fake server: no scripted reply left")
            return self._steps.popleft()

    def _authorized(self, record: Recorded) -> ApiError | None:
        """None when the request carries the key (as x-api-key, a bearer token, or the access
        key id of a SigV4 signature), else the 401 the real API sends."""
        key, bearer = record.headers.get("x-api-key"), record.headers.get("authorization")
        signed = f"AWS4-HMAC-SHA256 Credential={self.api_key}/"
        if self.api_key != key and f"Bearer {self.api_key}" != bearer and not (
                bearer or "").startswith(signed):
            return ApiError(401 if record.wire != "bedrock" else 403,
                            message="invalid x-api-key")
        return None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    def _next_tool_id(self) -> int:
        return next(self._tool_ids)
