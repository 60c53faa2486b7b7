"""The step's conversation as it goes over the wire and is kept (agent.py): the cache
breakpoints on the tools and the last turn, a refused tool input's stand-in, a tool output
cut to its limit, and the checks a saved conversation passes before it is sent on."""

from __future__ import annotations

import copy
from typing import Any

from .settings import TokenUsage
from .tool_schemas import schemas_for

CACHE = {"type": "ephemeral"}
# A string of a refused tool input longer than this leaves the conversation (the stand-in).
MAX_REFUSED_CHARS = 1_000


def usage(doc: object) -> TokenUsage:
    """The usage a saved conversation kept; nothing where it kept none."""
    items = doc.items() if isinstance(doc, dict) else ()
    return TokenUsage(**{k: int(v) for k, v in items if k in TokenUsage.__dataclass_fields__})


def is_conversation(messages: object) -> bool:
    """Whether ``messages`` can be sent on: turns that alternate, the user's first."""
    if not isinstance(messages, list) or not messages:
        return False
    return all(
        isinstance(m, dict) and isinstance(m.get("content"), list)
        and m.get("role") == ("user" if i % 2 == 0 else "assistant")
        for i, m in enumerate(messages)
    )


def stand_in(value: Any, tool: str) -> Any:
    """``value`` (a tool input) with every string longer than MAX_REFUSED_CHARS replaced by
    a line that says what it was; ``value`` itself when there is none."""
    if isinstance(value, str) and len(value) > MAX_REFUSED_CHARS:
        return (f"[{len(value):,} characters, refused by {tool} and left out of the "
                "conversation; the tool result says why]")
    if isinstance(value, dict):
        kept = {stand_in(k, tool): stand_in(v, tool) for k, v in value.items()}
        same = len(kept) == len(value) and all(kept.get(k) is v for k, v in value.items())
        return value if same else kept
    if isinstance(value, list):
        items = [stand_in(v, tool) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def cached_tools(device: str) -> list[dict[str, Any]]:
    tools = copy.deepcopy(schemas_for(device))
    tools[-1]["cache_control"] = CACHE
    return tools


def cached_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with a cache breakpoint on its last block, so the next turn reads the
    whole prefix from the cache."""
    marked = copy.deepcopy(messages)
    for block in reversed(marked[-1]["content"]):
        if block.get("type") not in ("thinking", "redacted_thinking"):
            block["cache_control"] = CACHE
            break
    return marked


def clip_output(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit // 2]
    tail = text[-limit // 2:]
    return (f"{head}\n... [{len(text) - limit:,} characters cut: view a file by line ranges "
            f"(view_range), as the brief outlines it] ...\n{tail}")
