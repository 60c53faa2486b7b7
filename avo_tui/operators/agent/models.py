"""What each known Claude model accepts: its context window, its output limit, its thinking
modes and its effort levels. The settings are checked against it (settings.py), so a run on a
model that cannot serve them fails with one line when it starts, not with an HTTP 400 on every
step of a run left alone for the night.

Figures from Anthropic's model pages and its adaptive-thinking and effort pages
(platform.claude.com/docs: models/<model>/overview, build-with-claude/adaptive-thinking,
build-with-claude/effort), and the Bedrock and Vertex model cards, as read in late 2026. Where
sources disagreed, the comment on the entry says which one was followed.

A model the table does not know (a newer one, or a name of a gateway's own) is checked only by
the generic rules: the table never blocks a model it has not heard of.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# In increasing order of what a response may spend. "xhigh" came with Opus 4.7.
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")

_ALL = EFFORT_LEVELS
_NO_XHIGH = ("low", "medium", "high", "max")
_NO_MAX = ("low", "medium", "high")


@dataclass(frozen=True)
class ModelLimits:
    name: str  # the family, as in the model ID without a date
    context_window: int  # input tokens, without a beta header
    max_output: int  # the largest max_tokens the API accepts
    adaptive: bool  # thinking {"type": "adaptive"}
    budget: bool  # thinking {"type": "enabled", "budget_tokens": N}
    efforts: tuple[str, ...]  # output_config.effort levels; () when effort is not accepted


KNOWN_MODELS: tuple[ModelLimits, ...] = (
    # Adaptive thinking only: a budget is answered with HTTP 400.
    ModelLimits("claude-opus-4-8", 1_000_000, 128_000, True, False, _ALL),
    ModelLimits("claude-opus-4-7", 1_000_000, 128_000, True, False, _ALL),
    # Budgets still accepted but deprecated; "max" yes, "xhigh" no.
    ModelLimits("claude-opus-4-6", 1_000_000, 128_000, True, True, _NO_XHIGH),
    # Output: early pages and gateways said 64K; Anthropic's model page says 128K, and so does
    # a client library that corrected its cap to what the API accepts. 128K is followed: a
    # figure too high lets the API refuse the steps, one too low refuses a valid setting here.
    ModelLimits("claude-sonnet-4-6", 1_000_000, 128_000, True, True, _NO_XHIGH),
    # Effort began here, without "max"; no adaptive thinking before the 4.6 models.
    ModelLimits("claude-opus-4-5", 200_000, 64_000, False, True, _NO_MAX),
    # 1M of context only with a beta header, which this project does not send.
    ModelLimits("claude-sonnet-4-5", 200_000, 64_000, False, True, ()),
    ModelLimits("claude-haiku-4-5", 200_000, 64_000, False, True, ()),
    ModelLimits("claude-opus-4-1", 200_000, 32_000, False, True, ()),
    ModelLimits("claude-opus-4-0", 200_000, 32_000, False, True, ()),
    ModelLimits("claude-sonnet-4-0", 200_000, 64_000, False, True, ()),
)

# The 4.0 models' dated IDs have no minor number: claude-opus-4-20250514.
_ALIASES = {"claude-opus-4": "claude-opus-4-0", "claude-sonnet-4": "claude-sonnet-4-0"}
_DATED = re.compile(r"^(?P<family>.+?)(?:-(?P<date>\d{8}))?$")


def model_limits(model: str) -> ModelLimits | None:
    """The entry for ``model`` (an alias such as ``claude-opus-4-7``, or a dated ID such as
    ``claude-haiku-4-5-20251001``), or None for a model the table does not know. Matched by
    the whole family name, never by a prefix: ``claude-opus-4-9`` is not ``claude-opus-4``."""
    match = _DATED.match(model.strip().lower())
    if match is None:
        return None
    family = _ALIASES.get(match["family"], match["family"])
    return next((m for m in KNOWN_MODELS if m.name == family), None)


def check_model(
    model: str, *, max_tokens: int, context_window: int, thinking: str, effort: str
) -> list[str]:
    """What ``model`` cannot serve among these settings, one phrase each, naming the model and
    its limit; empty when all is well or when the model is not in the table."""
    limits = model_limits(model)
    if limits is None:
        return []
    name = limits.name
    problems = []
    if max_tokens > limits.max_output:
        problems.append(f"max_tokens {max_tokens} is above {name}'s output limit "
                        f"({limits.max_output})")
    if context_window > limits.context_window:
        problems.append(f"context_window {context_window} is above {name}'s context window "
                        f"({limits.context_window})")
    if thinking == "adaptive" and not limits.adaptive:
        problems.append(f"{name} has no adaptive thinking: set thinking to a budget in tokens "
                        "(e.g. 16000) or 'off'")
    if thinking.isdigit() and not limits.budget:
        problems.append(f"{name} takes no thinking budget (thinking {thinking}): set thinking "
                        "to 'adaptive' or 'off'")
    if effort and not limits.efforts:
        problems.append(f"{name} takes no effort (effort {effort!r}): set effort to '' "
                        "(--effort none), so none is sent")
    elif effort in EFFORT_LEVELS and effort not in limits.efforts:
        problems.append(f"{name} has no effort {effort!r} (it takes "
                        f"{', '.join(limits.efforts)})")
    return problems
