"""The worker's own long work, told to its parent as it goes.

The parent takes a worker silent for the target's silence limit for one whose kernel hangs.
Judging a launch of a wide output whole (the float64 reference, the honest computation on its
inputs and on them moved an ulp, the comparisons) is the worker's own work, not the kernel's:
on an imported KernelBench embedding with tens of millions of outputs it took longer than the
limit on a loaded 2-core machine, and the seed was failed for a timeout (docs/testing.md). No
single call inside it can tell the parent it is alive (a numerics' references are one call),
so a thread does, while the judging runs and for a bounded time: a reference that hangs still
ends in a timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BEAT_EVERY_S = 1.0
# The heartbeat stops after this many silence limits of judging: a reference or honest
# computation still running then is taken for a hang, and the parent's limit ends it.
JUDGING_SILENCES = 20


@contextmanager
def heartbeat(alive: Callable[[], None] | None, silence_s: float | None) -> Iterator[None]:
    """Call ``alive`` every BEAT_EVERY_S from a thread of its own while the block runs, for
    at most JUDGING_SILENCES times ``silence_s`` (no heartbeat without ``alive`` or a limit).
    The block must send nothing to the parent itself: the thread is the only sender while
    it runs, and is joined before the block's caller sends again."""
    if alive is None or not silence_s:
        yield
        return
    beat = alive
    stop = threading.Event()
    beats = int(JUDGING_SILENCES * silence_s / BEAT_EVERY_S)

    def run() -> None:
        for _ in range(beats):
            if stop.wait(BEAT_EVERY_S):
                return
            try:
                beat()
            except OSError:  # the parent is gone: the worker ends with it
                return

    thread = threading.Thread(target=run, name="avo-judging-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
