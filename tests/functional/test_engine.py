"""The engine's semantics on the real thing: a TinyDB session on disk, the tuner, and the CPU
evaluation worker scoring the real seed kernel on the cpu-attention quick grid."""

from __future__ import annotations

from pathlib import Path

from agent_helpers import BROKEN, THREADS_LINE, edit, make_agent
from engine_helpers import (
    KERNEL,
    TARGET,
    LiveRun,
    judged_against,
    start,
    submitting,
    tenfold_session,
)
from fake_anthropic import FakeAnthropic, reply, text, tool_use

from avo_tui.engine import (
    Budgets,
    Guidance,
    Hint,
    OperatorEdit,
    Pause,
    Resume,
    Rollback,
    Stop,
    SupervisorLimits,
    send,
)
from avo_tui.evaluation import Worker
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.declarations.candidate import apply_knobs
from avo_tui.store import Score, Session


def knob(session: Session, files: dict[str, str], name: str) -> str:
    from avo_tui.evaluation.declarations import contract

    return next(k.value for k in contract.parse(files["attention.c"]).knobs if k.name == name)


def attempt_files(session: Session, attempt_id: str) -> dict[str, str]:
    attempt = session.attempt(attempt_id)
    return {n: session.blobs.get_text(h) for n, h in attempt.files.items()}


def test_the_tuner_commits_an_improvement_over_its_seed(tmp_path: Path, worker: Worker) -> None:
    """The seed does all of its work twelve times and declares REPEAT 1 or 12 (engine_helpers.
    tenfold_seed): the tuner's one candidate, REPEAT 1, is 12 times as fast by construction, a
    gain no load on the CPU can hide (docs/testing.md), under the tenfold target's jump limit."""
    with tenfold_session(tmp_path / "twelve-times", worker) as session:
        files = session.read_files(session.version("v0"))
        seed = session.version("v0")
        assert seed.score and seed.score.gmean > 0
        reason = start(session, worker, max_steps=5).finish(timeout=300)
        assert [v.author for v in session.lineage] == ["seed", "tuner"], reason
        best = session.version("v1")
        assert best.score and best.parent == "v0"
        assert session.read_files(best) == apply_knobs(files, {"REPEAT": "1"})
        gate = [a for a in session.recent_attempts(10) if a.version == best.id]
        assert gate and gate[0].outcome == "committed" and gate[0].score == best.score
        assert "re-evaluation" in gate[0].detail and judged_against(gate[0].detail)
        # Nothing else can be reached from v1: the run finishes rather than idling.
        assert reason.startswith("every knob setting"), reason


def went_round_while_paused(live: LiveRun) -> None:
    """Wait until the paused engine has read its inbox again (a hint it acknowledges as
    received): it is alive, and what it did meanwhile can be checked, with no sleep."""
    marker = f"marker {len(live.events)}"
    live.engine.submit(Hint(marker))
    live.wait(lambda: any(e.data.get("text") == marker for e in live.kinds("hint")))
    assert live.engine.paused


def test_pause_holds_before_the_next_evaluation_and_resume_continues(
    session: Session, worker: Worker
) -> None:
    live = start(session, worker, before=lambda engine: engine.submit(Pause()))
    live.wait(lambda: bool(live.kinds("pause")))
    assert session.state["status"] == "paused"
    went_round_while_paused(live)
    assert session.attempt_count == 0 and not live.evaluating.is_set()
    live.engine.submit(Resume())
    live.wait(lambda: session.attempt_count >= 1)
    assert session.state["status"] == "running" and live.kinds("resume")
    live.engine.submit(Stop())
    assert live.finish() == "stop requested"
    assert session.state["status"] == "stopped"


def test_a_pause_during_an_evaluation_lets_it_finish_and_be_recorded(
    session: Session, worker: Worker
) -> None:
    live = start(session, worker)
    live.wait(live.evaluating.is_set)
    live.engine.submit(Pause())
    live.wait(lambda: bool(live.kinds("pause")))
    assert session.attempt_count == 1  # the running evaluation finished and was recorded first
    assert session.run_state.in_flight is None
    pause_seq = live.kinds("pause")[0].seq
    assert next(e for e in live.events if e.kind == "attempt").seq < pause_seq
    went_round_while_paused(live)
    assert session.attempt_count == 1  # nothing new started
    live.engine.submit(Stop())
    live.finish()


def test_a_hint_naming_a_knob_pins_the_next_candidate(session: Session, worker: Worker) -> None:
    def hints(engine: object) -> None:
        live_engine = engine
        live_engine.submit(Hint("please try BLOCK_Q = 16"))  # type: ignore[attr-defined]
        live_engine.submit(Hint("make it faster"))  # type: ignore[attr-defined]

    live = start(session, worker, max_steps=1, before=hints)
    live.finish()
    received = [e.data for e in live.kinds("hint") if e.data["action"] == "received"]
    assert [h["text"] for h in received] == ["please try BLOCK_Q = 16", "make it faster"]
    acks = {e.data["text"]: e.data for e in live.kinds("hint") if e.data["action"] != "received"}
    assert acks["please try BLOCK_Q = 16"]["action"] == "used"
    assert acks["make it faster"]["action"] == "unusable"
    assert "names no knob" in acks["make it faster"]["note"]
    assert knob(session, attempt_files(session, "a1"), "BLOCK_Q") == "16"
    assert session.run_state.pending_hints == ()


def test_guidance_holds_for_every_step_until_cleared(session: Session, worker: Worker) -> None:
    live = start(session, worker, max_steps=3,
                 before=lambda engine: engine.submit(Guidance("keep UNROLL=2")))
    live.finish()
    firsts = [a for a in session.recent_attempts(100) if "re-evaluation" not in a.detail]
    assert len(firsts) == 3
    assert {knob(session, attempt_files(session, a.id), "UNROLL") for a in firsts} == {"2"}
    assert session.state["guidance"] == "keep UNROLL=2"
    acks = [e for e in live.kinds("hint") if e.data["action"] == "used"]
    assert len(acks) == 1  # acknowledged once, not every step

    live = start(session, worker, max_steps=4, before=lambda engine: engine.submit(Guidance(None)))
    live.finish()
    assert session.state["guidance"] is None
    assert live.kinds("guidance")[-1].data["action"] == "cleared"


def test_an_operator_edit_commits_when_correct_and_is_refused_when_not(
    session: Session, worker: Worker
) -> None:
    seed = session.read_files("v0")
    good = apply_knobs(seed, {"THREADS": "2"})
    broken = {"attention.c": seed["attention.c"].replace("float sum = 0.0f;", "float sum = ;")}
    live = start(session, worker, max_steps=None, before=submitting(
        Pause(),
        OperatorEdit(broken, "typo"),
        OperatorEdit(good, "two threads"),
    ))
    live.wait(lambda: len(session.lineage) == 2)
    v1 = session.version("v1")
    assert v1.author == "operator" and v1.message == "two threads"
    assert session.version("head").id == "v1"
    assert session.read_files("v1") == good
    outcomes = [a.outcome for a in session.recent_attempts(10)][::-1]
    assert outcomes == ["compile", "committed"] or outcomes[0] == "compile"
    errors = [e.data["message"] for e in live.kinds("error")]
    assert any("hand edit was not committed: compile" in m for m in errors)
    live.engine.submit(Stop())
    live.finish()


def test_a_hand_edit_twin_of_an_attempt_is_measured_and_one_of_a_version_is_not_committed(
    session: Session, worker: Worker
) -> None:
    """Issue 71: a hand edit identical to an earlier attempt was committed as v2 with no score
    (``-``), and was missing from the report's charts. A version always has a score: the twin
    of an attempt is measured for one; the twin of a version is the lineage's already."""
    seed = session.read_files("v0")
    tried = apply_knobs(seed, {"THREADS": "2"})
    session.record_attempt(tried, base="v0", author="tuner", outcome="slower",
                           score=Score(HIGH_SCORE, unit="GFLOP/s"))  # no reading could match
    live = start(session, worker, max_steps=None, before=submitting(
        Pause(),
        OperatorEdit(tried, "the tuner's, by hand"),  # the attempt's twin: measured, v1
        OperatorEdit(tried, "again"),  # now v1's twin
        OperatorEdit(seed, "the seed"),  # v0's twin
        OperatorEdit({n: t + "// a note\n" for n, t in seed.items()}, "noted"),  # v0's kernel
    ))
    # each edit ends as a version or an error
    live.wait(lambda: len(session.lineage) - 1 + len(live.kinds("error")) >= 4)
    live.engine.submit(Stop())
    live.finish()
    assert [v.id for v in session.lineage] == ["v0", "v1"]
    v1 = session.version("v1")
    assert v1.author == "operator" and v1.score is not None
    assert 0 < v1.score.gmean < HIGH_SCORE  # measured now, not the attempt's score taken
    assert all(v.score is not None for v in session.lineage)
    errors = [e.data["message"] for e in live.kinds("error")]
    assert [m.split(": nothing new")[0] for m in errors] == [
        "the hand edit was not committed: hand edit: identical to v1",
        "the hand edit was not committed: hand edit: identical to v0",
        "the hand edit was not committed: hand edit: identical to v0"], errors
    assert all(m.endswith("roll back to that version to build on it again") for m in errors)


def test_a_rollback_moves_the_head_and_the_next_candidates_branch_from_there(
    session: Session, worker: Worker
) -> None:
    seed = session.read_files("v0")
    live = start(session, worker, max_steps=None, before=submitting(
        Pause(),
        OperatorEdit(apply_knobs(seed, {"THREADS": "2"}), "two threads"),
    ))
    live.wait(lambda: session.version("head").id == "v1")
    live.engine.submit(Rollback("v0"))
    live.engine.submit(Rollback("v99"))
    live.engine.submit(Resume())
    live.wait(lambda: session.attempt_count >= 3)
    live.engine.submit(Stop())
    live.finish()
    assert live.kinds("rollback")[0].data == {"from": "v1", "to": "v0", "_v": 1}
    assert any("cannot roll back" in e.data["message"] for e in live.kinds("error"))
    assert session.attempt("a2").base == "v0"
    for v in session.lineage:
        if v.number > 1:
            assert v.parent == "v0"


def test_stop_ends_the_run_at_a_safe_point(session: Session, worker: Worker) -> None:
    live = start(session, worker)
    live.wait(live.evaluating.is_set)
    live.engine.submit(Stop("enough"))
    assert live.finish() == "enough"
    assert session.state["status"] == "stopped" and session.run_state.in_flight is None
    assert session.attempt_count >= 1
    assert all(a.outcome != "interrupted" for a in session.recent_attempts(20))


def test_a_resumed_engine_keeps_steps_guidance_and_pending_hints(
    session: Session, worker: Worker
) -> None:
    live = start(session, worker, max_steps=2,
                 before=lambda engine: engine.submit(Guidance("THREADS=2")))
    live.finish()
    assert session.state["step"] == 2
    send(session.directory, Hint("BLOCK_K=16"))  # from "another process" while nothing runs
    (session.directory / "inbox" / "0-bad.json").write_text("{not json")
    live = start(session, worker, max_steps=3)  # a fresh engine and tuner on the same session
    live.finish()
    assert session.state["step"] == 3 and session.state["usage"]["steps"] == 3
    newest = session.recent_attempts(10)
    first = next(a for a in newest if "re-evaluation" not in a.detail)
    files = attempt_files(session, first.id)
    assert knob(session, files, "THREADS") == "2" and knob(session, files, "BLOCK_K") == "16"
    assert any("unreadable command" in e.data["message"] for e in live.kinds("error"))
    assert not list((session.directory / "inbox").glob("*.json"))


def test_the_gate_refuses_a_source_identical_to_its_base_without_re_evaluating(
    session: Session, worker: Worker
) -> None:
    from avo_tui.engine import Engine, Evaluator
    from avo_tui.engine.evaluator import sources_key
    from avo_tui.evaluation import EvalResult
    from avo_tui.operators import Trial, Tuner

    evaluator = Evaluator(TARGET, worker, quick=True)
    engine = Engine(session, Tuner(1), evaluator)
    files = session.read_files("v0")
    # As if noise had flattered the seed's own source into a "promising" attempt.
    attempt = session.record_attempt(files, base="v0", author="tuner", outcome="promising")
    flattered = EvalResult("cpu-attention", "c", "cpu", "GFLOP/s", seed=1, quick=True)
    trial = Trial(attempt, flattered, files, sources_key(files))
    assert engine.commit(trial, "nothing new", "tuner") is None
    latest = session.recent_attempts(1)[0]
    assert latest.outcome == "unchanged"
    assert latest.detail == "identical to v0: nothing new to commit"
    assert evaluator.count == 0  # refused before any re-evaluation
    assert len(session.lineage) == 1


VARIED = "UNROLL"
GUIDANCE = f"vary {VARIED} only"
# Earlier candidates that differ in other knobs and scored far above anything measured here: the
# tuner's selection picks them as parents, so their values reach the next candidates unless
# the guidance keeps them out.
OTHER_KNOBS = ({"BLOCK_Q": "8", "THREADS": "4"}, {"BLOCK_K": "16", "THREADS": "2"})
HIGH_SCORE = 1e9


def knobs_of(session: Session, hashes: dict[str, str]) -> dict[str, str]:
    source = session.blobs.get_text(hashes[KERNEL])
    return {k.name: k.value for k in contract.parse(source).knobs}


def changed(session: Session, attempt_id: str) -> set[str]:
    """The knobs an attempt changed against the version it was built on."""
    attempt = session.attempt(attempt_id)
    assert attempt.base is not None, "the session has a seed"
    before = knobs_of(session, session.version(attempt.base).files)
    after = knobs_of(session, attempt.files)
    return {name for name, value in after.items() if before[name] != value}


def test_the_tuner_varies_only_the_guided_knobs_until_the_guidance_is_cleared(
    session: Session, worker: Worker
) -> None:
    seed = session.read_files("v0")
    for values in OTHER_KNOBS:
        session.record_attempt(apply_knobs(seed, values), base="v0", author="tuner",
                               outcome="not_confirmed", score=Score(HIGH_SCORE, unit="GFLOP/s"))
    before = session.attempt_count
    live = start(session, worker, max_steps=None,
                 before=lambda engine: engine.submit(Guidance(GUIDANCE)))
    # UNROLL has three other values: once they are tried (and perhaps re-evaluated by the
    # gate), nothing is left within the guidance, and the run pauses.
    live.wait(lambda: bool(live.kinds("pause")) or session.attempt_count > before + 6, 120)
    guided = [f"a{n}" for n in range(before + 1, session.attempt_count + 1)]
    assert all(changed(session, a) == {VARIED} for a in guided), [
        (a, changed(session, a)) for a in guided]
    pause = live.kinds("pause")[0].data["reason"]
    assert "within the guidance (vary UNROLL)" in pause and "clear the guidance" in pause

    live.engine.submit(Guidance(None))
    live.engine.submit(Resume())
    cleared = session.attempt_count
    live.wait(lambda: session.attempt_count >= cleared + 3, 120)
    live.engine.submit(Stop())
    live.finish()
    free = [f"a{n}" for n in range(cleared + 1, session.attempt_count + 1)]
    assert any(changed(session, a) - {VARIED} for a in free), [
        (a, changed(session, a)) for a in free]


def test_the_agent_is_given_the_guidance_in_every_step_and_in_the_supervisor_review(
    session: Session, worker: Worker, fake: FakeAnthropic, knowledge: Path
) -> None:
    """Step 1 evaluates a kernel that does not compile; that attempt stalls the search (limit
    1), so the supervisor's review (request 3) runs before step 2 (request 4)."""
    fake.script(
        reply(tool_use(*edit(THREADS_LINE, THREADS_LINE + "\n" + BROKEN)),
              tool_use("evaluate", {"idea": "a broken line"})),
        reply(text("giving up")),
        reply(text("1. Vary THREADS.")),  # the review: its directions must respect the guidance
        reply(text("nothing to try")),
    )
    live = start(session, worker, operator=make_agent(knowledge), budgets=Budgets(max_steps=2),
                 limits=SupervisorLimits(attempts_without_commit=1),
                 before=lambda engine: engine.submit(Guidance(GUIDANCE)))
    live.finish(120)
    assert len(fake.requests) == 4 and live.kinds("supervisor")
    for step in (fake.requests[0], fake.requests[3]):
        brief = step.body["messages"][0]["content"][0]["text"]
        assert "## Standing guidance from the operator" in brief and GUIDANCE in brief
    assert f"guidance, which every direction must respect: {GUIDANCE}" in (
        fake.requests[2].texts()[0])
