"""The agent's settings: model, output, thinking and effort, step bounds, retry pacing, prices.

They come from the settings file (``$AVO_SETTINGS``, else ``~/.config/avo/settings.toml``,
table ``[agent]``), then from ``avo run`` flags, and are stored with the session so a resumed
run keeps them. The API key is never among them: it comes from ``ANTHROPIC_API_KEY`` only.

They are checked against what the model accepts (models.py) when they are made, so settings a
known model would refuse never reach a request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ...settings_file import SettingsFileError, read_table, settings_path
from ..protocol import OperatorUnavailable
from .models import EFFORT_LEVELS, check_model

DEFAULT_MODEL = "claude-opus-4-7"
# Effort (output_config.effort) bounds what every response spends, thinking, text and tool
# calls alike: with adaptive thinking it is the main control of cost. "high" is what
# claude-opus-4-7 does when none is sent, and the level Anthropic's effort page names for
# difficult coding and agentic tasks; it is sent anyway, so the session records the level it
# ran at whatever a model's own default (Claude Opus 5.5's is medium). A multi-day run is paid
# per output token, so the default stops there: xhigh and max spend more on every step and
# are the operator's choice (--effort); medium and low save at the price of the hard
# reasoning a kernel needs.
DEFAULT_EFFORT = "high"


class SettingsError(OperatorUnavailable):
    pass


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float  # five-minute cache writes
    cache_read: float


# Published list prices per model family (per MTok) as of late 2026; a [agent.pricing."model"]
# table in the settings file overrides them, matched by the longest prefix of the model name.
DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-0": Price(15.0, 75.0, 18.75, 1.5),
    "claude-opus-4-1": Price(15.0, 75.0, 18.75, 1.5),
    "claude-opus": Price(5.0, 25.0, 6.25, 0.5),
    "claude-sonnet": Price(3.0, 15.0, 3.75, 0.3),
    "claude-haiku": Price(1.0, 5.0, 1.25, 0.1),
}


@dataclass(frozen=True)
class TokenUsage:
    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input + other.input,
            self.output + other.output,
            self.cache_write + other.cache_write,
            self.cache_read + other.cache_read,
        )

    def to_doc(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class AgentSettings:
    model: str = DEFAULT_MODEL
    max_tokens: int = 32000  # per response
    thinking: str = "adaptive"  # "adaptive", "off", or a budget in tokens ("16000")
    effort: str = DEFAULT_EFFORT  # low, medium, high, xhigh, max; "" sends none
    max_turns: int = 60  # API calls in one step
    context_window: int = 200_000
    wrap_up_at: float = 0.6  # fraction of the window: ask the agent to finish the step
    end_at: float = 0.8  # fraction of the window: end the step
    request_timeout_s: float = 600.0
    sdk_retries: int = 2  # the SDK's own quick retries (429, 5xx, connection)
    outage_wait_s: float = 30.0  # then our waits: 30 s, 60 s ... up to outage_wait_max_s
    outage_wait_max_s: float = 900.0
    max_tool_output: int = 16_000  # characters returned by one tool call
    max_write_bytes: int = 512_000
    debrief: bool = True  # one more turn at a step's end: its lesson and the running summary
    review_commits: bool = False  # a separate review call with thinking before each commit
    pricing: dict[str, Price] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.max_tokens < 1:
            problems.append("max_tokens must be positive")
        if self.thinking not in ("adaptive", "off") and not (
            self.thinking.isdigit() and 1024 <= int(self.thinking) < self.max_tokens
        ):
            problems.append(
                f"thinking must be 'adaptive', 'off' or a token budget from 1024 to below "
                f"max_tokens ({self.max_tokens}); got {self.thinking!r}"
            )
        if self.effort not in ("", *EFFORT_LEVELS):
            problems.append(f"effort must be one of {', '.join(EFFORT_LEVELS)}, or '' to send "
                            f"none; got {self.effort!r}")
        if not 0 < self.wrap_up_at < self.end_at <= 1:
            problems.append("need 0 < wrap_up_at < end_at <= 1")
        # A model the table does not know (a newer one) gets the checks above only.
        problems += check_model(self.model, max_tokens=self.max_tokens,
                                context_window=self.context_window, thinking=self.thinking,
                                effort=self.effort)
        if problems:
            raise SettingsError("agent settings: " + "; ".join(problems))

    def price(self) -> Price | None:
        prices = DEFAULT_PRICES | self.pricing
        prefixes = [p for p in prices if self.model.startswith(p)]
        return prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, usage: TokenUsage) -> float:
        price = self.price()
        if price is None:
            return 0.0
        return (
            usage.input * price.input
            + usage.output * price.output
            + usage.cache_write * price.cache_write
            + usage.cache_read * price.cache_read
        ) / 1e6

    def thinking_param(self) -> dict[str, Any] | None:
        if self.thinking == "off":
            return None
        if self.thinking == "adaptive":
            return {"type": "adaptive"}
        return {"type": "enabled", "budget_tokens": int(self.thinking)}

    def output_config(self) -> dict[str, Any] | None:
        return {"effort": self.effort} if self.effort else None

    def override(self, **values: Any) -> AgentSettings:
        given = {k: v for k, v in values.items() if v is not None}
        if "thinking" in given:
            given["thinking"] = str(given["thinking"])
        return replace(self, **given)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["pricing"] = {model: asdict(price) for model, price in self.pricing.items()}
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> AgentSettings:
        values = dict(doc or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"unknown agent setting(s): {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        try:
            values["pricing"] = {
                model: Price(**price) for model, price in values.get("pricing", {}).items()
            }
            if "thinking" in values:
                values["thinking"] = str(values["thinking"])
            return cls(**values)
        except TypeError as error:
            raise SettingsError(f"agent settings: {error}") from None


def load_settings(path: Path | None = None) -> AgentSettings:
    """The ``[agent]`` table of the settings file; defaults when there is no file."""
    try:
        table = read_table("agent", path)
    except SettingsFileError as error:
        raise SettingsError(str(error)) from None
    try:
        return AgentSettings.from_doc(table)
    except SettingsError as error:
        raise SettingsError(f"{path or settings_path()}: {error}") from None
