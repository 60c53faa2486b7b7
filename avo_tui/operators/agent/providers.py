"""Where Claude is served, and the anthropic SDK client that reaches it: Anthropic's API,
Amazon Bedrock (``anthropic.AnthropicBedrock``), Google Vertex AI (``anthropic.AnthropicVertex``)
or a gateway, an Anthropic-compatible proxy at a URL of its own.

Credentials come from the environment only, never from the settings or the session, and each
provider reads its usual ones (the SDK's own lookups, which the error lines name):

- Anthropic: ``ANTHROPIC_API_KEY`` (``ANTHROPIC_BASE_URL`` moves the endpoint, as in tests).
- Bedrock: the AWS credential chain through boto3 (``AWS_ACCESS_KEY_ID`` and
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, SSO, an instance role), or a Bedrock API key in
  ``AWS_BEARER_TOKEN_BEDROCK``; the region from the settings or ``AWS_REGION``.
- Vertex: Google's application default credentials through google-auth (``gcloud auth
  application-default login``, ``GOOGLE_APPLICATION_CREDENTIALS``, a service account on GCP);
  the location and project from the settings, ``CLOUD_ML_REGION`` and
  ``ANTHROPIC_VERTEX_PROJECT_ID``.
- A gateway: ``ANTHROPIC_AUTH_TOKEN``, else ``ANTHROPIC_API_KEY``, sent as
  ``Authorization: Bearer`` or as ``x-api-key`` (``gateway_auth``), to ``base_url``.

Bedrock's and Vertex's clients need the SDK's extras (boto3 and botocore, google-auth), which
are avo-tui's extras too (``pip install 'avo-tui[bedrock]'``); without them the run stops
with one line that says so, not at the first request.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import anthropic

from ..protocol import OperatorUnavailable
from .settings import KEY_ENV, AgentSettings

TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"

Client = anthropic.Anthropic | anthropic.AnthropicBedrock | anthropic.AnthropicVertex


class ApiKeyMissing(OperatorUnavailable):
    pass


class ProviderUnavailable(OperatorUnavailable):
    """The provider's client cannot be made here: an extra not installed, no region."""


@dataclass(frozen=True)
class Provider:
    title: str
    credentials: str  # where its credentials come from, for the line that says they failed
    count_tokens: bool  # whether its SDK client can count tokens (else: a small real request)
    extra: str = ""  # avo-tui's extra that brings its client's libraries
    modules: tuple[str, ...] = ()  # the modules of that extra


PROVIDERS: dict[str, Provider] = {
    "anthropic": Provider("Anthropic's API", f"set a valid {KEY_ENV}", True),
    # The SDK refuses count_tokens on Bedrock ("not supported in Bedrock yet"), although
    # Bedrock has a CountTokens action of its own.
    "bedrock": Provider(
        "Amazon Bedrock", "check the AWS credentials (AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role, or a Bedrock API key in "
        "AWS_BEARER_TOKEN_BEDROCK) and their access to the model", False, "bedrock",
        ("boto3", "botocore")),
    "vertex": Provider(
        "Google Vertex AI", "check the Google credentials (gcloud auth application-default "
        "login, or GOOGLE_APPLICATION_CREDENTIALS) and the project's access to the model", True,
        "vertex", ("google.auth",)),
    "gateway": Provider("the gateway", f"set a key the gateway takes in {TOKEN_ENV} or "
                        f"{KEY_ENV}, and check gateway_auth", True),
}


# The SDK's names for what avo's settings set, as its errors say them ("Set the `aws_region`
# argument"): a user can set only avo's.
SDK_WORDS = {
    "the `aws_region` argument": "region in [agent]",
    "`aws_region`": "region in [agent]",
    "the `region` argument": "region in [agent]",
    "`region`": "region in [agent]",
    "the `project_id` argument": "project in [agent]",
    "`project_id`": "project in [agent]",
    "the `base_url` argument": "base_url in [agent]",
    "`base_url`": "base_url in [agent]",
    "the `api_key` argument": KEY_ENV,
    "`api_key`": KEY_ENV,
    "the `auth_token` argument": TOKEN_ENV,
    "`auth_token`": TOKEN_ENV,
}


def in_avo_words(message: str) -> str:
    """An SDK error's ``message`` with its argument names replaced by the avo settings (or
    environment variables) that set them."""
    for sdk, avo in SDK_WORDS.items():
        message = message.replace(sdk, avo)
    return message


def api_key() -> str:
    """Anthropic's API key, from the environment."""
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise ApiKeyMissing(
            f"the agent operator needs an API key in {KEY_ENV} (it is read from the "
            "environment only, never stored); without one use --operator tuner, or name "
            "another provider (--provider bedrock|vertex|gateway)"
        )
    return key


def gateway_key() -> str:
    for name in (TOKEN_ENV, KEY_ENV):
        key = os.environ.get(name, "").strip()
        if key:
            return key
    raise ApiKeyMissing(f"the gateway needs a key in {TOKEN_ENV} or {KEY_ENV} (read from the "
                        "environment only, never stored)")


def make_client(settings: AgentSettings, timeout_s: float | None = None) -> Client:
    """The SDK's client for the settings' provider, its own retries off (retry.py retries);
    each request's timeout is ``timeout_s``, else the settings' ``request_timeout_s``."""
    info = PROVIDERS[settings.provider]
    missing = [m for m in info.modules if importlib.util.find_spec(m.split(".")[0]) is None
               or importlib.util.find_spec(m) is None]
    if missing:
        raise ProviderUnavailable(
            f"{info.title} needs the anthropic SDK's {info.extra} extra ({', '.join(missing)} "
            f"not installed): pip install 'avo-tui[{info.extra}]'")
    timeout = timeout_s or settings.request_timeout_s
    base_url = settings.base_url or None
    try:
        if settings.provider == "bedrock":
            return anthropic.AnthropicBedrock(aws_region=settings.region or None,
                                              base_url=base_url, max_retries=0, timeout=timeout)
        if settings.provider == "vertex":
            if not settings.project:  # the SDK would name none in its first request's path
                raise ProviderUnavailable(f"{info.title} needs a project: project in [agent], "
                                          "or ANTHROPIC_VERTEX_PROJECT_ID")
            return anthropic.AnthropicVertex(
                region=settings.region or anthropic.NOT_GIVEN,
                project_id=settings.project or anthropic.NOT_GIVEN,
                base_url=base_url, max_retries=0, timeout=timeout)
    except ValueError as error:  # the SDK's word on a missing region, project or key
        raise ProviderUnavailable(f"{info.title}: {in_avo_words(str(error))}") from None
    if settings.provider == "gateway":
        key = gateway_key()
        if settings.gateway_auth == "x-api-key":
            return anthropic.Anthropic(
                api_key=key, base_url=base_url, max_retries=0, timeout=timeout,
                default_headers={"x-api-key": key, "Authorization": anthropic.omit})  # type: ignore[dict-item]
        return anthropic.Anthropic(auth_token=key, base_url=base_url, max_retries=0,
                                   timeout=timeout)
    return anthropic.Anthropic(api_key=api_key(), base_url=base_url, max_retries=0,
                               timeout=timeout)
