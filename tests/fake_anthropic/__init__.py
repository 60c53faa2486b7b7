"""A scripted, recording fake of the Anthropic Messages API for tests that use the real SDK."""

from fake_anthropic.server import (
    ApiError,
    Cut,
    Drop,
    FakeAnthropic,
    RawSSE,
    Recorded,
    Reply,
    Stall,
    Step,
    reply,
    text,
    thinking,
    tool_use,
)

__all__ = [
    "ApiError",
    "Cut",
    "Drop",
    "FakeAnthropic",
    "RawSSE",
    "Recorded",
    "Reply",
    "Stall",
    "Step",
    "reply",
    "text",
    "thinking",
    "tool_use",
]
