"""No test asserts, on real CPU timing, that an honest gain under 10x is committed (issue 83,
docs/testing.md): the scan of honest_gain_scan.py over the tests, and the scan itself catching
planted examples."""

from __future__ import annotations

from pathlib import Path

from honest_gain_scan import caught, scan

# test_alerts.py as it was: a 1.75x gain on the CPU, its commit asserted through the alert.
PLANTED = '''
def test_an_alert_command_hears_of_a_new_best(tmp_path):
    seed.write_text(slow_seed()[KERNEL])
    run()
    assert {a["alert"] for a in alerts()} == {NEW_BEST, STOPPED}
'''


def test_no_new_test_asserts_a_small_cpu_gain_is_committed() -> None:
    # A gain of 10x or more by construction (engine_helpers.tenfold_seed), or modelled time.
    assert scan(Path(__file__).parents[1]) == set(), "rewrite these (docs/testing.md)"


def test_the_scan_catches_a_planted_assertion_of_a_small_gain_committed() -> None:
    assert list(caught(PLANTED)) == ["test_an_alert_command_hears_of_a_new_best"]
    # The same test on a gain no load can hide, or asserting no commit, is not caught.
    assert list(caught(PLANTED.replace("slow_seed", "tenfold_seed"))) == []
    assert list(caught(PLANTED.replace("NEW_BEST, ", ""))) == []
    # The counts that build the 1.75x gain are caught as the seed is.
    counts = PLANTED.replace("slow_seed()[KERNEL]", "repeated(seed, SLOW_TIMES)")
    assert list(caught(counts)) == ["test_an_alert_command_hears_of_a_new_best"]
    # Nor is a helper that is no test; a fixture is (test_report's built its session so).
    assert list(caught(PLANTED.replace("def test_", "def helper_"))) == []
    fixture = "@pytest.fixture(scope='module')\n" + PLANTED.strip().replace("def test_", "def ")
    assert list(caught(fixture)) == ["an_alert_command_hears_of_a_new_best"]
    # The run's own output line of a commit is an assertion of it (test_back_to_back's).
    line = PLANTED.replace("{a[\"alert\"] for a in alerts()} == {NEW_BEST, STOPPED}",
                           "\"commit   v1 from v0 by tuner\" in done.stdout")
    assert line != PLANTED and list(caught(line)) == ["test_an_alert_command_hears_of_a_new_best"]
