"""Faults inside a step are data: an operator that raises fails its step and the run goes on,
repeated failures pause the run, a subscriber or progress listener that raises is reported
and kept, and the supervisor's stall clock counts running time only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine_helpers import KERNEL, head_of, start

from avo_tui.engine import Budgets, Progress, Stop, SupervisorLimits
from avo_tui.engine.client import RunClient
from avo_tui.engine.engine import FAILED_STEPS_TO_PAUSE
from avo_tui.evaluation import Worker
from avo_tui.operators import StepContext, StepResult
from avo_tui.store import Event, Session

Behaviour = Callable[[StepContext], StepResult]


class Scripted:
    """An operator that plays one behaviour a step (the last one again once they run out)."""

    name = "tuner"

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours)

    def step(self, ctx: StepContext) -> StepResult:
        behaviour = self.behaviours.pop(0) if len(self.behaviours) > 1 else self.behaviours[0]
        return behaviour(ctx)

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


def fine(ctx: StepContext) -> StepResult:
    return StepResult("fine")


def buggy(ctx: StepContext) -> StepResult:
    results: dict[str, StepResult] = {}
    return results["a bug"]  # a KeyError: the operator's own bug


def test_an_operator_that_raises_fails_its_step_and_the_run_goes_on(
    session: Session, worker: Worker
) -> None:
    live = start(session, worker, max_steps=2, operator=Scripted(buggy, fine))
    assert live.finish(30) == "step budget reached (2 of 2)"
    assert session.state["status"] == "finished"
    first, second = (e.data for e in live.kinds("step"))
    assert first["failed"] and "KeyError('a bug')" in first["summary"]
    assert second == second | {"failed": False, "summary": "fine"}
    error = live.kinds("error")[0].data
    assert "KeyError" in error["message"] and 'return results["a bug"]' in error["traceback"]


def test_steps_failing_in_a_row_pause_the_run_and_a_success_resets_the_count(
    session: Session, worker: Worker
) -> None:
    live = start(session, worker, operator=Scripted(buggy, buggy, fine, buggy, buggy, buggy),
                 budgets=Budgets(max_steps=20))
    live.wait(lambda: bool(live.kinds("pause")))
    reason = live.kinds("pause")[0].data["reason"]
    assert reason.startswith("3 steps in a row failed") and "KeyError" in reason
    assert [e.data["failed"] for e in live.kinds("step")] == [True, True, False, True, True, True]
    assert session.state["status"] == "paused"
    live.engine.submit(Stop("operator"))
    assert live.finish(30) == "operator"


def test_a_subscriber_that_raises_is_reported_once_and_keeps_its_events(
    session: Session, worker: Worker
) -> None:
    seen: list[Event] = []

    def broken_view(event: Event) -> None:
        seen.append(event)
        raise ValueError("this view is broken")

    live = start(session, worker, max_steps=3, operator=Scripted(fine),
                 before=lambda engine: engine.subscribe(broken_view))
    live.finish(30)
    reports = [e.data["message"] for e in live.kinds("error")]
    assert len(reports) == 1, reports
    assert "broken_view" in reports[0] and "ValueError: this view is broken" in reports[0]
    assert [e.seq for e in seen] == [e.seq for e in live.events]  # every event, to the end
    assert len(live.kinds("step")) == 3


def test_a_progress_listener_that_raises_is_reported(session: Session, worker: Worker) -> None:
    def progress(ctx: StepContext) -> StepResult:
        ctx.progress("compiling")
        return StepResult("fine")

    def broken_listener(progress: Progress) -> None:
        raise RuntimeError(f"cannot show {progress.text!r}")

    live = start(session, worker, max_steps=2, operator=Scripted(progress),
                 before=lambda engine: engine.on_progress(broken_listener))
    live.finish(30)
    reports = [e.data["message"] for e in live.kinds("error")]
    assert len(reports) == 1 and "cannot show 'compiling'" in reports[0], reports


def stalled_since(session: Session, *, running_s: float, since: float) -> None:
    state: dict[str, Any] = session.state
    session.set_state(announce=False, usage=state["usage"] | {"seconds": running_s},
                      supervisor={"since": since})


def test_the_stall_clock_does_not_count_the_time_between_two_runs(
    session: Session, worker: Worker
) -> None:
    # Stopped on Friday, resumed on Monday: before the running clock, ``since`` held Friday's
    # wall-clock time, and the first attempt on Monday counted the weekend as a stall.
    stalled_since(session, running_s=600, since=time.time() - 3 * 24 * 3600)
    live = start(session, worker, max_steps=1,
                 limits=SupervisorLimits(minutes_without_commit=120))
    live.finish(120)
    assert session.recent_attempts(1), "the tuner evaluated nothing"
    assert live.kinds("supervisor") == []


def test_the_stall_clock_fires_after_enough_running_time(session: Session, worker: Worker) -> None:
    stalled_since(session, running_s=3 * 3600, since=1.0)
    live = start(session, worker, max_steps=1,
                 limits=SupervisorLimits(minutes_without_commit=120))
    live.finish(120)
    reasons = [e.data["reason"] for e in live.kinds("supervisor")]
    assert reasons and reasons[0].startswith("no commit in 180 minutes"), reasons



FIRST_LINE = "    int group = heads_q / heads_kv;"


def hanging(ctx: StepContext) -> StepResult:
    """Evaluates a kernel that never returns: an evaluation is surely in flight until cut."""
    head = head_of(ctx)
    text = ctx.session.read_files(head)[KERNEL]
    assert FIRST_LINE in text
    spin = "    for (volatile int on = 1; on;) {}\n"
    trial = ctx.evaluate({KERNEL: text.replace(FIRST_LINE, spin + FIRST_LINE)}, base=head.id)
    return StepResult(f"evaluated: {trial.outcome}")


def test_an_evaluation_the_operator_cuts_short_is_interrupted_not_a_crash_nor_a_failure(
    session: Session, worker: Worker
) -> None:
    """The app's second q (RunClient.abandon_evaluation) kills the evaluation in flight; three
    such cuts in a row are three interrupted attempts in ordinary steps: no crash, no failed
    step, no pause, nothing for the stall detector."""
    live = start(session, worker, max_steps=None, operator=Scripted(hanging))
    client = RunClient(session.directory, live.engine)

    def cut(stop_first: bool = False) -> None:
        live.wait(live.evaluating.is_set)  # the kernel's first check launch: it hangs there
        live.evaluating.clear()
        if stop_first:  # the app's first q, then the second cuts the evaluation short
            live.engine.submit(Stop())
        client.abandon_evaluation()

    try:
        for done in range(1, FAILED_STEPS_TO_PAUSE):
            cut()

            def steps_ended(done: int = done) -> bool:
                return len(live.kinds("step")) == done

            live.wait(steps_ended)
        cut(stop_first=True)
        live.finish()
    finally:
        client.close()
    attempts = session.recent_attempts(10)
    assert [a.outcome for a in attempts] == ["interrupted"] * FAILED_STEPS_TO_PAUSE
    assert all("cut short by the operator while" in a.detail for a in attempts), attempts
    steps = [e.data for e in live.kinds("step")]
    assert not any(s["failed"] for s in steps)
    assert {s["summary"] for s in steps} == {"evaluated: interrupted"}
    assert not live.kinds("pause") and not live.kinds("supervisor") and not live.kinds("error")
    state = session.run_state
    assert state.supervisor is not None and state.supervisor["failures_in_a_row"] == 0
    assert state.lane(1).failed_steps == 0
    assert state.status == "stopped" and state.in_flight is None
