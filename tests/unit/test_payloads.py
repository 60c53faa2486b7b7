"""The typed contracts: event payloads and the run state read back what was written, read what
today's writers write, and turn what does not parse into a value a reader can show."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_session
from engine_helpers import start

from avo_tui.engine import Guidance, Hint, Rollback, SetBudgets
from avo_tui.evaluation import Worker
from avo_tui.store import (
    PAYLOAD_TYPES,
    AttemptPayload,
    BenchmarkPayload,
    CommitPayload,
    CompilePayload,
    CorrectnessPayload,
    ErrorPayload,
    Event,
    EventKind,
    FlaggedPayload,
    GuidancePayload,
    HintPayload,
    InFlight,
    MalformedPayload,
    OperatorPayload,
    PausePayload,
    Payload,
    PayloadError,
    PlanPayload,
    QueuedPayload,
    RescorePayload,
    ResearchPayload,
    ResumePayload,
    RollbackPayload,
    RunState,
    Score,
    Session,
    SessionPayload,
    StatusPayload,
    StepPayload,
    StepResumedPayload,
    SupervisorPayload,
    Suspect,
    SuspectPayload,
    ToolCallPayload,
    UnknownPayload,
    UnreadablePayload,
    append_payload,
    payload_of,
)
from avo_tui.store.run_state import LaneState, Rescored

# Every kind, in every shape its writers use.
SAMPLES: list[Payload] = [
    SessionPayload("created", target="cpu-attention"),
    SessionPayload("lock_taken_over", previous="pid 12 on host"),
    PlanPayload("1. tile\n2. unroll"),
    ToolCallPayload("evaluate", input='{"quick": true}', error=True, result="FAIL"),
    CompilePayload(),
    CorrectnessPayload(),
    BenchmarkPayload(),
    AttemptPayload("a3", "slower", base="v1", detail="12.5 GFLOP/s"),
    CommitPayload("v2", "v1", "tuner", 41.5, "UNROLL 1 -> 2"),
    CommitPayload("v3", "v2", "operator", None),
    HintPayload("received", "try BLOCK_Q=64"),
    HintPayload("unusable", "make it faster", note="names no knob"),
    GuidancePayload("set", "vary BLOCK_K only"),
    GuidancePayload("cleared"),
    PausePayload(),
    PausePayload("cost budget reached ($2.40 of $2.00)"),
    ResumePayload(),
    RollbackPayload("v4", "v2"),
    SupervisorPayload("8 attempts without a commit", "redirect", attempt="a40"),
    SupervisorPayload("8 attempts without a commit", "review", proposals="1. fuse\n2. split"),
    SuspectPayload("held", "a7", base="v2", author="agent", gmean=9.5e3, unit="TFLOP/s",
                   flags=("beyond the peak", "a 40x jump")),
    SuspectPayload("approved", "a7", version="v5"),
    SuspectPayload("rejected", "a7", reason="rejected by the operator"),
    StepPayload(4, "committed v3", version="v3", cost_usd=0.25, tokens=1200, transcript="ab12"),
    StepPayload(5, "step failed: overloaded", failed=True),
    StepResumedPayload(3, "resumed the interrupted step at turn 4"),
    StatusPayload("stopped", "quit from the app"),
    StatusPayload("budgets", changes={"max_cost_usd": 40.0, "max_tokens": None}),
    ErrorPayload("cannot roll back: no version 'v9'"),
    ErrorPayload("step failed on an internal error", traceback="Traceback ..."),
    OperatorPayload("agent", "tuner"),
    QueuedPayload(("pause", "hint 'try BLOCK_Q=64'")),
    ResearchPayload("record", 3, "v2", "committed v3", ideas=("a7 promising: BLOCK_K 64",),
                    lines_added=4, lines_removed=2, change="b8s4096: +3.1%", final="done",
                    lesson="BLOCK_K 64 halves the smem stalls"),
    ResearchPayload("review", 3, "v2", "approve", final="no race found"),
    RescorePayload("v3", "measured", 1172.0, 101.5, "GFLOP/s", beside="v2",
                   gain="+0.12% ± 0.05% on v2 timed beside it (40 sweeps, 10 s)",
                   reason="pinned the other runner"),
    RescorePayload("v0", "measured", 100.0, 101.0, "GFLOP/s"),
    RescorePayload("v4", "followed", 1190.0, 103.1, "GFLOP/s", beside="v3"),
    FlaggedPayload("v3", "cudnn", recorded=1.104, measured=0.552, allowed_pct=2.5,
                   attempt="a12"),
]


def test_every_kind_has_a_payload_type_and_a_sample() -> None:
    assert set(PAYLOAD_TYPES) == {k.value for k in EventKind}
    assert {type(p) for p in SAMPLES} == set(PAYLOAD_TYPES.values())


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: f"{p.KIND}")
def test_a_payload_reads_back_what_it_wrote(payload: Payload) -> None:
    doc = payload.to_doc()
    assert doc["_v"] == type(payload).VERSION == 1
    assert type(payload).from_doc(doc) == payload
    assert payload_of(Event(1, 0.0, payload.KIND, doc)) == payload


def test_documents_keep_todays_keys_and_today_s_documents_read() -> None:
    """The documents written before payloads were typed (no ``_v``) are version 1."""
    rollback = {"from": "v3", "to": "v1"}
    assert RollbackPayload.from_doc(rollback) == RollbackPayload("v3", "v1")
    assert RollbackPayload("v3", "v1").to_doc() == {**rollback, "_v": 1}
    budgets = {"status": "budgets", "max_cost_usd": 40.0}
    assert StatusPayload.from_doc(budgets).changes == {"max_cost_usd": 40.0}
    assert StatusPayload.from_doc(budgets).to_doc() == {**budgets, "reason": "", "_v": 1}
    # an optional field that is None is left out: a shape stores only its own keys
    assert SuspectPayload("approved", "a7", version="v5").to_doc() == {
        "action": "approved", "attempt": "a7", "version": "v5", "_v": 1}


@pytest.mark.parametrize(("kind", "data", "problem"), [
    ("plan", {"txt": "tile it"}, "no 'text'"),
    ("plan", {"text": 42}, "'text'"),
    ("commit", {"version": "v1", "parent": "v0", "author": "agent", "gmean": "fast"}, "'gmean'"),
    ("step", {"step": True, "summary": "done"}, "'step'"),
    ("hint", {"action": "ignored", "text": "x"}, "'action'"),
    ("suspect", {"action": "held", "attempt": "a1", "flags": "beyond"}, "'flags'"),
    ("error", ["not", "a", "mapping"], "not a mapping"),
    ("plan", {"text": "from the future", "_v": 2}, "newer avo"),
    ("plan", {"text": "x", "_v": "one"}, "bad version"),
    ("rescore", {"version": "v1", "how": "guessed", "was": 1.0, "now": 2.0}, "'how'"),
    ("rescore", {"version": "v1", "how": "followed", "was": 1.0}, "no 'now'"),
])
def test_what_does_not_parse_is_a_value_naming_the_problem(
    kind: str, data: object, problem: str
) -> None:
    with pytest.raises(PayloadError, match=problem):
        PAYLOAD_TYPES[kind].from_doc(data)
    read = payload_of(Event(1, 0.0, kind, data))  # type: ignore[arg-type]
    assert isinstance(read, MalformedPayload)
    assert (read.kind, read.doc) == (kind, data)
    assert problem in read.problem


def test_an_unknown_kind_is_a_value_too() -> None:
    read = payload_of(Event(1, 0.0, "lane_started", {"lane": 2}))
    assert isinstance(read, UnknownPayload) and isinstance(read, UnreadablePayload)
    assert (read.kind, read.doc) == ("lane_started", {"lane": 2})


def test_append_payload_writes_the_document_and_checks_it(tmp_path: Path) -> None:
    with make_session(tmp_path / "s") as session:
        event = append_payload(session, HintPayload("received", "try BLOCK_Q=64"))
        assert session.events()[-1] == event
        assert event.data == {"action": "received", "text": "try BLOCK_Q=64", "_v": 1}
        assert payload_of(event) == HintPayload("received", "try BLOCK_Q=64")
        with pytest.raises(PayloadError, match="'text'"):  # what the type checker missed
            append_payload(session, PlanPayload(Path("plan.md")))  # type: ignore[arg-type]
        assert session.last_seq == event.seq  # nothing was written


# -- the run state ----------------------------------------------------------------------------


def full_state() -> RunState:
    suspect = Suspect("a7", "v2", "agent", "fuse the loops", ("beyond the peak",), 9.5e3,
                      ratio=40.0, created=1.0)
    return RunState(
        head="v3", status="paused", reason="cost budget reached", step=12, updated=5.0,
        budgets={"max_steps": None, "hours": None, "max_cost_usd": 2.0, "max_tokens": None},
        usage={"steps": 12, "seconds": 4242.0, "cost_usd": 2.4, "tokens": 56_000},
        noise={"floor_pct": 0.5}, gate_decisions={"k": ["v2", "a5"]},
        supervisor={"attempts_since_commit": 3}, operator_memory={"notes": ["REPEAT 2 wins"]},
        baselines={"k": {"b1": {"reference": {"median_s": 0.5}}}},
        guidance="keep it", suspects={"a7": suspect}, knowledge=("/notes",),
        lanes={"1": LaneState("agent", "paused", pending_hints=("try BLOCK_Q=64",),
                              in_flight=InFlight("v3", "agent", {"kernel.c": "ab12"}, 7.0))},
        rescored={"v2": Rescored(Score(9.5, per_config={"b1": 9.5}, ratio=1.1, baseline="numpy",
                                       ratios={"b1": {"numpy": 1.1}}, chained_from="v1",
                                       measured=9.0), event=41)},
    )


def test_the_run_state_reads_back_what_it_wrote() -> None:
    state = full_state()
    assert RunState.from_doc(state.to_doc()) == state
    assert RunState.from_doc(state.to_doc()).damaged == ()
    assert state.usage_figure("tokens") == 56_000 and state.usage_figure("nothing") == 0.0


def test_a_damaged_state_field_reads_as_its_default_and_is_named() -> None:
    doc = full_state().to_doc() | {
        "status": ["paused"], "step": "twelve", "usage": "lots", "guidance": 5,
        "baselines": ["fast"],
    }
    doc["suspects"] = {**doc["suspects"], "a8": {"not": "a suspect"}}
    doc["lanes"] = {"1": {"in_flight": {"base": 7}, "pending_hints": "try"}}
    state = RunState.from_doc(doc)
    assert state.damaged == ("baselines", "guidance", "lanes.1", "status", "step", "suspects.a8",
                             "usage")
    assert (state.status, state.step, state.usage, state.in_flight, state.guidance) == (
        "unknown", 0, None, None, None)
    assert state.usage_figure("seconds") == 0.0
    assert list(state.suspects) == ["a7"]  # the readable one stays
    assert state.head == "v3" and state.reason == "cost budget reached"  # the rest reads
    assert RunState.from_doc(None).damaged == ("state",)


def test_what_a_real_run_writes_today_reads_as_typed(session: Session, worker: Worker) -> None:
    """The engine still writes with ``append_event(kind, **data)`` and ``set_state``: every
    event and the state it leaves must read without a problem."""
    def steer(engine: object) -> None:
        for command in (Hint("please try BLOCK_Q = 16"), Hint("make it faster"),
                        Guidance("keep UNROLL=2"), SetBudgets({"max_cost_usd": 5.0})):
            engine.submit(command)  # type: ignore[attr-defined]

    def clear_and_roll_back(engine: object) -> None:
        engine.submit(Guidance(None))  # type: ignore[attr-defined]
        engine.submit(Rollback("v0"))  # type: ignore[attr-defined]

    start(session, worker, max_steps=1, before=steer).finish()
    start(session, worker, max_steps=2, before=clear_and_roll_back).finish()
    session.refresh()
    events = session.events()
    unreadable = [(e.kind, e.data) for e in events
                  if isinstance(payload_of(e), UnreadablePayload)]
    assert unreadable == []
    assert {"session", "hint", "guidance", "status", "step", "rollback"} <= {e.kind for e in events}
    state = RunState.from_doc(session.state)
    assert state.damaged == ()
    assert state.status == "finished" and state.step == 2 and state.in_flight is None
    assert state.budgets is not None and state.budgets["max_steps"] == 2


def test_what_the_session_writes_today_reads_as_typed(tmp_path: Path) -> None:
    with make_session(tmp_path / "s") as session:
        files = {"kernel.c": "int x;\n"}
        session.record_attempt(files, base="v0", author="tuner", outcome="promising")
        session.commit(files, author="tuner", message="x", score=Score(2.0))
        for gmean in (40.0, 50.0):
            session.hold_suspect({"kernel.c": f"int x = {gmean};\n"}, base="v1",
                                 author="agent", message="fast", flags=["a jump"],
                                 score=Score(gmean))
        session.approve_suspect("a2", message="approved")
        session.reject_suspect("a3", reason="too good")
        session.rollback("v0")
        session.set_state(status="running", step=3)
        session.close()
        with Session.open(tmp_path / "s") as reopened:  # the lock's takeover event too
            events = reopened.events()
            assert [type(payload_of(e)).__name__ for e in events] == [
                "SessionPayload", "AttemptPayload", "CommitPayload", "AttemptPayload",
                "SuspectPayload", "AttemptPayload", "SuspectPayload", "CommitPayload",
                "SuspectPayload", "SuspectPayload", "RollbackPayload", "StatusPayload"]
            assert payload_of(events[-1]) == StatusPayload("running", changes={"step": 3})


def test_a_pending_suspect_reads_the_same_through_the_run_state(tmp_path: Path) -> None:
    with make_session(tmp_path / "s") as session:
        held = session.hold_suspect({"kernel.c": "int x;\n"}, base="v0", author="tuner",
                                    message="faster", flags=["a 40x jump"], score=Score(40.0))
        assert RunState.from_doc(session.state).suspects == {held.attempt: held}
        assert session.suspects() == [held]
