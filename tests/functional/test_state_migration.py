"""A session saved before every lane was alike (run state version 1: the first lane's candidate
in flight, hints, failed steps and directions in the state's top-level fields) opens and
resumes: its state is migrated once, and nothing it held is lost. The fixture was written by
the code of 84750d5 (tests/fixtures/session-state-v1)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from avo_tui.engine import Engine, Evaluator
from avo_tui.evaluation import Worker, get_target
from avo_tui.operators.protocol import StepContext, StepResult
from avo_tui.store import Outcome, Session
from avo_tui.store.run_state import VERSION, VERSION_KEY

SAVED = Path(__file__).parents[1] / "fixtures" / "session-state-v1"


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    shutil.copytree(SAVED, tmp_path / "saved")
    return tmp_path / "saved"


class Recorder:
    """An operator whose one step records what it was handed, and then has nothing left."""

    name = "tuner"

    def __init__(self) -> None:
        self.hints: list[str] = []
        self.memory: dict[str, Any] = {}
        self.guidance: str | None = None

    def step(self, ctx: StepContext) -> StepResult:
        self.hints = ctx.take_hints()
        self.memory = ctx.memory()
        self.guidance = ctx.guidance
        ctx.remember(directions=["tile the loop"])
        return StepResult("recorded", exhausted=True)

    def redirect(self, ctx: StepContext, reason: str) -> None:
        pass


def test_a_version_1_state_reads_with_the_first_lanes_fields_in_its_lane(saved: Path) -> None:
    with Session.open(saved, writable=False) as session:
        state = session.run_state
    first = state.lane(1)
    assert first.pending_hints == ("try TILE=64",) and first.failed_steps == 2
    assert first.in_flight is not None and first.in_flight.base == "v0"
    assert first.memory == {"directions": ["unroll the inner loop"]}
    assert state.operator_memory == {"notes": ["kept"]}
    assert state.guidance == "keep UNROLL=2" and not state.damaged


def test_a_version_1_session_resumes_with_nothing_lost(saved: Path) -> None:
    operator = Recorder()
    with Session.open(saved) as session:
        evaluator = Evaluator(get_target("cpu-attention"), Worker("cpu"), quick=True)
        Engine(session, operator, evaluator).run()
        attempts = session.recent_attempts(5)
        kernel = session.blobs.get_text(attempts[0].files["attention.c"])
        doc, state = session.state, session.run_state
    assert [a.outcome for a in attempts] == [Outcome.INTERRUPTED]  # the killed evaluation
    assert "a candidate in flight" in kernel
    assert operator.hints == ["try TILE=64"]
    assert operator.memory == {"notes": ["kept"], "directions": ["unroll the inner loop"]}
    assert operator.guidance == "keep UNROLL=2"
    # Migrated once: the document is version 2, with the old top-level fields gone.
    assert doc[VERSION_KEY] == VERSION
    assert not {"in_flight", "pending_hints", "failed_steps"} & set(doc)
    assert state.lane(1).memory == {"directions": ["tile the loop"]}
    assert state.lane(1).in_flight is None and state.lane(1).pending_hints == ()
    assert state.operator_memory == {"notes": ["kept"]}
