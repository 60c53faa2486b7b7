"""The status bar's running time, ticking while a run is live.

The engine stores its running time when a step ends and when the run's status changes, and a
step can take minutes: read as stored, the clock of a live run stood still and the run looked
frozen. So the view counts on while the run is running: from the moment the engine says its
figure was counted (``Usage.counted_at``), so that the clock is the run's own, the same in
every view whenever it attached; a session stored before that moment was kept counts on from
when the view read the figure. A paused run's time does not count (the engine's does not
either). The clock never goes back (issue 87: counted from the view's own reading, it went
back on a pause and jumped at each step's end)."""

from __future__ import annotations

TICKING = frozenset({"running", "stalled"})  # a live run's states in which its time counts


class RunClock:
    def __init__(self) -> None:
        self._stored: float | None = None
        self._since = 0.0  # the view's clock when the stored figure was read, or last not running
        self._shown = 0.0

    def seconds(self, stored: float, counted_at: float | None, ticking: bool,
                now: float) -> float:
        """The running time to show at ``now`` (time.time()), given the ``stored`` figure
        last read, when the run counted it (None: not said), and whether the run is
        ``ticking``."""
        if not ticking or stored != self._stored:
            self._stored, self._since = stored, now
        since = counted_at if counted_at is not None else self._since
        value = stored + max(0.0, now - since) if ticking else stored
        self._shown = max(self._shown, value)
        return self._shown
