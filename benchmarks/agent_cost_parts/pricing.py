"""What a request to the Messages API costs, as estimated here: its characters, counted block by
block, as tokens, and a turn's tokens priced."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 3.5


@dataclass
class Turn:
    """One request and what it costs, as estimated here."""

    step: int
    turn: int  # within the step's conversation (0: a one-shot question such as a review)
    request_bytes: int
    prompt: int  # tokens of the whole request
    input: int  # uncached
    cache_write: int
    cache_read: int
    output: int
    usd: float = 0.0


def tokens(chars: int, per_token: float) -> int:
    return math.ceil(chars / per_token) if chars else 0


def block_chars(block: Any) -> int:
    """Characters of one content block (or a tool result's content): its text, its thinking,
    its tool input as JSON; framing and ids are not counted."""
    if isinstance(block, str):
        return len(block)
    if isinstance(block, list):
        return sum(block_chars(b) for b in block)
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        return len(block.get("text", ""))
    if kind == "thinking":
        return len(block.get("thinking", ""))
    if kind == "tool_use":
        return len(block.get("name", "")) + len(json.dumps(block.get("input", {})))
    if kind == "tool_result":
        return block_chars(block.get("content", ""))
    return 0


def request_chars(body: dict[str, Any]) -> tuple[int, int]:
    """(characters of the system prompt and the tools, characters of the messages)."""
    system = body.get("system", "")
    tools = [{k: v for k, v in tool.items() if k != "cache_control"}
             for tool in body.get("tools", [])]
    prefix = block_chars(system) + sum(len(json.dumps(tool)) for tool in tools)
    messages = sum(block_chars(m.get("content")) for m in body.get("messages", []))
    return prefix, messages


def cached(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or [{}]
    last = messages[-1].get("content")
    return isinstance(last, list) and any(
        isinstance(b, dict) and "cache_control" in b for b in last)


def price_of(turn: Turn, prices: dict[str, float]) -> float:
    return (turn.input * prices["input"] + turn.cache_write * prices["cache_write"]
            + turn.cache_read * prices["cache_read"] + turn.output * prices["output"]) / 1e6
