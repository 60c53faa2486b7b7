"""The status bar's running time counts on between the engine's saves while the run is live,
and only then (tui/run_clock.py); it is the run's own, counted from when the run stored its
figure, and never goes back (issue 87: after attaching mid-step or a pause it restarted from
the last stored figure, then jumped at the next step's end: -29 s, +41 s, +73 s)."""

from __future__ import annotations

from avo_tui.tui.run_clock import RunClock


def test_a_live_run_s_clock_counts_on_from_the_stored_figure() -> None:
    clock = RunClock()
    assert clock.seconds(30.0, None, True, now=100.0) == 30.0
    assert clock.seconds(30.0, None, True, now=107.0) == 37.0  # no save within the step
    assert clock.seconds(41.0, None, True, now=112.0) == 41.0  # a step ended: the stored figure


def test_a_paused_run_s_clock_stands_and_counts_on_from_its_resumption() -> None:
    clock = RunClock()
    clock.seconds(30.0, None, True, now=100.0)
    assert clock.seconds(30.0, None, False, now=105.0) == 30.0  # paused: its time does not count
    assert clock.seconds(30.0, None, False, now=500.0) == 30.0
    assert clock.seconds(30.0, None, True, now=501.0) == 31.0  # resumed a second ago, not 400


def test_a_view_attached_mid_step_shows_the_run_s_own_time() -> None:
    """The run counted 30 s at t=1000; a view attaching at t=1029 shows 59 s, not 30, and the
    step's end (61 s counted at t=1031) is no jump."""
    clock = RunClock()
    assert clock.seconds(30.0, 1000.0, True, now=1029.0) == 59.0
    assert clock.seconds(30.0, 1000.0, True, now=1030.0) == 60.0
    assert clock.seconds(61.0, 1031.0, True, now=1031.5) == 61.5


def test_the_clock_never_goes_back() -> None:
    """A pause stores the time counted up to it; a view a little ahead (another clock, a late
    read) stands rather than going back, and counts on once the run is past it again."""
    clock = RunClock()
    assert clock.seconds(30.0, 1000.0, True, now=1010.0) == 40.0
    assert clock.seconds(39.5, 1009.5, False, now=1011.0) == 40.0  # paused at 39.5: no -0.5
    assert clock.seconds(39.5, 1100.0, True, now=1100.2) == 40.0  # resumed: stands ...
    assert clock.seconds(39.5, 1100.0, True, now=1101.5) == 41.0  # ... then counts on
