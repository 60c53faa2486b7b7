"""The agent's settings: model, output, thinking and effort, step bounds, retry pacing, prices.

They come from the settings file (``$AVO_SETTINGS``, else ``~/.config/avo-tui/settings.toml``,
table ``[agent]``), then from ``avo run`` flags, and are stored with the session so a resumed
run keeps them. No key or credential is ever among them: they come from the environment only
(providers.py says which variables each provider reads).

They are checked against what the model accepts (models.py) when they are made, so settings a
known model would refuse never reach a request.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ...settings_file import SettingsFileError, read_table, settings_path
from ..protocol import OperatorUnavailable
from .models import EFFORT_LEVELS, canonical_model, check_model, regional_premium

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


# Where Claude is served (providers.py): Anthropic's API, Amazon Bedrock, Google Vertex AI, or a
# gateway (an Anthropic-compatible proxy at base_url).
PROVIDERS = ("anthropic", "bedrock", "vertex", "gateway")
KEY_ENV = "ANTHROPIC_API_KEY"  # Anthropic's API key (providers.py reads the others)
GATEWAY_AUTH = ("bearer", "x-api-key")  # the header a gateway takes its key in
# Where a provider's region and project are read when the settings name none, so the session
# records where it ran (and its prices, which differ by endpoint). The SDK reads the same ones.
REGION_ENV = {"bedrock": ("AWS_REGION", "AWS_DEFAULT_REGION"), "vertex": ("CLOUD_ML_REGION",)}
PROJECT_ENV = ("ANTHROPIC_VERTEX_PROJECT_ID",)
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
HIDDEN = "***"  # what stands for a URL's user, password or query wherever it is stored or shown

# Published list prices per model family (per MTok) as of late 2026; a [agent.pricing."model"]
# table in the settings file overrides them, matched by the longest prefix of the model name
# (a provider's ID counts as the Anthropic name it maps to). Bedrock and Vertex list the same
# prices on their global endpoints and a premium on regional ones (models.regional_premium),
# applied here; a table named for one provider ("bedrock/claude-opus") is taken as it is, for
# a contract's own prices.
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
    # --max-step-cost: a cap on a step's dollars, passed by one request's bound at most
    # (step_cap.py); None: steps are bounded by turns and tokens alone.
    max_step_cost_usd: float | None = None
    context_window: int = 200_000
    wrap_up_at: float = 0.6  # fraction of the window: ask the agent to finish the step
    end_at: float = 0.8  # fraction of the window: end the step
    request_timeout_s: float = 600.0
    # The first contact's (preflight.py): a hanging endpoint is named in seconds, not after
    # three times request_timeout_s; a turn, which may think for minutes, gets the long one.
    first_contact_timeout_s: float = 20.0
    sdk_retries: int = 2  # the SDK's own quick retries (429, 5xx, connection)
    outage_wait_s: float = 30.0  # then our waits: 30 s, 60 s ... up to outage_wait_max_s
    outage_wait_max_s: float = 900.0
    max_tool_output: int = 16_000  # characters returned by one tool call
    max_write_bytes: int = 512_000
    debrief: bool = True  # one more turn at a step's end: its lesson and the running summary
    review_commits: bool = False  # a separate review call with thinking before each commit
    pricing: dict[str, Price] = field(default_factory=dict)
    provider: str = "anthropic"  # anthropic, bedrock, vertex or gateway (providers.py)
    base_url: str = ""  # a gateway's URL (or ANTHROPIC_BASE_URL); for the others, their default
    region: str = ""  # Bedrock's AWS region, Vertex's location ("global", "us-east5" ...)
    project: str = ""  # Vertex's Google Cloud project
    gateway_auth: str = "bearer"  # a gateway's key as "Authorization: Bearer", or "x-api-key"

    def __post_init__(self) -> None:
        if not self.region:
            object.__setattr__(self, "region", _from_env(REGION_ENV.get(self.provider, ())))
        if self.provider == "vertex" and not self.project:
            object.__setattr__(self, "project", _from_env(PROJECT_ENV))
        if self.provider == "gateway" and not self.base_url:
            object.__setattr__(self, "base_url", _from_env((BASE_URL_ENV,)))
        problems = []
        if HIDDEN in urllib.parse.urlsplit(self.base_url).netloc:
            restored = _with_credentials(self.base_url)
            if restored:
                object.__setattr__(self, "base_url", restored)
            else:
                problems.append(
                    f"base_url {self.base_url}: its user and password are never stored with the "
                    f"session; give the whole URL again in {BASE_URL_ENV} or base_url in [agent]")
        url = self.base_url or (_from_env((BASE_URL_ENV,)) if self.provider == "anthropic"
                                else "")
        if urllib.parse.urlsplit(url).query or "#" in url:
            problems.append(
                f"base_url must not carry a query string ({redact_url(url)}): it would be "
                f"stored with the session and mangled into the path; give the key in "
                f"{KEY_ENV} (or ANTHROPIC_AUTH_TOKEN for a gateway, with gateway_auth = "
                f"'x-api-key' or 'bearer' naming the header it goes in)")
        if self.provider == "gateway" and not self.base_url:
            problems.append("a gateway needs its URL: base_url in [agent], or ANTHROPIC_BASE_URL")
        if self.provider not in PROVIDERS:
            problems.append(f"provider must be one of {', '.join(PROVIDERS)}; got "
                            f"{self.provider!r}")
        if self.gateway_auth not in GATEWAY_AUTH:
            problems.append(f"gateway_auth must be one of {', '.join(GATEWAY_AUTH)}; got "
                            f"{self.gateway_auth!r}")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            problems.append("base_url must be an http:// or https:// URL; got "
                            f"{redact_url(self.base_url)!r}")
        if not self.first_contact_timeout_s > 0:
            problems.append("first_contact_timeout_s must be positive")
        if self.max_tokens < 1:
            problems.append("max_tokens must be positive")
        if self.max_step_cost_usd is not None and not (
                isinstance(self.max_step_cost_usd, int | float) and self.max_step_cost_usd > 0):
            problems.append(f"max_step_cost_usd must be a positive number of dollars; got "
                            f"{self.max_step_cost_usd!r}")
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
        """US$ per million tokens here: the provider's own table if the settings give one, else
        the model's list price with the provider's regional premium; None when unknown."""
        names = (canonical_model(self.model), self.model)
        own = _longest_prefix(self.pricing, tuple(f"{self.provider}/{n}" for n in names))
        if own is not None:
            return own
        price = _longest_prefix(DEFAULT_PRICES | self.pricing, names)
        if price is None:
            return None
        factor = regional_premium(self.model, self.provider, self.region)
        if factor == 1.0:
            return price
        return Price(price.input * factor, price.output * factor, price.cache_write * factor,
                     price.cache_read * factor)

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
        doc["base_url"] = redact_url(self.base_url)  # a URL's credentials are never stored
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


def _from_env(names: tuple[str, ...]) -> str:
    return next((value for name in names if (value := os.environ.get(name, "").strip())), "")


def redact_url(url: str) -> str:
    """``url`` with its user, password and query string (where gateways' keys hide) replaced
    by ``***``: how a URL is stored and shown."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rpartition('@')[2]}"
    query = HIDDEN if parts.query else ""
    fragment = HIDDEN if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _with_credentials(stored: str) -> str:
    """The whole URL whose redaction a session stored (``https://***@host/``), from where it
    came the first time: ``ANTHROPIC_BASE_URL`` or the settings file's base_url; "" if neither
    is that URL."""
    candidates = [_from_env((BASE_URL_ENV,))]
    with contextlib.suppress(SettingsFileError):  # the session's own stored URL says why
        candidates.append(str(read_table("agent").get("base_url", "")))
    return next((url for url in candidates if url and HIDDEN not in url
                 and redact_url(url) == stored), "")


def _longest_prefix(prices: dict[str, Price], names: tuple[str, ...]) -> Price | None:
    prefixes = [p for p in prices if any(name.startswith(p) for name in names)]
    return prices[max(prefixes, key=len)] if prefixes else None


def agent_default(provider: str | None) -> str:
    """Why the agent is a new session's default operator, "" when it is not: a provider other
    than Anthropic's API named by the flag or the settings file (its credentials are checked
    before the run), or ``ANTHROPIC_API_KEY`` set. A settings file that does not read leaves
    the choice to the key (the run that uses the agent reports the file's fault)."""
    if provider is None:
        try:
            provider = load_settings().provider
        except SettingsError:
            provider = "anthropic"
    if provider != "anthropic":
        return f"through {provider}"
    return f"{KEY_ENV} is set" if os.environ.get(KEY_ENV, "").strip() else ""


def provider_label(meta: object) -> str:
    """Where a session's agent runs, from its stored settings (``meta.settings.agent``), for the
    status bar and ``avo sessions show``: "" for Anthropic's API (the default, left unsaid),
    else e.g. ``bedrock us-east-1``. Anything unreadable (a damaged or older session) is ""."""
    settings = meta.get("settings") if isinstance(meta, dict) else None
    doc = settings.get("agent") if isinstance(settings, dict) else None
    if not isinstance(doc, dict) or doc.get("provider") in (None, "anthropic"):
        return ""
    provider = str(doc.get("provider"))
    place = doc.get("base_url") if provider == "gateway" else doc.get("region")
    if not isinstance(place, str):
        return provider
    return f"{provider} {redact_url(place) if provider == 'gateway' else place}".strip()


def step_cost_limit(meta: object) -> float | None:
    """A session's --max-step-cost as its stored settings give it (``meta.settings.agent``),
    for the status bar; None where none is set or it does not read."""
    settings = meta.get("settings") if isinstance(meta, dict) else None
    doc = settings.get("agent") if isinstance(settings, dict) else None
    limit = doc.get("max_step_cost_usd") if isinstance(doc, dict) else None
    return float(limit) if isinstance(limit, int | float) and limit > 0 else None


def with_provider(operator: str, meta: object) -> str:
    """``operator`` (as shown: ``agent``, ``agent,tuner``), followed by where the agent runs
    when that is not Anthropic's API: ``agent via bedrock us-east-1``."""
    where = provider_label(meta)
    return f"{operator} via {where}" if where and "agent" in operator else operator


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
