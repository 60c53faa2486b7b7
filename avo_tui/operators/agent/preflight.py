"""First contact: before a run scores its seed or spends anything, the API must answer once,
accept the key, and accept the run's settings (model, thinking, effort) and tool schemas.

A mistake found here costs one line and nothing else. Found mid-run, a refused key pauses the
run, and settings the model refuses fail every step the same way; an API that cannot be
reached at all would be waited out for ever. Once a run has worked, outages are waited out
(retry.py); this check is only for the start.
"""

from __future__ import annotations

import time

from ..protocol import OperatorUnavailable
from .api import ApiRejected, ApiRequestError, ApiUnavailable, MessagesApi
from .settings import AgentSettings
from .tools import SCHEMAS

FIRST_WAIT_S = 0.5


class ApiCheckFailed(OperatorUnavailable):
    """The API cannot serve this run; the message says why in one line."""


def check_api(settings: AgentSettings, api: MessagesApi | None = None) -> int:
    """Ask the API to count the tokens of a request shaped like the run's; returns the
    count. A 529 or a dropped connection is tried again ``sdk_retries`` times."""
    api = api or MessagesApi(settings)
    tries = 0
    while True:
        tries += 1
        try:
            return api.preflight(system="avo-tui preflight: checking the settings",
                                 tools=SCHEMAS)
        except ApiRejected as error:
            raise ApiCheckFailed(f"{error}; set a valid ANTHROPIC_API_KEY") from None
        except ApiRequestError as error:
            raise ApiCheckFailed(
                f"the API refuses this run's settings (model {settings.model}, thinking "
                f"{settings.thinking}, effort {settings.effort or 'not sent'}, max_tokens "
                f"{settings.max_tokens}): {error}"
            ) from None
        except ApiUnavailable as error:
            if tries > settings.sdk_retries:
                raise ApiCheckFailed(
                    f"the API at {api.base_url} did not answer ({error}); a run starts only "
                    "once it has (later outages are waited out)"
                ) from None
            time.sleep(FIRST_WAIT_S * 2 ** (tries - 1))
