"""What an attempt's label says about noise: a gain smaller than the noise is "within noise",
not "slower"; a promising candidate the gate does not bear out says both figures; timed
launches slowed by the machine are "machine load suspected", not the kernel's fault. Every
figure here is given, none measured, so no test depends on this machine's speed."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from engine_helpers import TARGET, repeat_knob_seed
from test_gpu_pool import StandIn

from avo_tui.engine import Budgets, Engine, Evaluator
from avo_tui.engine.gate import NoiseEstimate, Paired, first_reading, judge_beside, unconfirmed
from avo_tui.engine.launch import seed_files
from avo_tui.engine.trials import CommitRequest
from avo_tui.evaluation import ConfigResult, EvalRequest, EvalResult, Worker
from avo_tui.evaluation.devices.timing import is_unsteady, steadiness
from avo_tui.operators import Trial, Tuner
from avo_tui.store import NOT_FAILURES, TO_THE_GATE, Event, Score, Session
from avo_tui.views.events import event_line, plain

BEST = 10.0  # the seed's stored score, GFLOP/s
FILES = {"attention.c": "// a kernel\n"}


def noise(pct: float) -> NoiseEstimate:
    return NoiseEstimate(pairs_pct=[pct])


@pytest.mark.parametrize(("gain_pct", "noise_pct"), [(8.58, 9.4), (2.10, 3.0), (1.44, 3.0)])
def test_a_gain_within_the_noise_is_within_noise_not_slower(
    gain_pct: float, noise_pct: float
) -> None:
    """The issue's candidates: +8.58%, +2.10% and +1.44% above the best were labelled slower."""
    outcome, words = first_reading(BEST * (1 + gain_pct / 100), BEST, "v3", noise(noise_pct))
    assert outcome == "within_noise" and outcome in NOT_FAILURES
    assert words == (f"+{gain_pct:.2f}% on the best (v3), within the noise of {noise_pct:.2f}%: "
                     "no clear gain")


def test_beyond_the_noise_is_promising_and_at_or_below_the_best_is_slower() -> None:
    assert first_reading(BEST * 1.05, BEST, "v3", noise(3.0)) == (
        "promising", "+5.00% on the best (v3)")
    assert first_reading(BEST, BEST, "v3", noise(3.0))[0] == "slower"
    assert first_reading(BEST * 0.9, BEST, "v3", noise(3.0)) == (
        "slower", "-10.00% on the best (v3)")


def test_an_unconfirmed_candidate_gives_both_figures() -> None:
    verdict = judge_beside(Paired(math.log(1.012), 0.01, 10), "v3", 10.12, "GFLOP/s",
                           {"sweeps": 6, "seconds": 3.2})
    assert not verdict.accepted
    detail = unconfirmed("a7", BEST * 1.0858, BEST, "v3", verdict.reason)
    assert detail.startswith("not confirmed on re-evaluation of a7: +8.58% on v3 at first, then "
                             "re-evaluated at 10.12 GFLOP/s, +1.20% ± 1.00% on v3 timed beside it "
                             "(6 sweeps, 3 s): not above the bar of +")
    beside = unconfirmed("a7", BEST * 1.0858, BEST, "v3", verdict.reason,
                         Paired(math.log(1.0061), 0.002, 40))
    assert beside.startswith("not confirmed on re-evaluation of a7: +0.61% ± 0.20% on v3 timed "
                             "beside it at first, then ")


def test_a_first_reading_beside_the_best_is_a_gain_with_its_error() -> None:
    """Timed beside the best, a small gain goes to the gate unless even the top of its 99%
    interval is under the floor: no stored score, no session noise decides it."""
    far = noise(9.4)  # the stored-score noise plays no part beside the best
    assert first_reading(BEST, BEST, "v3", far, Paired(math.log(1.0042), 0.0009, 60)) == (
        "promising", "+0.42% ± 0.09% on the best (v3) timed beside it")
    small = first_reading(BEST, BEST, "v3", far, Paired(0.0003, 0.0001, 60))
    assert small[0] == "within_noise" and "under the gate's floor of 0.10%" in small[1]
    assert first_reading(BEST, BEST, "v3", far, Paired(-0.004, 0.001, 60))[0] == "slower"
    # a noisy reading of no gain is still sent on (the gate resolves it), but not as promising
    outcome, words = first_reading(BEST, BEST, "v3", far, Paired(-0.001, 0.01, 8))
    assert outcome == "inconclusive" and outcome in TO_THE_GATE and outcome in NOT_FAILURES
    assert words == ("-0.10% ± 1.00% on the best (v3) timed beside it: no gain, but too noisy to "
                     "rule one out (the top of its 99% interval reaches the gate's floor of "
                     "0.10%): the gate measures it longer")
    assert first_reading(BEST, BEST, "v3", far, Paired(0.0, 0.01, 8))[0] == "inconclusive"


# -- the engine's labels, from given results (the worker is never started) ---------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Session.create(tmp_path / "labels", target=TARGET.name, operator="tuner",
                        seed_files=FILES, score=Score(BEST, unit=TARGET.unit)) as session:
        engine = Engine(session, Tuner(1), Evaluator(TARGET, Worker("cpu"), quick=True))
        engine.gate.noise = noise(9.4)
        yield engine


def scored(gmean: float, notes: tuple[str, ...] = ()) -> EvalResult:
    """A correct evaluation whose every configuration measured ``gmean``."""
    result = EvalResult(TARGET.name, TARGET.toolchain, "cpu", TARGET.unit, seed=1, quick=True,
                        notes=list(notes))
    result.configs = [ConfigResult(config, throughput=gmean) for config in TARGET.grid(True)]
    return result


def test_the_engine_labels_a_first_evaluation_within_the_noise(engine: Engine) -> None:
    outcome, detail = engine.trials.classify(scored(BEST * 1.0858))
    assert outcome == "within_noise"
    assert "+8.58% on the best (v0), within the noise of 9.40%" in detail


def test_the_engine_records_an_unconfirmed_candidate_with_both_figures(engine: Engine) -> None:
    session = engine.session
    first = session.record_attempt(FILES, base="v0", author="tuner", outcome="promising")
    trial = Trial(first, scored(BEST * 1.0858), FILES, "key")
    confirm = scored(BEST * 1.012)
    verdict = judge_beside(Paired(math.log(1.012), 0.01, 10), "v0", confirm.geomean,
                           TARGET.unit)
    request = CommitRequest("tuner: a change", "tuner", None, engine.lanes[0])
    attempt = engine.trials.record_decision(trial, confirm, verdict, request)
    assert attempt.outcome == "not_confirmed" and attempt.version is None
    assert attempt.detail.startswith(f"not confirmed on re-evaluation of {first.id}: +8.58% on v0 "
                                     "at first, then re-evaluated at 10.12 GFLOP/s, +1.20% ± "
                                     "1.00% on v0")


def beside(gmean: float, block_gains: list[float]) -> EvalResult:
    """A correct evaluation timed beside the best, each configuration's blocks reading
    ``block_gains`` (log-gains)."""
    result = scored(gmean)
    result.configs = [replace(config, block_gains=list(block_gains))
                      for config in result.configs]
    return result


def test_the_engine_never_calls_a_negative_gain_promising(engine: Engine) -> None:
    """The issue's case: a first reading with a negative gain, too noisy to rule a gain out,
    went to the gate labelled ``promising``. It still goes, as ``inconclusive``."""
    best = engine.session.best()
    noisy = beside(BEST, [-0.06, 0.05, -0.05, 0.04])  # a mean of -0.5%, a wide interval
    outcome, detail = engine.trials.classify(noisy, beside=best)
    assert outcome == "inconclusive", detail
    assert "-0.50% ± " in detail and "no gain, but too noisy to rule one out" in detail
    gain = beside(BEST, [0.06, -0.05, 0.05, -0.04])  # +0.5%, as wide
    assert engine.trials.classify(gain, beside=best)[0] == "promising"


def test_a_note_on_machine_load_reaches_the_attempt(engine: Engine) -> None:
    note = "b1-h4kv2-s256-d64-full: machine load suspected: ..."
    outcome, detail = engine.trials.classify(scored(BEST * 0.5, notes=(note,)))
    assert outcome == "slower" and detail.endswith(f"; {note}")


# -- unstable timing: the kernel's doing, or the machine's -------------------------------------


def test_timed_launches_slower_than_a_first_launch_measured_again_are_the_kernels_doing() -> None:
    """A kernel that does a tenth of the work on its first launch in a process is as fast as
    before on a first launch again, whatever the load."""
    assert is_unsteady(0.002, 0.020)
    verdict = steadiness(0.002, 0.020, 0.0021)
    assert verdict.kernel
    assert verdict.message == (
        "the first launch took 2 ms but timed launches take a median of 20 ms (10.0x slower), "
        "and a first launch again in a fresh process just now took 2.1 ms: a kernel must do the "
        "same work on every launch")


def test_a_first_launch_measured_again_as_slow_as_the_timed_ones_means_machine_load() -> None:
    verdict = steadiness(0.002, 0.009, 0.0085)
    assert not verdict.kernel
    assert verdict.message.startswith("machine load suspected: the first launch took 2 ms but "
                                      "timed launches take a median of 9 ms (4.5x slower), but a "
                                      "first launch again in a fresh process just now took 8.5 ms")
    assert "not the kernel" in verdict.message


def test_launches_right_after_a_first_launch_again_as_fast_as_it_mean_machine_load() -> None:
    """A short honest kernel on a busy machine: a quiet first launch again reads a quarter of
    the loaded timed median, but the launches right after it in its process are as fast; a
    kernel slower after its first launch is slower right after it too."""
    quiet = steadiness(0.0006, 0.004, 0.0006, 0.0007)
    assert not quiet.kernel
    assert quiet.message.startswith("machine load suspected: ")
    assert "and the launches right after it a median of 0.7 ms" in quiet.message
    slowing = steadiness(0.002, 0.020, 0.0021, 0.021)
    assert slowing.kernel
    assert "and the launches right after it a median of 21 ms: a kernel must" in slowing.message


def test_where_no_launch_can_be_a_first_one_again_the_kernel_is_blamed_as_before() -> None:
    assert steadiness(0.002, 0.009, None).kernel
    assert not is_unsteady(0.002, 0.0079)  # under four times the first launch
    assert not is_unsteady(0.0001, 0.0009)  # nine times, but by less than a millisecond


# -- how the labels read ------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["within_noise", "not_confirmed", "interrupted",
                                     "inconclusive"])
def test_labels_that_are_no_failure_do_not_read_as_one(outcome: str) -> None:
    line = event_line(Event(1, 0.0, "attempt", {"attempt": "a1", "outcome": outcome,
                                                "detail": "d"}), "GFLOP/s")
    assert line is not None and not line.startswith("[red]")
    assert plain(line).startswith(f"a1       {outcome}")


# -- a step ends with its candidate's last outcome ----------------------------------------------


class Scripted(StandIn):
    """A worker that answers at once: a first reading a wide +0.5% beside the best (promising),
    and at the gate a clear -20% (not confirmed). Nothing is compiled or timed."""

    def evaluate(self, request: EvalRequest, timeout_s: float | None = None,
                 on_progress: Callable[[str, str], None] | None = None) -> EvalResult:
        gains = [-0.2] * 8 if request.gate is not None else [0.06, -0.05, 0.05, -0.04]
        return beside(BEST, gains)


def test_a_step_whose_candidate_the_gate_rejected_ends_with_the_gates_outcome(
    tmp_path: Path
) -> None:
    """The issue's ``step 12 done: ...: promising`` for a candidate the gate did not confirm:
    the step ends with the candidate's last outcome."""
    files = repeat_knob_seed(seed_files(TARGET))
    with Session.create(tmp_path / "s", target=TARGET.name, operator="tuner", seed_files=files,
                        score=Score(BEST, unit=TARGET.unit)) as session:
        engine = Engine(session, Tuner(1), Evaluator(TARGET, Scripted({}), quick=True),
                        budgets=Budgets(max_steps=1))
        engine.run()
        outcomes = [a.outcome for a in session.recent_attempts(2)]
        steps = [event_line(e, TARGET.unit) for e in session.events() if e.kind == "step"]
    assert sorted(outcomes) == ["not_confirmed", "promising"], outcomes
    [line] = steps
    assert line is not None and plain(line).endswith(": not_confirmed"), line
