"""benchmarks/power_blocks.py's arithmetic (issue 70, item 2), on made-up launch times: where a
switch has settled, a block's mean past its settling, and an A B B A set's gain, which a
linear drift over the set leaves unchanged."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from power_blocks import WINDOW, block_gain, block_lengths, settle_index, settled_mean, summary


def test_a_switch_settles_where_the_time_per_launch_stops_moving() -> None:
    """The clock falls over the first 40 launches after a switch (each 3% slower at first,
    then 1% ... ), then holds: settled at the first launch from which the running medians
    stay within 0.5% of the end."""
    times = [1.0 + 0.03 * max(0.0, 1 - i / 40) for i in range(400)]
    index = settle_index(times)
    assert index is not None
    assert 25 <= index <= 40
    assert settle_index(times[:4 * WINDOW - 1]) is None  # too few to say


def test_one_slow_launch_does_not_unsettle_a_switch() -> None:
    times = [1.0] * 200
    times[150] = 1.5
    assert settle_index(times) == 0


def test_a_blocks_mean_leaves_its_settling_out() -> None:
    block = [2.0] * 10 + [1.0] * 90  # 20 s of settling at 2 s a launch
    assert settled_mean(block, leave_s=20.0) == 1.0
    assert settled_mean([3.0, 3.0], leave_s=100.0) == 3.0  # shorter than its settling: all


def test_a_linear_drift_over_the_set_cancels() -> None:
    drift = [1.0 + 0.01 * i for i in range(4)]  # the clock slows 1% a block
    a, b = 1.0, 1.02  # A 2% faster
    gain = block_gain(a * drift[0], b * drift[1], b * drift[2], a * drift[3])
    assert gain == pytest.approx(math.log(1.02), abs=1e-12)


def test_the_summary_scales_the_error_to_a_second() -> None:
    gains = [0.01, 0.03, 0.02, 0.02]
    found = summary(0.1, gains, seconds=4.0)
    assert found.gain == pytest.approx(0.02)
    assert found.se == pytest.approx(0.00408248, rel=1e-5)
    assert found.se_per_root_s == pytest.approx(2 * found.se)
    assert summary(0.1, [0.01], 1.0).se == math.inf


def test_blocks_not_asked_for_are_longer_than_the_settling_they_leave_out() -> None:
    assert block_lengths(None, 0.4036) == [0.807, 1.614]
    assert block_lengths("0.05,0.2", 0.4036) == [0.05, 0.2]
