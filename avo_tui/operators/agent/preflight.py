"""First contact: before a run scores its seed or spends anything, the provider (Anthropic's
API, Bedrock, Vertex or a gateway) must answer once, accept the credentials, and accept the
run's settings (model, thinking, effort) and tool schemas.

A mistake found here costs one line and nothing else. Found mid-run, a refused key pauses the
run, and settings the model refuses fail every step the same way; an API that cannot be
reached at all would be waited out for ever. Once a run has worked, outages are waited out
(retry.py); this check is only for the start.

Its requests get ``first_contact_timeout_s``, not a turn's far longer ``request_timeout_s``:
a hanging endpoint is one line within that, naming what to check, and is not tried again. A
404, an answer that is not the API's (a login page) and a URL's credentials are each named for
what they are: the URL tried (redacted), the content type and status, never the run's settings.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable

from ..protocol import OperatorUnavailable
from .api import (
    ApiNotFound,
    ApiRejected,
    ApiRequestError,
    ApiUnavailable,
    MessagesApi,
    NotAnApi,
)
from .providers import PROVIDERS, in_avo_words
from .settings import AgentSettings
from .tool_schemas import SCHEMAS

FIRST_WAIT_S = 0.5


MAX_LINE_CHARS = 600  # of the line: a server's message may run to megabytes


class ApiCheckFailed(OperatorUnavailable):
    """The API cannot serve this run; the message says why in one line, whatever the server
    put in its own message (line breaks, megabytes)."""

    def __init__(self, message: str) -> None:
        line = " ".join(message.split())
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS - 1] + "…"
        super().__init__(line)


def check_api(settings: AgentSettings, api: MessagesApi | None = None, *,
              say: Callable[[str], None] | None = None) -> int | None:
    """Ask the provider to count the tokens of a request shaped like the run's, or where it
    counts none, to answer the smallest real request (api.py); returns the count, if any. A
    529 or a dropped connection is tried again ``sdk_retries`` times; no answer within
    ``first_contact_timeout_s`` is not. ``say`` gets the "contacting ..." line first. Whatever
    happens ends in a count, a start, or one line that names the provider, its URL (its
    credentials hidden) and the reason."""
    title = PROVIDERS[settings.provider].title
    timeout = settings.first_contact_timeout_s
    if api is None:
        try:
            api = MessagesApi(settings, timeout_s=timeout)
        except OperatorUnavailable:
            raise
        except Exception as error:  # the SDK's own check of its settings
            raise ApiCheckFailed(f"{title}: its client could not be made: "
                                 f"{_describe(error)}") from None
    where = f"{title} at {api.base_url}"
    if say is not None:
        say(f"contacting {where} (an answer is expected within {timeout:g} s) ...")
    tries = 0
    while True:
        tries += 1
        try:
            return api.preflight(system="avo-tui preflight: checking the settings",
                                 tools=SCHEMAS)
        except ApiRejected as error:
            raise ApiCheckFailed(f"{where}: {error}; "
                                 f"{PROVIDERS[settings.provider].credentials}") from None
        except ApiNotFound as error:
            if not _about_the_model(error.detail, settings, api):
                raise ApiCheckFailed(
                    f"{where} has nothing at {error.url} (HTTP 404: {error.detail}): check "
                    f"base_url{_base_url_hint(api.base_url, settings.provider)}") from None
            raise ApiCheckFailed(f"{where} does not serve the model {_model(settings, api)} "
                                 f"(HTTP 404): {error.detail}") from None
        except ApiRequestError as error:
            raise ApiCheckFailed(
                f"{where} refuses this run's settings (model {_model(settings, api)}, thinking "
                f"{settings.thinking}, effort {settings.effort or 'not sent'}, max_tokens "
                f"{settings.max_tokens}): {error}"
            ) from None
        except NotAnApi as error:
            raise ApiCheckFailed(
                f"{where} is not the Messages API: {error}; check base_url (a login page or a "
                "proxy answers there?)") from None
        except ApiUnavailable as error:
            if error.timed_out:
                raise ApiCheckFailed(
                    f"{where} gave no answer within {timeout:g} s ({error}): check base_url "
                    f"(or ANTHROPIC_BASE_URL), a proxy (HTTPS_PROXY) or a firewall on the way; "
                    "a slow gateway may get longer with first_contact_timeout_s in [agent]"
                ) from None
            if tries > settings.sdk_retries:
                raise ApiCheckFailed(
                    f"{where} did not answer ({error}); a run starts only once it has (later "
                    "outages are waited out)"
                ) from None
            time.sleep(FIRST_WAIT_S * 2 ** (tries - 1))
        except Exception as error:  # credentials the SDK could not find, an answer no check
            raise ApiCheckFailed(  # foresaw: still one line, never a traceback
                f"{where}: the first request failed: {_describe(error)}") from None


def _model(settings: AgentSettings, api: MessagesApi) -> str:
    return settings.model if api.model == settings.model else \
        f"{settings.model}, sent as {api.model}"


def _about_the_model(detail: str, settings: AgentSettings, api: MessagesApi) -> bool:
    """Whether a 404's message is the API's word on the model (Anthropic's: "model: NAME"),
    not on the path."""
    lowered = detail.lower()
    return lowered.startswith("model") or settings.model.lower() in lowered or \
        api.model.lower() in lowered


def _base_url_hint(base_url: str, provider: str) -> str:
    """What to try: the SDK adds /v1/messages to base_url, so one that ends in /v1 asks for
    /v1/v1/messages."""
    if provider in ("bedrock", "vertex"):
        return " (or leave it out, for the provider's own endpoint)"
    parts = urllib.parse.urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        bare = urllib.parse.urlunsplit(parts._replace(path=path[:-3] + "/"))
        return f" (the SDK adds /v1/messages to it): did you mean {bare} without /v1?"
    return (" (the SDK adds /v1/messages to it): it is the URL under which the gateway "
            "serves /v1/messages")


def _describe(error: BaseException) -> str:
    text = in_avo_words(" ".join(str(error).split()))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
