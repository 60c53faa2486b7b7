"""How the agent waits out a failing API: the whole retry policy, in one loop with safe points.

- A few quick, silent retries first (``sdk_retries``; QUICK_FIRST_S, doubling, or the server's
  ``retry-after`` when it is short), as the SDK would make, for the odd 529 or dropped
  connection.
- Beyond them, an announced wait that doubles from ``outage_wait_s`` up to
  ``outage_wait_max_s``, for as long as the outage lasts. A longer ``retry-after`` from the
  server lengthens the wait, up to that same cap: an hour's ``retry-after`` waits the cap, and
  never inside a call where nothing can stop the run.
- Every wait is sliced, with a safe point in each slice, so pause and stop act within a
  fraction of a second; the event before each wait says when the next try is.
- A refused key pauses the run until the operator resumes it.
- A stream that arrives broken is dropped and asked for again (the conversation still ends
  at the last complete turn); ``max_broken_streams`` in a row pause the run with the reason,
  since a fault that repeats is not an outage that passes.

A request the API rejects as invalid (``ApiRequestError``) is not retried here: the same
request would fail the same way. It ends the step, and the engine pauses the run when steps
keep failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from ...store import ErrorPayload
from ...store.clip import sentence
from ..protocol import StepContext
from .api import ApiRejected, ApiUnavailable, StreamBroken
from .providers import PROVIDERS
from .settings import AgentSettings

T = TypeVar("T")
WAIT_SLICE_S = 0.25
QUICK_FIRST_S = 0.5
QUICK_LIMIT_S = 8.0  # a quick retry never waits longer; a longer retry-after is announced
MAX_BROKEN_STREAMS = 5


def with_retries(ctx: StepContext, settings: AgentSettings, call: Callable[[], T]) -> T:
    """``call()``, tried until it succeeds, following the policy above."""
    quick = 0
    delay = settings.outage_wait_s
    broken = 0
    while True:
        try:
            return call()
        except ApiUnavailable as error:
            broken = broken + 1 if isinstance(error, StreamBroken) else 0
            if broken >= MAX_BROKEN_STREAMS:
                broken = 0
                ctx.pause(f"{MAX_BROKEN_STREAMS} responses in a row arrived broken (the last: "
                          f"{error}); resume to try again")
                ctx.safe_point()
                continue
            asked = error.retry_after
            if quick < settings.sdk_retries and (asked is None or asked <= QUICK_LIMIT_S):
                wait(ctx, asked if asked is not None else QUICK_FIRST_S * 2**quick)
                quick += 1
                continue
            pause_s = delay if asked is None else min(max(asked, delay), settings.outage_wait_max_s)
            ctx.announce(ErrorPayload(f"{error}; {_next_try(pause_s, asked)}"))
            wait(ctx, pause_s)
            delay = min(delay * 2, settings.outage_wait_max_s)
            quick = 0  # each announced try gets its quick retries again
        except ApiRejected as error:
            ctx.pause(f"{sentence(str(error))} To go on: "
                      f"{PROVIDERS[settings.provider].credentials}, then restart the run, or "
                      "resume to try again")
            ctx.safe_point()


def _next_try(seconds: float, asked: float | None) -> str:
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%H:%M:%S UTC")
    asked_text = f"the API asked for {asked:g} s; " if asked is not None else ""
    return f"{asked_text}retrying in {seconds:g} s (at {at})"


def wait(ctx: StepContext, seconds: float) -> None:
    """Sleep ``seconds`` in slices, with a safe point in each: pause and stop still work."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ctx.safe_point()
        time.sleep(min(WAIT_SLICE_S, left))
    ctx.safe_point()
