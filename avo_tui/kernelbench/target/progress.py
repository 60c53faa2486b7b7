"""What an import is doing, told on stderr, and the limit on how long it may take.

Most problems import in seconds; a recurrent network builds slowly even on the meta device (a GRU of
512 steps and 6 layers: seconds a build, every step's operations dispatched one by one), and an
import builds the problem dozens of times. The quiet is counted from the command's own start, so its
torch import is part of it. So an import is never silent for long: once it has taken QUIET_S
seconds, each phase is told as it starts, and a phase that goes on is told again at least every
QUIET_S seconds, by the builds it has done (``tick``) or, where one build is long, by a heartbeat
(BEAT_S apart). A quick import tells nothing. Past its limit the import stops with one line that
names the phase and how long its builds took.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from ..problem.problem_module import ImportRefused


class TimeUp(BaseException):
    """The import's limit passed: raised at a build, through every ``except Exception`` that
    a failed build is caught by (a KeyboardInterrupt's way), and refused where the import
    started (Progress.watched)."""


# The longest an import goes without a line on stderr, give or take a beat: under 10 s with
# the command's own start (its torch import) before the first phase.
QUIET_S = 6.0
BEAT_S = 1.0
LIMIT_S = 300.0


class Progress:
    """The import's phases, told on ``stream`` (None: nothing told), and its limit of
    ``limit_s`` seconds; ``clock`` is the time in seconds (monotonic), ``name`` the
    problem's file name its refusal starts with."""

    def __init__(self, stream: TextIO | None = None, limit_s: float = LIMIT_S,
                 clock: Callable[[], float] = time.monotonic, name: str = "",
                 beat_s: float | None = BEAT_S, started: float | None = None) -> None:
        self.stream = stream
        self.beat_s = beat_s  # None: no heartbeat (the builds' ticks alone)
        self.limit_s = limit_s
        self.clock = clock
        self.name = name
        # the command's own start where it gives one (before it imported torch): the user
        # has waited since then
        self.started = clock() if started is None else started
        self.phase_name = "reading the problem"
        self.phase_started = self.started
        self.builds = 0
        self.counted = True  # the phase's work is builds of the problem
        self.told = self.started
        self.expired = False
        self._refused = threading.Event()  # the main thread has its TimeUp: no more signals
        self._lock = threading.Lock()

    def phase(self, words: str, counted: bool = True) -> None:
        """A new phase begins, told at once where the import has already been long;
        ``counted``: its work is builds of the problem (ticks), not something else (the seed
        timed)."""
        with self._lock:
            self.phase_name, self.phase_started, self.builds = words, self.clock(), 0
            self.counted = counted
            if self.phase_started - self.started >= QUIET_S:
                self._say(words)

    def tick(self) -> None:
        """One build of the problem (or one run of its forward) is about to start: past the
        limit, stop; after QUIET_S without a line, say how far the phase has come."""
        now = self.clock()
        with self._lock:
            if now - self.started > self.limit_s:
                self.expired = True
                self._refused.set()
                raise TimeUp(self.refusal())
            if now - self.told >= QUIET_S:
                self._say(f"still {self.phase_name}: {self.builds} builds of the problem in "
                          f"{now - self.phase_started:.0f} s")
            self.builds += 1

    def beat(self) -> bool:
        """The heartbeat's turn: say the phase goes on where nothing was told for QUIET_S
        (one build taking long), and whether the limit has passed."""
        now = self.clock()
        with self._lock:
            if now - self.told >= QUIET_S:
                into = f"{now - self.phase_started:.0f} s into it"
                self._say(f"stopping at the limit: waiting for the call under way to return "
                          f"({self.phase_name})" if self.expired else
                          f"still {self.phase_name}: build {max(self.builds, 1)} of the "
                          f"problem under way, {into}" if self.counted else
                          f"still {self.phase_name}, {into}")
        return now - self.started > self.limit_s

    def refusal(self) -> str:
        """The one line an import stopped at its limit ends with."""
        spent = self.clock() - self.phase_started
        each = f", {spent / self.builds:.1f} s each" if self.builds else ""
        return (f"{self.name}: stopped at the limit of {self.limit_s:.0f} s while "
                f"{self.phase_name} ({self.builds} builds of the problem in {spent:.0f} s"
                f"{each}); --limit SECONDS allows longer")

    def _say(self, words: str) -> None:
        self.told = self.clock()
        if self.stream is not None:
            elapsed = self.told - self.started
            print(f"avo targets import: {words} [{elapsed:.0f} s]", file=self.stream,
                  flush=True)

    @contextmanager
    def watched(self) -> Iterator[None]:
        """Run the import with a heartbeat beside it: a line at least every QUIET_S while one
        build is long, and past the limit the import is interrupted (where it runs in the
        main thread, as the command does) and refused in one line."""
        stop, refused = threading.Event(), self._refused
        main = threading.current_thread() is threading.main_thread()
        beat_s = self.beat_s

        def heartbeat() -> None:
            while beat_s is not None and not stop.wait(beat_s):
                if self.beat() and main:
                    with self._lock:
                        if refused.is_set() or stop.is_set():
                            continue  # told on, while the main thread finishes its call
                        self.expired = True
                    # A real signal, not _thread.interrupt_main(): that waits for the
                    # interpreter, so a blocking wait (a compiler's, a child's) ran on for 85 s
                    # past the limit; a signal ends such a wait with EINTR. Sent every beat
                    # until it is taken: one that lands just before the wait begins ends
                    # nothing (a read blocked for 120 s so, in a loaded suite).
                    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

        def interrupted(signum: int, frame: object) -> None:
            if not self.expired:
                raise KeyboardInterrupt  # the user's Ctrl-C
            if not refused.is_set():
                refused.set()
                raise TimeUp(self.refusal())
            # a repeat that came before the heartbeat saw the first taken: already refused

        previous = signal.signal(signal.SIGINT, interrupted) if main else None
        thread = threading.Thread(target=heartbeat, name="import-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        except TimeUp as up:
            raise ImportRefused(str(up)) from None
        finally:
            stop.set()
            thread.join()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
