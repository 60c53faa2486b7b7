"""The CPU evaluator's idle probe (evaluation/devices/cpu.py, ``idle_problem``): a runner that keeps
working after its launch returned is caught, and an honest one charged a few milliseconds it
did not use (a loaded virtual machine's stolen time, seen once in CI) is not. The real attacks
(a hog thread) run in tests/adversarial/test_adversarial_cpu.py."""

from __future__ import annotations

from avo_tui.evaluation.devices.cpu import IDLE_CPU_SURE_S, idle_problem
from avo_tui.evaluation.devices.frozen import IDLE_CPU_LIMIT_S


def probes(*windows: float | None) -> tuple[list[int], object]:
    """A probe answering ``windows`` in turn, and the count of probes taken."""
    taken = [0]
    answers = iter(windows)

    def probe() -> float | None:
        taken[0] += 1
        return next(answers)

    return taken, probe


def test_an_idle_runner_passes_after_one_probe() -> None:
    taken, probe = probes(0.0005)
    assert idle_problem(probe) is None  # type: ignore[arg-type]
    assert taken == [1]


def test_a_blip_under_the_sure_bound_is_looked_at_again_and_passes_when_it_goes() -> None:
    blip = (IDLE_CPU_LIMIT_S + IDLE_CPU_SURE_S) / 2  # 7 ms of a 20 ms window, as in CI
    taken, probe = probes(blip, 0.0)
    assert idle_problem(probe) is None  # type: ignore[arg-type]
    assert taken == [2]


def test_work_that_shows_again_in_the_second_window_is_caught() -> None:
    taken, probe = probes(0.007, 0.006)
    problem = idle_problem(probe)  # type: ignore[arg-type]
    assert problem is not None and "used 6.0 ms of CPU" in problem
    assert taken == [2]


def test_work_past_the_sure_bound_is_caught_at_once() -> None:
    taken, probe = probes(IDLE_CPU_SURE_S + 0.001, 0.0)
    problem = idle_problem(probe)  # type: ignore[arg-type]
    assert problem is not None and "a launch must finish its work before it returns" in problem
    assert taken == [1]  # no second chance to look idle


def test_a_runner_that_speaks_unasked_is_caught_in_either_window() -> None:
    assert "sent a message" in (idle_problem(probes(None)[1]) or "")  # type: ignore[arg-type]
    assert "sent a message" in (idle_problem(probes(0.007, None)[1]) or "")  # type: ignore[arg-type]
