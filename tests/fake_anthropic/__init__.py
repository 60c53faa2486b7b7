"""A scripted, recording fake of the Anthropic Messages API for tests that use the real SDK."""

from fake_anthropic.server import (
    ApiError,
    Drop,
    FakeAnthropic,
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
    "Drop",
    "FakeAnthropic",
    "Recorded",
    "Reply",
    "Stall",
    "Step",
    "reply",
    "text",
    "thinking",
    "tool_use",
]
