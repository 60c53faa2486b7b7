"""The status bar's running time, ticking while a run is live.

The engine stores its running time when a step ends, and a step can take minutes: read as
stored, the clock of a live run stood still and the run looked frozen. So the view counts on
from the stored figure by its own clock while the run is running, and takes the stored figure
again whenever a new one is read. A paused run's time does not count (the engine's does not
either), so a resumed run counts on from the moment the view sees it running again."""

from __future__ import annotations

TICKING = frozenset({"running", "stalled"})  # a live run's states in which its time counts


class RunClock:
    def __init__(self) -> None:
        self._stored: float | None = None
        self._since = 0.0  # the view's clock when the stored figure was read, or last not running

    def seconds(self, stored: float, ticking: bool, now: float) -> float:
        """The running time to show at ``now`` (the view's monotonic clock), given the
        ``stored`` figure last read and whether the run is ``ticking``."""
        if not ticking or stored != self._stored:
            self._stored, self._since = stored, now
        return stored + (now - self._since)
