"""The engine's deterministic rules: the commit gate, the supervisor, hint reading, budgets,
and baselines that outlive the worker that measured them."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.engine import Budgets, Evaluator, NoiseEstimate, Supervisor, SupervisorLimits, Usage
from avo_tui.engine.commands import Approve, BadCommand, Hint, Reject, from_doc, to_doc
from avo_tui.engine.gate import hold_if_flagged, judge, threshold
from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import EvalResult, Worker, get_target
from avo_tui.operators.hints import read_knob_request

KNOBS = {"BLOCK_Q": ("8", "16", "32", "64"), "UNROLL": ("1", "2", "4", "8")}


def test_the_gate_needs_a_gain_beyond_the_measured_noise() -> None:
    noise = NoiseEstimate(floor_pct=0.5)
    assert noise.pct == 0.5
    noise.add(100.0, 102.0)  # 1.98% apart
    noise.add(100.0, 101.0)
    noise.add(100.0, 100.2)
    assert noise.pct == pytest.approx(100 / 100.5, rel=1e-6)  # the median pair
    assert threshold(50.0, noise) == pytest.approx(50.0 * (1 + noise.pct / 100))
    assert not judge(50.4, True, 50.0, noise, "TFLOP/s").accepted  # +0.8%: inside the noise
    verdict = judge(51.0, True, 50.0, noise, "TFLOP/s")
    assert verdict.accepted and "+2.00%" in verdict.reason
    assert not judge(99.0, False, 50.0, noise, "TFLOP/s").accepted  # failed re-evaluation
    assert judge(1.0, True, None, noise, "TFLOP/s").accepted  # nothing scored yet
    assert NoiseEstimate.from_doc(noise.to_doc()) == noise


def test_a_flagged_result_the_gate_would_accept_is_held_not_committed() -> None:
    noise = NoiseEstimate(floor_pct=0.5)
    accepted = judge(80.0, True, 50.0, noise, "TFLOP/s")
    jump = "geomean 80 is 1.60x the best committed score 50"
    held = hold_if_flagged(accepted, [jump, "", jump])  # both evaluations flagged it
    assert held.held and not held.accepted and held.flags == (jump,)
    assert "held for the operator's review, flagged: " + jump in held.reason
    assert hold_if_flagged(accepted, []) == accepted  # no flag: committed as before
    refused = judge(50.1, True, 50.0, noise, "TFLOP/s")
    assert hold_if_flagged(refused, [jump]) == refused  # a refusal stays a refusal
    failed = judge(99.0, False, 50.0, noise, "TFLOP/s")
    assert not hold_if_flagged(failed, [jump]).held


def test_the_noise_window_forgets_old_pairs() -> None:
    noise = NoiseEstimate(floor_pct=0.1)
    for _ in range(20):
        noise.add(100.0, 110.0)
    for _ in range(20):
        noise.add(100.0, 100.5)
    assert noise.pct < 1.0


STALL_LIMITS = SupervisorLimits(attempts_without_commit=4, minutes_without_commit=10,
                                consecutive_failures=3, identical_candidates=2)


def watching() -> Supervisor:
    """A supervisor with small limits, started at time 0."""
    sup = Supervisor(STALL_LIMITS)
    sup.start(0.0)
    return sup


def failed_three_in_a_row(sup: Supervisor) -> None:
    assert sup.observe_attempt("incorrect", "a", 1) is None
    assert sup.observe_attempt("compile", "b", 2) is None
    assert sup.observe_attempt("crash", "c", 3) == "3 failed candidates in a row"


def test_the_supervisor_redirects_after_failed_candidates_in_a_row() -> None:
    sup = watching()
    failed_three_in_a_row(sup)
    assert sup.interventions == 1


def test_a_redirect_restarts_the_supervisors_counts() -> None:
    sup = watching()
    failed_three_in_a_row(sup)
    assert sup.observe_attempt("slower", "d", 4) is None  # the 4th attempt, counted from 0 again


def test_the_supervisor_redirects_on_a_candidate_evaluated_again() -> None:
    sup = watching()
    assert sup.observe_attempt("slower", "d", 4) is None
    assert sup.observe_attempt("slower", "d", 5) == (
        "the same candidate was evaluated 2 times in the last 20"
    )


def test_the_supervisor_redirects_after_attempts_without_a_commit() -> None:
    sup = watching()
    for key in "efg":
        assert sup.observe_attempt("slower", key, 6) is None
    assert sup.observe_attempt("slower", "h", 7) == "no commit in 4 attempts"


def test_the_supervisor_redirects_after_minutes_without_a_commit() -> None:
    sup = watching()
    sup.observe_commit(100.0)
    assert sup.observe_attempt("slower", "i", 100 + 9 * 60) is None
    assert sup.observe_attempt("slower", "j", 100 + 10 * 60) == "no commit in 10 minutes"


def test_an_interrupted_attempt_counts_for_nothing() -> None:
    sup = watching()
    assert sup.observe_attempt("interrupted", "k", 99 * 60) is None  # past the clock's limit


def test_the_supervisor_is_the_same_after_a_round_trip_through_its_document() -> None:
    sup = watching()
    failed_three_in_a_row(sup)
    assert sup.observe_attempt("slower", "d", 4) is None
    assert Supervisor.from_doc(sup.to_doc(), STALL_LIMITS) == sup


def test_a_commit_resets_the_stall_counters() -> None:
    sup = Supervisor(SupervisorLimits(attempts_without_commit=3))
    sup.start(0.0)
    for n in range(2):
        assert sup.observe_attempt("slower", str(n), 1) is None
    sup.observe_commit(2.0)
    for n in range(2):
        assert sup.observe_attempt("slower", f"x{n}", 3) is None


@pytest.mark.parametrize(
    ("text", "pins", "focus", "usable"),
    [
        ("BLOCK_Q=64", {"BLOCK_Q": "64"}, set(), True),
        ("try block_q to 16 and UNROLL: 8", {"BLOCK_Q": "16", "UNROLL": "8"}, set(), True),
        ("UNROLL 2 please", {"UNROLL": "2"}, set(), True),
        ("vary UNROLL more", {}, {"UNROLL"}, True),
        ("make it faster", {}, set(), False),
        ("BLOCK_Q=48", {}, set(), False),
    ],
)
def test_hints_are_read_as_knob_requests(
    text: str, pins: dict[str, str], focus: set[str], usable: bool
) -> None:
    request = read_knob_request(text, KNOBS)
    assert request.pins == pins and request.focus == focus and request.usable == usable
    if text == "BLOCK_Q=48":
        assert request.problems == ["BLOCK_Q=48 is not a declared value (8 16 32 64)"]


def test_budgets_stop_the_run_and_overrides_keep_the_rest() -> None:
    budgets = Budgets(max_steps=10, hours=1.0)
    assert Usage(steps=9, seconds=100).exhausted(budgets) is None
    assert Usage(steps=10).exhausted(budgets) == "step budget reached (10 of 10)"
    assert "time budget" in str(Usage(seconds=3600).exhausted(budgets))
    spend = Budgets(max_cost_usd=5, max_tokens=1000)
    assert Usage(cost_usd=5).exhausted(spend) is None  # money pauses; it does not finish
    assert "cost budget" in str(Usage(cost_usd=5).overspent(spend))
    assert Usage(tokens=1000).overspent(spend) == "token budget reached (1,000 of 1,000)"
    assert Usage(cost_usd=4.99, tokens=999).overspent(spend) is None
    assert budgets.override(max_steps=20, hours=None) == Budgets(max_steps=20, hours=1.0)


def test_commands_round_trip_and_bad_ones_are_refused() -> None:
    assert from_doc(to_doc(Hint("x"))) == Hint("x")
    assert from_doc(to_doc(Approve("a12"))) == Approve("a12")
    assert from_doc(to_doc(Reject("a3"))) == Reject("a3")
    with pytest.raises(BadCommand, match="malformed approve"):
        from_doc({"command": "approve"})
    with pytest.raises(BadCommand, match="unknown command 'explode'"):
        from_doc({"command": "explode"})
    with pytest.raises(BadCommand, match="malformed hint"):
        from_doc({"command": "hint", "words": "x"})


def test_baselines_stored_by_a_session_spare_a_new_worker_measuring_them(tmp_path: Path) -> None:
    target = get_target("cpu-attention")
    files = seed_files(target)
    with Worker("cpu") as first:
        evaluator = Evaluator(target, first, quick=True)
        measured = evaluator.evaluate(files)
        assert evaluator.baselines_changed
        stored = evaluator.baselines
    with Worker("cpu") as second:  # a resumed run: a new worker, the session's stored baselines
        evaluator = Evaluator(target, second, quick=True, baselines=stored)
        reused = evaluator.evaluate(files)
        fresh = evaluator.evaluate(files, fresh_baselines=True)

    def timing(result: EvalResult) -> list[float]:
        return [c.baseline_timings["torch-sdpa-cpu"].median_s for c in result.timed]

    assert timing(reused) == timing(measured)
    assert timing(fresh) != timing(measured)
    assert not evaluator.baselines_changed
