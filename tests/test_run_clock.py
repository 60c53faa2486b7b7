"""The status bar's running time counts on between the engine's saves while the run is live,
and only then (tui/run_clock.py)."""

from __future__ import annotations

from avo_tui.tui.run_clock import RunClock


def test_a_live_run_s_clock_counts_on_from_the_stored_figure() -> None:
    clock = RunClock()
    assert clock.seconds(30.0, True, now=100.0) == 30.0
    assert clock.seconds(30.0, True, now=107.0) == 37.0  # no save within the step: it ticks
    assert clock.seconds(41.0, True, now=112.0) == 41.0  # a step ended: the stored figure


def test_a_paused_run_s_clock_stands_and_counts_on_from_its_resumption() -> None:
    clock = RunClock()
    clock.seconds(30.0, True, now=100.0)
    assert clock.seconds(30.0, False, now=105.0) == 30.0  # paused: its time does not count
    assert clock.seconds(30.0, False, now=500.0) == 30.0
    assert clock.seconds(30.0, True, now=501.0) == 31.0  # resumed a second ago, not 400
