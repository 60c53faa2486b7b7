"""The commit gate on the real parts: a TinyDB session, the real engine and CPU worker. The gate
times the best version beside the candidate and decides once per kernel, whatever its source
looks like. Where a test needs one kernel faster than another, the difference is structural: the
slower one repeats the whole computation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from agent_context import StandIn
from engine_helpers import (
    KERNEL,
    SHORT_GATE_CAP_S,
    TARGET,
    TENFOLD_CPU_ATTENTION,
    TENFOLD_TIMES,
    judged_against,
    repeated,
)

from avo_tui.engine import Engine, Evaluator
from avo_tui.engine.gate import (
    DECIDE,
    FORGET,
    REJECT,
    RERUN,
    STRIKE,
    Paired,
    after_reevaluation,
    judge_beside,
)
from avo_tui.engine.gate_memory import (
    DECISIONS_KEPT,
    STRIKE_CHARS,
    STRIKES_KEPT,
    GateDecisions,
    GateStrikes,
)
from avo_tui.engine.scores import score_of
from avo_tui.evaluation import EvalResult, Failure, Worker, get_target
from avo_tui.evaluation.paired import (
    GAIN_FLOOR,
    GAIN_Z,
    MIN_SWEEPS,
    SEQUENTIAL_Z,
    decide,
    is_look,
    t_quantile,
)
from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators import GateAnswer, Trial, Tuner
from avo_tui.operators.agent.tools import Toolbox
from avo_tui.operators.agent.workspace import Workspace
from avo_tui.operators.protocol import StepContext
from avo_tui.store import Attempt, Score, Session, Version
from avo_tui.store.run_state import RunState
from avo_tui.store.view import SessionView


def promising(engine: Engine, files: dict[str, str], base: str = "v0") -> Trial:
    """Evaluate ``files`` for real, then record the attempt as promising, as if noise had
    flattered it: the gate is what must catch it."""
    trial = engine.evaluate(files, base=base, author="tuner")
    assert trial.result.correct, trial.result.failure
    attempt = engine.session.record_attempt(
        files, base=base, author="tuner", outcome="promising", score=score_of(trial.result)
    )
    return Trial(attempt, trial.result, files, trial.key)


def gate_log(session: Session, attempt_id: str) -> dict[str, Any]:
    attempt = session.attempt(attempt_id)
    assert attempt.log is not None
    log = json.loads(session.blobs.get_text(attempt.log))
    assert isinstance(log, dict)
    return log


def test_the_gate_times_the_best_beside_and_decides_once_per_kernel(
    session: Session, worker: Worker
) -> None:
    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, Tuner(1), evaluator)
    # Four times the work: surely slower, and each of the four evaluations of it below runs
    # its checks and timings at a quarter of what eight times cost.
    slow = repeated(session.read_files("v0"), 4)
    trial = promising(engine, slow)
    counted = evaluator.count
    assert engine.commit(trial, "four times the work", "tuner") is None
    assert evaluator.count == counted + 1
    decision = session.recent_attempts(1)[0]
    assert decision.outcome == "not_confirmed"
    assert judged_against(decision.detail) and "standard errors" in decision.detail
    log = gate_log(session, decision.id)
    assert log["incumbent_gain"] < 0.5  # four times the work, timed in the same rounds
    assert log["kernel_id"] == trial.result.kernel_id != log["incumbent_kernel_id"]

    # Asked again: the same source, then sources that compile to the same kernel.
    dressed = {KERNEL: "/* retuned */\n#define UNUSED_TILE 96\n" + slow[KERNEL] + "// again\n"}
    for files in (slow, dressed):
        again = promising(engine, files)
        assert again.result.kernel_id == trial.result.kernel_id
        counted = evaluator.count
        assert engine.commit(again, "one more try", "tuner") is None
        assert evaluator.count == counted  # answered without measuring
        refused = session.recent_attempts(1)[0]
        assert refused.outcome == "unchanged"
        assert f"already decided on this kernel against v0 ({decision.id})" in refused.detail
    # Every request to the gate counts for the stall detector, answered or measured, and
    # sources of one kernel are one candidate to it.
    redirects = [e.data["reason"] for e in session.events() if e.kind == "supervisor"]
    assert any(r.startswith("the same candidate was evaluated") for r in redirects), redirects

    # The best's own kernel under another comment: nothing new, found out without timing.
    reworded = {KERNEL: "// the seed, reworded\n" + session.read_files("v0")[KERNEL]}
    assert engine.commit(promising(engine, reworded), "a comment", "tuner") is None
    same = session.recent_attempts(1)[0]
    assert same.outcome == "unchanged" and same.detail.startswith(
        "compiles to the same kernel as the best, v0")
    assert session.run_state.in_flight is None  # nothing left for a crash to recover

    restarted = Engine(session, Tuner(1), evaluator)  # the decision outlives the process
    assert restarted.gate.decisions.get(trial.result.kernel_id, session.best()) == decision.id
    assert restarted.commit(promising(restarted, dressed), "after a restart", "tuner") is None
    assert session.recent_attempts(1)[0].outcome == "unchanged"
    assert len(session.lineage) == 1


def test_the_gate_commits_what_is_faster_than_the_best_timed_beside_it(
    template: Path, tmp_path: Path, worker: Worker
) -> None:
    """A kernel 12x faster than the best by construction (its work done once, the best's
    twelve times): a gain no load on the CPU can hide (docs/testing.md), committed by the gate
    with the best timed beside it, on a target whose jump limit allows it."""
    evaluator = Evaluator(TENFOLD_CPU_ATTENTION, worker, quick=True)
    with Session.open(template, writable=False) as seeded:
        seed = seeded.read_files("v0")
        meta = seeded.meta
    slow, fast = repeated(seed, TENFOLD_TIMES), repeated(seed, 1)
    score = score_of(evaluator.evaluate(slow))
    assert score is not None
    with Session.create(tmp_path / "slow-seed", target=TENFOLD_CPU_ATTENTION.ref,
                        operator="tuner", seed_files=slow, score=score, host=meta["host"],
                        settings=meta["settings"]) as session:
        engine = Engine(session, Tuner(1), evaluator)
        version = engine.commit(promising(engine, fast), "the work once, not 12 times", "tuner")
        decision = session.recent_attempts(1)[0]
        assert isinstance(version, Version), decision.detail
        assert decision.outcome == "committed" and decision.version == version.id == "v1"
        assert judged_against(decision.detail), decision.detail
        assert gate_log(session, decision.id)["incumbent_gain"] > 5  # 12 by construction
        assert session.read_files(version) == fast and session.version("head").id == "v1"


def test_a_kernel_whose_decisions_end_undecided_twice_is_rejected_and_remembered(
    template: Path, tmp_path: Path, worker: Worker
) -> None:
    """A best committed by an older, foolable evaluator fails its check beside every
    candidate: each decision ends ``incumbent_failed``. The first is re-run at once, inside the
    same request; the second rejects the kernel, and the rejection is its decision: asked
    again, after a restart too, it is answered without measuring."""
    attacks = Path(__file__).parents[1] / "adversarial" / "kernels"
    cheat = {name: (attacks / name).read_text() for name in ("cached_output.c", "naive.h")}
    honest = {name: (attacks / name).read_text() for name in ("honest.c", "naive.h")}
    shipped = get_target("cpu-attention")  # the cheat caches the problems of its quick grid
    with Session.open(template, writable=False) as seeded:
        meta = seeded.meta
    with Session.create(tmp_path / "foolable", target=shipped.ref, operator="tuner",
                        seed_files=cheat, score=Score(1.0, unit=TARGET.unit), host=meta["host"],
                        settings=meta["settings"]) as session:
        evaluator = Evaluator(shipped, worker, quick=True)
        engine = Engine(session, Tuner(1), evaluator)
        first = engine.evaluate(honest, base="v0", author="tuner")  # timed beside the best too
        assert first.outcome == "incumbent_failed", first.attempt.detail
        alone = evaluator.evaluate(honest)
        attempt = session.record_attempt(honest, base="v0", author="tuner", outcome="promising",
                                         score=score_of(alone))
        trial = Trial(attempt, alone, honest, first.key)
        counted = evaluator.count
        assert engine.commit(trial, "honest work", "tuner") is None
        assert evaluator.count == counted + 2  # the decision, and its one re-run at once
        rejected, struck = session.recent_attempts(2)
        assert struck.outcome == "incumbent_failed", struck.detail
        assert "strike 1 of 2" in struck.detail and "re-run at once" in struck.detail
        assert rejected.outcome == "rejected_undecided_twice", rejected.detail
        assert "ended undecided twice" in rejected.detail and rejected.detail.endswith(
            "rejected")
        assert rejected.detail.count("incumbent_failed") == 2  # each failure, by its kind
        assert "the best version, timed beside the candidate, failed" in rejected.detail
        assert engine.trials.books.lanes[0].answer is not None
        assert engine.trials.books.lanes[0].answer.attempt.id == rejected.id

        for asking in (engine, Engine(session, Tuner(1), evaluator)):  # and after a restart
            counted = evaluator.count
            assert asking.commit(trial, "honest work, again", "tuner") is None
            assert evaluator.count == counted  # answered without measuring
            refused = session.recent_attempts(1)[0]
            assert refused.outcome == "unchanged"
            assert f"already rejected this kernel against v0 ({rejected.id})" in refused.detail
        assert len(session.lineage) == 1


class ScriptedGate(Evaluator):
    """The real evaluator, except that its next gate re-evaluations end as ``script`` says,
    without measuring (a best's runner that died, a worker that went silent, an operator who
    cut it short); after those, the gate measures for real."""

    def __init__(self, worker: Worker, *script: Failure, restarted: bool = False) -> None:
        super().__init__(TARGET, worker, quick=True)
        self.script = list(script)
        self.restarted = restarted
        self.scripted = 0

    def evaluate(self, files: Mapping[str, str], **options: Any) -> EvalResult:
        if options.get("gate") is None or not self.script:
            return super().evaluate(files, **options)
        self.scripted += 1
        return EvalResult(TARGET.name, TARGET.toolchain, TARGET.device, TARGET.unit, -1, True,
                          failure=self.script.pop(0), worker_restarted=self.restarted)


BEST_DIED = Failure("incumbent_failed", "the best version's process died (SIGKILL)",
                    phase="beside the best")


def test_a_decision_the_best_failed_is_run_again_at_once_and_its_verdict_stands(
    session: Session, worker: Worker
) -> None:
    evaluator = ScriptedGate(worker, BEST_DIED)
    engine = Engine(session, Tuner(1), evaluator)
    trial = promising(engine, repeated(session.read_files("v0"), 4))  # surely slower
    counted = evaluator.count
    assert engine.commit(trial, "four times the work", "tuner") is None
    assert (evaluator.scripted, evaluator.count) == (1, counted + 1)  # re-run, for real
    decision, struck = session.recent_attempts(2)
    assert struck.outcome == "incumbent_failed" and decision.outcome == "not_confirmed"
    assert ("incumbent_failed while timed beside the best: the best version's process died "
            "(SIGKILL); strike 1 of 2") in struck.detail
    kernel = trial.result.kernel_id
    assert engine.gate.decisions.get(kernel, session.best()) == decision.id  # it stands
    assert [s.split(":")[0] for s in engine.gate.strikes.of(kernel)] == [struck.id]
    counted = evaluator.count
    assert engine.commit(trial, "again", "tuner") is None
    assert evaluator.count == counted  # decided: answered without measuring
    assert "already decided on this kernel" in session.recent_attempts(1)[0].detail


def test_an_interrupted_decision_is_no_strike(session: Session, worker: Worker) -> None:
    """The operator cut the first decision short: no strike, no decision. The next request
    meets a worker gone silent; as the kernel's first strike it is re-run at once, and the
    verdict stands (had the interruption counted, it would have been the second: rejected)."""
    silent = Failure("timeout", "no word from the worker for 60 s; it was killed")
    evaluator = ScriptedGate(worker, Failure("interrupted", "cut short by the operator"),
                             silent)
    engine = Engine(session, Tuner(1), evaluator)
    trial = promising(engine, repeated(session.read_files("v0"), 4))
    counted = evaluator.count
    assert engine.commit(trial, "four times the work", "tuner") is None
    cut = session.recent_attempts(1)[0]
    assert cut.outcome == "interrupted" and evaluator.count == counted
    assert engine.gate.strikes.of(trial.result.kernel_id) == []
    assert engine.gate.decisions.get(trial.result.kernel_id, session.best()) is None

    assert engine.commit(trial, "four times the work", "tuner") is None
    assert (evaluator.scripted, evaluator.count) == (2, counted + 1)
    decision, struck = session.recent_attempts(2)
    assert (struck.outcome, decision.outcome) == ("timeout", "not_confirmed"), decision.detail
    assert len(engine.gate.strikes.of(trial.result.kernel_id)) == 1


def test_strikes_are_kept_in_the_state_and_a_state_from_before_them_reads(
    session: Session, worker: Worker
) -> None:
    """A session written before strikes were kept has none in its state: it loads with none.
    A strike is saved with the gate's other state, and a restarted engine reads it back."""
    assert "gate_strikes" not in session.state  # the template was made without a strike
    assert RunState.from_doc(session.state).damaged == ()
    evaluator = ScriptedGate(worker, Failure("toolchain", "the C compiler is gone"))
    engine = Engine(session, Tuner(1), evaluator)
    assert engine.gate.strikes == GateStrikes()
    trial = promising(engine, repeated(session.read_files("v0"), 4))
    counted = evaluator.count
    assert engine.commit(trial, "four times the work", "tuner") is None
    struck = session.recent_attempts(1)[0]
    assert struck.outcome == "toolchain" and evaluator.count == counted  # no re-run at once
    assert "strike 1 of 2" in struck.detail and "measured again" in struck.detail
    restarted = Engine(session, Tuner(1), Evaluator(TARGET, worker, quick=True))
    [kept] = restarted.gate.strikes.of(trial.result.kernel_id)
    assert kept.startswith(f"{struck.id}: toolchain: the C compiler is gone")


def result_failing(kind: str | None, restarted: bool = False) -> EvalResult:
    return EvalResult(TARGET.name, TARGET.toolchain, TARGET.device, TARGET.unit, 1, True,
                      failure=Failure(kind, "what happened") if kind else None,
                      worker_restarted=restarted)


def test_the_strike_rule() -> None:
    """What a re-evaluation means for the decision, by how it ended and the kernel's strikes
    before it."""
    # The candidate's own failures, and verdicts, decide.
    for kind in (None, "crash", "hang", "interference", "cuda_error", "incorrect",
                 "stale_output", "unstable_timing", "compile"):
        for strikes in (0, 1, 5):
            assert after_reevaluation(result_failing(kind), strikes) == DECIDE, (kind, strikes)
    # The best's side, or a failure no side can be blamed for: a strike, the second rejects.
    unattributed = [result_failing(k) for k in ("incumbent_failed", "timeout", "internal")]
    for result in [*unattributed, result_failing("crash", restarted=True)]:
        assert after_reevaluation(result, 0) == RERUN
        assert after_reevaluation(result, 1) == REJECT
        assert after_reevaluation(result, 4) == REJECT
    for kind in ("toolchain", "target"):  # not re-run at once
        assert after_reevaluation(result_failing(kind), 0) == STRIKE, kind
        assert after_reevaluation(result_failing(kind), 1) == REJECT, kind
    for strikes in (0, 1, 5):  # the operator stopped it: it says nothing, and costs nothing
        assert after_reevaluation(result_failing("interrupted"), strikes) == FORGET


def test_strikes_are_kept_per_kernel_bounded_and_read_from_any_state() -> None:
    strikes = GateStrikes()
    kernel = "k" * 64
    strikes.add(kernel, "a3", Failure("incumbent_failed", "x " * 400, phase="beside the best"))
    strikes.add(kernel, "a4", Failure("timeout", "silent"))
    strikes.add(None, "a5", Failure("timeout", "silent"))  # no kernel built: nothing to key
    first, second = strikes.of(kernel)
    assert first.startswith("a3: incumbent_failed while timed beside the best: x x")
    assert len(first) <= STRIKE_CHARS + len("a3: ") and second == "a4: timeout: silent"
    assert strikes.attempts(kernel) == {"a3", "a4"} and strikes.of("other") == []
    for number in range(STRIKES_KEPT + 5):
        strikes.add(f"{number:024x}", f"a{number}", Failure("internal", "bug"))
    assert len(strikes.entries) == STRIKES_KEPT and strikes.of(kernel) == []
    assert GateStrikes.from_doc(strikes.to_doc()) == strikes
    assert GateStrikes.from_doc(None) == GateStrikes()  # a session from before strikes
    assert GateStrikes.from_doc({"x": "not a list"}) == GateStrikes()


@dataclass
class Rejecting(StandIn):
    """A stand-in whose every evaluation is promising and whose gate rejects the kernel for
    undecided decisions."""

    answer: GateAnswer | None = None

    def evaluate(self, files: dict[str, str], *, base: str, note: str = "",
                 quick: bool = False, idea: str | None = None) -> Trial:
        attempt = Attempt("a1", base, "agent", {}, "promising", "+3% on the best",
                          Score(1.03, {"a": 1.03}), 0.0)
        result = EvalResult("cpu-attention", "c", "cpu", "GFLOP/s", 1, False)
        return Trial(attempt, result, dict(files), "key")

    def commit(self, trial: Trial, message: str, transcript: str | None = None) -> None:
        detail = ("re-evaluation of a1: the gate's decisions on this kernel ended undecided "
                  "twice (a2: hang while timed beside the best: ...; then incumbent_failed: "
                  "...): rejected")
        self.answer = GateAnswer(Attempt("a3", "v0", "agent", {}, "rejected_undecided_twice",
                                         detail, None, 0.0), "v0")

    def gate_answer(self) -> GateAnswer | None:
        return self.answer


def test_the_agent_is_told_plainly_that_its_kernel_was_rejected_and_not_to_re_roll(
    tmp_path: Path
) -> None:
    with Session.create(tmp_path / "s", target="cpu-attention", operator="agent",
                        seed_files={"attention.c": "int x;\n"}, sync=False) as session:
        kb = KnowledgeBase([])
        workspace = Workspace(tmp_path / "ws", kb, 10_000)
        workspace.reset({"attention.c": "int x; int y;\n"})
        toolbox = Toolbox(cast(StepContext, Rejecting(SessionView(session))), workspace, kb,
                          base="v0", transcript=lambda: "{}", review_every_commit=False)
        toolbox.call("commit", {"message": "m"})  # the checklist first
        text = toolbox.call("commit", {"message": "m"}).text
    assert text.startswith("the commit gate rejected this kernel: re-evaluation of a1: the "
                           "gate's decisions on this kernel ended undecided twice"), text
    assert "This is a rejection" in text and "do not submit this kernel again" in text
    assert "another hash meets the same rule" in text
    assert not re.search(r"\b(try|ask) (it )?again\b|re-?submit it", text), text


def test_the_bar_is_the_floor_plus_a_number_of_standard_errors() -> None:
    se = 0.004
    for dof, quantile in ((None, GAIN_Z), (4, 3.747), (8, 2.896), (16, 2.583)):
        assert t_quantile(dof) == pytest.approx(quantile, rel=0.01)  # Student's t, one-sided 99%
    for dof in (None, 8, 64):
        bar = GAIN_FLOOR + t_quantile(dof, SEQUENTIAL_Z) * se
        assert not judge_beside(Paired(0.99 * bar, se, dof), "v3", 100.0, "TFLOP/s").accepted
        accepted = judge_beside(Paired(1.01 * bar, se, dof), "v3", 100.0, "TFLOP/s",
                                {"sweeps": 12, "seconds": 20.4})
        assert accepted.accepted and "on v3 timed beside it (12 sweeps, 20 s)" in accepted.reason
        assert f"± {100 * se:.2f}%" in accepted.reason
    # fewer degrees of freedom, a less certain standard error: a higher bar
    assert t_quantile(2) > t_quantile(4) > t_quantile(16) > t_quantile(None)
    assert t_quantile(1) == pytest.approx(31.82, rel=0.001)  # exact at 1 and 2
    assert t_quantile(2) == pytest.approx(6.965, rel=0.001)
    # a comparison with almost no spread still needs the floor
    assert not judge_beside(Paired(0.5 * GAIN_FLOOR, 1e-7, 16), "v3", 1.0, "x").accepted
    assert judge_beside(Paired(2 * GAIN_FLOOR, 1e-7, 16), "v3", 1.0, "x").accepted
    assert not judge_beside(Paired(0.5, None, None), "v3", 1.0, "x").accepted  # no spread known


def test_the_sequential_rule_stops_on_clear_cases_and_looks_at_doubling_sweeps() -> None:
    assert [n for n in range(1, 100) if is_look(n)] == [MIN_SWEEPS * 2**k for k in range(6)
                                                         if MIN_SWEEPS * 2**k < 100]
    assert decide(0.05, 0.002, 16) == "accept"  # clearly faster
    assert decide(-0.05, 0.002, 16) == "reject"  # clearly slower
    assert decide(0.003, 0.002, 16) == "continue"  # close: measure on
    assert decide(0.003, 0.002, 16, final=True) == "reject"  # at the cap, not accepted
    assert decide(0.0, None, None) == "continue"
    assert decide(0.0, None, None, final=True) == "reject"


def test_the_sequential_rule_keeps_its_false_accept_rate_over_every_look() -> None:
    """A change that does nothing, looked at as the gate looks (8 configurations, six pairs a
    block, doubling looks up to a cap of 96 sweeps): accepted in at most 1% of decisions, with
    the per-launch noise drawn from a heavy-tailed distribution as on a busy machine. No floor:
    the sequential quantile alone must hold the rate (with the one-look quantile, 2.33, this
    run accepts 3.8%)."""
    import numpy as np

    from avo_tui.evaluation.paired import PairedGain, block_value

    rng = np.random.default_rng(7)
    decisions = 2000
    accepted = 0
    shape = (96, 8, 12)  # sweeps (the cap), configurations, launches of a block
    for _ in range(decisions):
        # Every launch time this decision may read, drawn at once (drawing them one by one in
        # Python took most of the test's time).
        tails = np.where(rng.random(shape) < 0.1, rng.exponential(1 / 20, shape), 0.0)
        times = np.exp(rng.normal(0, 0.01, shape) + tails).tolist()
        estimate = PairedGain()
        verdict = "continue"
        while verdict == "continue":
            for config, launches in enumerate(times[estimate.sweeps]):
                estimate.add(str(config), block_value(launches[0::2], launches[1::2]))
            final = estimate.sweeps >= 96
            if final or is_look(estimate.sweeps):
                verdict = decide(estimate.log_gain, estimate.se, estimate.dof, floor=0.0,
                                 final=final)
        accepted += verdict == "accept"
    assert accepted / decisions <= 0.01


def test_gate_decisions_are_kept_per_best_bounded_and_survive_a_damaged_state() -> None:
    v0 = Version("v0", None, "seed", "", {}, None, 0.0)
    v1 = Version("v1", "v0", "tuner", "", {}, None, 0.0)
    decisions = GateDecisions()
    decisions.add("k" * 64, v0, "a2")
    assert decisions.get("k" * 64, v0) == "a2"
    assert decisions.get("k" * 64, v1) is None  # a new best is a new question
    assert decisions.get(None, v0) is None
    for number in range(DECISIONS_KEPT + 5):
        decisions.add(f"{number:024x}" + "0" * 40, v0, f"a{number}")
    assert len(decisions.entries) == DECISIONS_KEPT
    assert decisions.get("k" * 64, v0) is None  # the oldest went first
    assert GateDecisions.from_doc(decisions.to_doc()) == decisions
    assert GateDecisions.from_doc({"x": "not a pair", "y": ["v0"]}) == GateDecisions()
    assert GateDecisions.from_doc(None) == GateDecisions()



def test_the_gate_measures_for_the_sessions_cap_or_the_targets(
    template: Path, session: Session, tmp_path: Path, worker: Worker
) -> None:
    """`avo run --gate-cap` is kept with the session's settings and is the gate's plan."""
    evaluator = Evaluator(TARGET, worker, quick=True)
    with Session.open(template, writable=False) as seeded:
        meta, seed = seeded.meta, seeded.read_files("v0")
    for name, cap in (("uncapped", None), ("capped", 3.5)):
        with Session.create(tmp_path / name, target=meta["target"], operator="tuner",
                            seed_files=seed, score=Score(1.0, unit=TARGET.unit),
                            host=meta["host"],
                            settings={**meta["settings"], "gate_cap_s": cap}) as made:
            assert Engine(made, Tuner(1), evaluator).gate.plan.cap_s == (
                cap or TARGET.gate_cap_s)
    # The engine tests' seeded session is capped so (engine_fixtures.capped_template).
    assert Engine(session, Tuner(1), evaluator).gate.plan.cap_s == SHORT_GATE_CAP_S


def test_a_score_keeps_each_configurations_ratio_to_every_baseline_timed_beside_it(
    template: Path, worker: Worker
) -> None:
    evaluator = Evaluator(TARGET, worker, quick=True)
    with Session.open(template, writable=False) as seeded:
        result = evaluator.evaluate(seeded.read_files("v0"))
    score = score_of(result)
    assert score is not None and score.ratios
    assert score.ratios == {c.name: c.ratios for c in result.timed}
    assert all(set(r) == {"torch-sdpa-cpu"} for r in score.ratios.values())
