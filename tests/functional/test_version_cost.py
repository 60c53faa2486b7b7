"""What a committed version cost: the API spending since the commit before it, every step that
led to it, failed ones included, so that the versions' costs plus the spending since the last
commit add up to the session's. On the real engine, store and CPU worker, with operators that
charge scripted amounts (no network); across restarts, as a resumed run keeps counting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from agent_helpers import COMMIT_RETRIES
from engine_helpers import ONCE, TENFOLD, flagged_session, head_of, tenfold_session
from engine_helpers import start as start_engine
from test_engine_faults import Scripted

from avo_tui.engine import Approve, Engine, OperatorEdit, Usage
from avo_tui.evaluation import Worker
from avo_tui.operators import StepContext, StepResult
from avo_tui.store import Session, Version

Behaviour = Callable[[StepContext], StepResult]


def spends(cost_usd: float, tokens: int, then: Behaviour | None = None,
           failed: bool = False) -> Behaviour:
    """A step that charges ``cost_usd`` and ``tokens`` (as the agent charges each API turn),
    then does ``then``."""

    def step(ctx: StepContext) -> StepResult:
        ctx.charge(cost_usd, tokens)
        return then(ctx) if then else StepResult("spent", failed=failed)

    return step


def check_adds_up(session: Session) -> Usage:
    """The versions' costs plus the spending since the last commit are the session's."""
    usage = Usage.from_doc(session.state["usage"])
    since_usd, since_tokens = usage.since_commit()
    assert sum(v.cost_usd for v in session.lineage) + since_usd == pytest.approx(usage.cost_usd)
    assert sum(v.tokens for v in session.lineage) + since_tokens == usage.tokens
    return usage


def costs(session: Session) -> list[tuple[str, float, int]]:
    return [(v.id, round(v.cost_usd, 6), v.tokens) for v in session.lineage]


def test_a_version_approved_or_edited_by_hand_costs_what_was_spent_since_the_last_commit(
    template: Path, tmp_path: Path, worker: Worker
) -> None:
    engines: list[Engine] = []

    def gate(ctx: StepContext) -> StepResult:  # every correct candidate is held as a suspect
        head = head_of(ctx)
        files = ctx.session.read_files(head)
        files = {n: t.replace("#define REPEAT 8", "#define REPEAT 1") for n, t in files.items()}
        trial = ctx.evaluate(files, base=head.id)
        ctx.commit(trial, "REPEAT 1")
        return StepResult("asked the gate")

    def edit_mid_step(ctx: StepContext) -> StepResult:
        files = ctx.session.read_files(head_of(ctx))  # v1, approved: REPEAT 1
        edited = {n: t.replace("#define REPEAT 1", "#define REPEAT 2") for n, t in files.items()}
        assert edited != files  # a twin of v1 would not be committed (issue 71)
        engines[-1].submit(OperatorEdit(edited, "by hand"))
        ctx.safe_point()  # the edit is committed here, and the step ends
        raise AssertionError("the hand edit did not end the step")

    path = tmp_path / "flagged"
    flagged_session(path, template).close()
    with Session.open(path) as session:
        # Step 1 has its result held as a suspect; step 2 fails: nothing is committed yet.
        live = start_engine(session, worker, max_steps=2, operator=Scripted(
            spends(0.40, 4000, gate), spends(0.10, 1000, failed=True)))
        live.finish(300)
        suspects = session.suspects()
        assert len(suspects) == 1 and [v.id for v in session.lineage] == ["v0"]
        assert check_adds_up(session).since_commit() == (0.5, 5000)

    with Session.open(path) as session:  # a restart: the approval takes all of it
        live = start_engine(session, worker, max_steps=2,
                            before=lambda engine: engine.submit(Approve(suspects[0].attempt)))
        live.finish(120)
        assert costs(session) == [("v0", 0.0, 0), ("v1", 0.5, 5000)]
        assert check_adds_up(session).since_commit() == (0.0, 0)

    with Session.open(path) as session:  # another restart: a hand edit mid-step, then a step
        live = start_engine(session, worker, max_steps=4, operator=Scripted(
            spends(0.25, 2500, edit_mid_step), spends(0.05, 500)),
            before=engines.append)
        live.finish(120)
        assert costs(session)[1:] == [("v1", 0.5, 5000), ("v2", 0.25, 2500)]
        assert session.version("v2").author == "operator"
        usage = check_adds_up(session)
        assert usage.since_commit() == (0.05, 500)
        assert usage.cost_usd == pytest.approx(0.8) and usage.tokens == 8000


def test_a_version_the_gate_commits_costs_every_step_that_led_to_it(
    tmp_path: Path, worker: Worker
) -> None:
    def commit_fast(ctx: StepContext) -> StepResult:
        """Evaluate the faster kernel and ask the gate, again while a first reading comes out
        no better than the seed's stored score (agent_helpers.COMMIT_RETRIES); each try is
        an API turn that costs $0.01 and 100 tokens."""
        head = head_of(ctx)
        files = {n: t.replace(TENFOLD, ONCE) for n, t in ctx.session.read_files(head).items()}
        for _ in range(1 + COMMIT_RETRIES):
            ctx.charge(0.01, 100)
            trial = ctx.evaluate(files, base=head.id)
            version = ctx.commit(trial, "once, not twelve times")
            if version is not None:
                return StepResult("committed", committed=version)
        return StepResult("not committed")

    with tenfold_session(tmp_path / "tenfold", worker) as session:
        live = start_engine(session, worker, max_steps=3, operator=Scripted(
            spends(0.30, 3000, failed=True), spends(0.20, 2000), commit_fast))
        live.finish(300)
        version = session.version("head")
        oldest_first = [(a.outcome, a.detail) for a in session.recent_attempts(20)][::-1]
        assert version.id == "v1", oldest_first
        tries, rest = divmod(version.tokens - 5000, 100)
        assert rest == 0 and 1 <= tries <= 1 + COMMIT_RETRIES
        assert version.cost_usd == pytest.approx(0.5 + 0.01 * tries)
        assert check_adds_up(session).since_commit() == (0.0, 0)
        step_costs = [e.data["cost_usd"] for e in live.kinds("step")]
        assert sum(step_costs) == pytest.approx(version.cost_usd)  # the failed step's included


def test_a_session_from_before_versions_had_a_cost_reads_and_counts_on() -> None:
    old = {"steps": 3, "seconds": 10.0, "cost_usd": 1.5, "tokens": 900}
    usage = Usage.from_doc(old)
    assert usage.since_commit() == (1.5, 900)  # its next version takes all of it
    assert usage.committed().since_commit() == (0.0, 0)
    assert Version.from_doc({"id": "v1", "parent": "v0", "author": "agent", "message": "",
                             "files": {}, "score": None, "created": 0.0}).tokens == 0
