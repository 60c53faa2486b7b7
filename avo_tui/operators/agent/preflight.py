"""First contact: before a run scores its seed or spends anything, the provider (Anthropic's
API, Bedrock, Vertex or a gateway) must answer once, accept the credentials, and accept the
run's settings (model, thinking, effort) and tool schemas.

A mistake found here costs one line and nothing else. Found mid-run, a refused key pauses the
run, and settings the model refuses fail every step the same way; an API that cannot be
reached at all would be waited out for ever. Once a run has worked, outages are waited out
(retry.py); this check is only for the start.
"""

from __future__ import annotations

import time

from ..protocol import OperatorUnavailable
from .api import ApiRejected, ApiRequestError, ApiUnavailable, MessagesApi
from .providers import PROVIDERS
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


def check_api(settings: AgentSettings, api: MessagesApi | None = None) -> int | None:
    """Ask the provider to count the tokens of a request shaped like the run's, or where it
    counts none, to answer the smallest real request (api.py); returns the count, if any. A
    529 or a dropped connection is tried again ``sdk_retries`` times. Whatever happens ends in
    a count, a start, or one line that names the provider, its URL and the reason."""
    title = PROVIDERS[settings.provider].title
    if api is None:
        try:
            api = MessagesApi(settings)
        except OperatorUnavailable:
            raise
        except Exception as error:  # the SDK's own check of its settings
            raise ApiCheckFailed(f"{title}: its client could not be made: "
                                 f"{_describe(error)}") from None
    where = f"{title} at {api.base_url}"
    tries = 0
    while True:
        tries += 1
        try:
            return api.preflight(system="avo-tui preflight: checking the settings",
                                 tools=SCHEMAS)
        except ApiRejected as error:
            raise ApiCheckFailed(f"{where}: {error}; "
                                 f"{PROVIDERS[settings.provider].credentials}") from None
        except ApiRequestError as error:
            model = settings.model if api.model == settings.model else \
                f"{settings.model}, sent as {api.model}"
            raise ApiCheckFailed(
                f"{where} refuses this run's settings (model {model}, thinking "
                f"{settings.thinking}, effort {settings.effort or 'not sent'}, max_tokens "
                f"{settings.max_tokens}): {error}"
            ) from None
        except ApiUnavailable as error:
            if tries > settings.sdk_retries:
                raise ApiCheckFailed(
                    f"{where} did not answer ({error}); a run starts only once it has (later "
                    "outages are waited out)"
                ) from None
            time.sleep(FIRST_WAIT_S * 2 ** (tries - 1))
        except Exception as error:  # credentials the SDK could not find, an answer no check
            raise ApiCheckFailed(  # foresaw: still one line, never a traceback
                f"{where}: the first request failed: {_describe(error)}") from None


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
