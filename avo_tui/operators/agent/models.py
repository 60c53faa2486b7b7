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

Each entry also names the model on Amazon Bedrock and Google Vertex AI, where it has another ID
(``anthropic.claude-sonnet-4-5-20250929-v1:0``, ``claude-sonnet-4-5@20250929``). A session keeps
the Anthropic name, so its checks and prices stay the same wherever it runs; the request carries
the provider's ID (:func:`provider_model_id`). A provider's own ID (or a Bedrock inference
profile's ARN) given as the model is sent as it is, and still found in the table.
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
    bedrock: str = ""  # Bedrock's model ID without "anthropic." and an inference-profile prefix
    vertex: str = ""  # Vertex AI's model ID
    # Served on the providers' global endpoints, with a premium on their regional ones: the
    # models from Sonnet 4.5 on (Anthropic's Bedrock and Vertex pages, late 2026).
    global_endpoint: bool = False


KNOWN_MODELS: tuple[ModelLimits, ...] = (
    # Adaptive thinking only: a budget is answered with HTTP 400. The Bedrock and Vertex IDs of
    # 4.7 and 4.8 follow 4.6's (no date, no version suffix) and are not checked against the
    # services: give the provider's ID as the model where they differ.
    ModelLimits("claude-opus-4-8", 1_000_000, 128_000, True, False, _ALL,
                "claude-opus-4-8", "claude-opus-4-8", True),
    ModelLimits("claude-opus-4-7", 1_000_000, 128_000, True, False, _ALL,
                "claude-opus-4-7", "claude-opus-4-7", True),
    # Budgets still accepted but deprecated; "max" yes, "xhigh" no.
    ModelLimits("claude-opus-4-6", 1_000_000, 128_000, True, True, _NO_XHIGH,
                "claude-opus-4-6-v1", "claude-opus-4-6", True),
    # Output: early pages and gateways said 64K; Anthropic's model page says 128K, and so does
    # a client library that corrected its cap to what the API accepts. 128K is followed: a
    # figure too high lets the API refuse the steps, one too low refuses a valid setting here.
    ModelLimits("claude-sonnet-4-6", 1_000_000, 128_000, True, True, _NO_XHIGH,
                "claude-sonnet-4-6", "claude-sonnet-4-6", True),
    # Effort began here, without "max"; no adaptive thinking before the 4.6 models.
    ModelLimits("claude-opus-4-5", 200_000, 64_000, False, True, _NO_MAX,
                "claude-opus-4-5-20251101-v1:0", "claude-opus-4-5@20251101", True),
    # 1M of context only with a beta header, which this project does not send.
    ModelLimits("claude-sonnet-4-5", 200_000, 64_000, False, True, (),
                "claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929", True),
    ModelLimits("claude-haiku-4-5", 200_000, 64_000, False, True, (),
                "claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5@20251001", True),
    ModelLimits("claude-opus-4-1", 200_000, 32_000, False, True, (),
                "claude-opus-4-1-20250805-v1:0", "claude-opus-4-1@20250805"),
    ModelLimits("claude-opus-4-0", 200_000, 32_000, False, True, (),
                "claude-opus-4-20250514-v1:0", "claude-opus-4@20250514"),
    ModelLimits("claude-sonnet-4-0", 200_000, 64_000, False, True, (),
                "claude-sonnet-4-20250514-v1:0", "claude-sonnet-4@20250514"),
)

# The 4.0 models' dated IDs have no minor number: claude-opus-4-20250514.
_ALIASES = {"claude-opus-4": "claude-opus-4-0", "claude-sonnet-4": "claude-sonnet-4-0"}
_DATED = re.compile(r"^(?P<family>.+?)(?:-(?P<date>\d{8}))?$")


# A provider's dressing around the family name: Bedrock's inference-profile prefix (us., eu.,
# apac., global. ...), its "anthropic." and version suffix (-v1:0), a Bedrock ARN's path, and
# Vertex's @date.
_BEDROCK = re.compile(r"^(?:.*/)?(?:[a-z]{2,6}\.)?anthropic\.(?P<model>.+?)(?:-v\d+(?::\d+)?)?$")
_VERTEX_DATE = re.compile(r"@\d{8}$")


def canonical_model(model: str) -> str:
    """The Anthropic name of ``model`` when it is a provider's ID of a model the table knows
    (``us.anthropic.claude-opus-4-1-20250805-v1:0`` is ``claude-opus-4-1``), else ``model``."""
    name = model.strip().lower()
    bedrock = _BEDROCK.match(name)
    if bedrock:
        name = bedrock["model"]
    name = _VERTEX_DATE.sub("", name)
    limits = _lookup(name)
    return limits.name if limits is not None else model


def model_limits(model: str) -> ModelLimits | None:
    """The entry for ``model`` (an alias such as ``claude-opus-4-7``, a dated ID such as
    ``claude-haiku-4-5-20251001``, or a Bedrock or Vertex ID of one), or None for a model the
    table does not know. Matched by the whole family name, never by a prefix:
    ``claude-opus-4-9`` is not ``claude-opus-4``."""
    return _lookup(canonical_model(model).strip().lower())


def _lookup(name: str) -> ModelLimits | None:
    match = _DATED.match(name)
    if match is None:
        return None
    family = _ALIASES.get(match["family"], match["family"])
    return next((m for m in KNOWN_MODELS if m.name == family), None)


# Bedrock's geographic inference profiles, by the region's prefix. A model without a global
# profile (those before Sonnet 4.5) is served on demand only through one of them.
_GEOGRAPHIES = {"us": "us", "ca": "us", "eu": "eu", "ap": "apac"}


def provider_model_id(model: str, provider: str, region: str = "") -> str:
    """The ID a request to ``provider`` names ``model`` by. An Anthropic name the table knows
    becomes Bedrock's inference profile (global where the model has one, else the region's
    geography) or Vertex's ID; anything else (a provider's own ID, an ARN, a model the table
    does not know, a gateway's name) is sent as it is."""
    limits = _lookup(model.strip().lower())
    if limits is None:
        return model
    if provider == "bedrock" and limits.bedrock:
        geography = _GEOGRAPHIES.get(region.split("-")[0], "")
        prefix = "global." if limits.global_endpoint else f"{geography}." if geography else ""
        return f"{prefix}anthropic.{limits.bedrock}"
    if provider == "vertex" and limits.vertex:
        return limits.vertex
    return model


REGIONAL_PREMIUM = 1.1  # over the global endpoint's prices (Anthropic's pages, late 2026)


def regional_premium(model: str, provider: str, region: str) -> float:
    """The factor on list prices where a model is served by a regional endpoint that costs
    more than the global one: Vertex outside ``global``, a Bedrock geographic profile."""
    limits = model_limits(model)
    if limits is None or not limits.global_endpoint:
        return 1.0
    if provider == "vertex":
        return REGIONAL_PREMIUM if region and region != "global" else 1.0
    if provider == "bedrock":
        sent = provider_model_id(model, provider, region).lower().rsplit("/", 1)[-1]
        profile = sent.partition("anthropic.")[0]  # "us.", "global.", or "" in the region
        return REGIONAL_PREMIUM if profile and profile != "global." else 1.0
    return 1.0


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
