"""Progress lines for the benchmarks' evaluations: the worker's (stage, detail) callbacks as
lines on stderr, so a long evaluation is never silent."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

# The longest an evaluation goes without a line on stderr: a backward's full grid took more
# than 500 s on an H200 with nothing printed until it ended.
PROGRESS_EVERY_S = 10.0


def progress_lines(what: str, now: Callable[[], float] = time.monotonic,
                   say: Callable[[str], object] = lambda line: print(line, file=sys.stderr,
                                                                     flush=True),
                   ) -> Callable[[str, str], None]:
    """The worker's progress (stage, detail) of one evaluation of ``what`` as lines, the first
    at once and then at most one every PROGRESS_EVERY_S, each with the seconds since it
    began."""
    start, last = now(), [-PROGRESS_EVERY_S]

    def on_progress(stage: str, detail: str) -> None:
        elapsed = now() - start
        if elapsed - last[0] >= PROGRESS_EVERY_S:
            last[0] = elapsed
            say(f"#   {what}, {elapsed:.0f} s: {stage}: {detail}")
    return on_progress
