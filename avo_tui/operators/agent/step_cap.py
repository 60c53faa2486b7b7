"""--max-step-cost as a cap: a step's spend, its end-of-step requests included, never passes
the limit by more than one request's bound.

A request's bound is priced before it is sent: ``max_tokens`` at the output price, and its
input, counted from the request's characters, at the dearer of the input and cache-write
prices (a turn's input may be written to the cache whole). CHARS_PER_TOKEN errs high: JSON,
code and English prose run 3.5 to 4 characters a token. A turn of the conversation is sent
only while the step is under its limit, so the one turn that crosses it costs at most its
bound beyond; a request the step can do without (the debrief, the review before a commit) is
sent only where its whole bound fits under the limit. Each one counts: the step's spend is
every request of the step, the reviews too, not only the conversation's turns.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .settings import AgentSettings

CHARS_PER_TOKEN = 3


def request_chars(*parts: Any) -> int:
    """The characters of a request's system prompt, tools and messages, as they are sent,
    each character past ASCII counted as its six-character escape: a CJK character or an
    emoji may be a token of its own, where three characters a token would price it at a
    third (a kernel's comments, a hint, a tool's output can hold any text)."""
    return len(json.dumps(parts, default=str, ensure_ascii=True))


def request_bound(settings: AgentSettings, chars: int, max_tokens: int | None = None) -> float:
    """The most a request of ``chars`` characters can cost, in US$ (0 for a model the pricing
    table does not know: its spend is not counted either)."""
    price = settings.price()
    if price is None:
        return 0.0
    tokens_in = math.ceil(chars / CHARS_PER_TOKEN)
    tokens_out = max_tokens or settings.max_tokens
    return (tokens_out * price.output + tokens_in * max(price.input, price.cache_write)) / 1e6


def may_send_turn(settings: AgentSettings, spent: float) -> bool:
    """Whether the step may send its next turn: while it is under its limit, or has none."""
    limit = settings.max_step_cost_usd
    return not limit or spent < limit


def fits(settings: AgentSettings, spent: float, bound: float) -> bool:
    """Whether a request the step can do without, of ``bound`` dollars at most, fits whole
    under the step's limit (always, without one)."""
    limit = settings.max_step_cost_usd
    return not limit or spent + bound <= limit
