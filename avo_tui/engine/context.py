"""What an operator's step sees: the engine behind the StepContext protocol, for one lane."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..operators.protocol import GateAnswer, Trial
from ..store import HintPayload, Payload, Version
from ..store.view import SessionView

if TYPE_CHECKING:
    from .engine import Engine
    from .lanes import Lane


class RunContext:
    """The engine behind the StepContext protocol. Built for one lane; without one (a bare
    engine in a test) it is lane 1's, reading and writing as a run without lanes did."""

    def __init__(self, engine: Engine, lane: Lane | None = None) -> None:
        self._engine = engine
        self._lane = lane
        self.session = SessionView(engine.session)  # only the gate commits
        self.target = engine.evaluator.target

    @property
    def lane(self) -> int | None:
        return self._lane.label if self._lane else None

    @property
    def lanes(self) -> int:
        return len(self._engine.lanes) if self._lane else 1

    def safe_point(self) -> None:
        self._engine.safe_point(lane=self._lane)

    def pause(self, reason: str) -> None:
        self._engine.pause(reason, lane=self._lane)

    def charge(self, cost_usd: float, tokens: int) -> None:
        self._engine.charge(cost_usd, tokens, lane=self._lane)

    def announce(self, payload: Payload) -> None:
        self._engine.event(payload, lane=self._lane)

    def memory(self) -> dict[str, Any]:
        if self._lane is None:
            return dict(self._engine.session.run_state.operator_memory or {})
        return self._engine.memory(self._lane)

    def remember(self, **fields: Any) -> None:
        if self._lane is None:
            self._engine.session.set_state(operator_memory=self.memory() | fields,
                                           announce=False)
            return
        self._engine.remember(self._lane, fields)

    def update_memory(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._engine.update_memory(self._lane, change)

    def head(self) -> Version:
        """The version this step builds on: the head, or in a run of several lanes the version
        the lane started its step from (the head may move under it as other lanes commit)."""
        base = self._lane.base if self._lane else None
        return self.session.version(base) if base else self.session.head

    def best(self) -> Version | None:
        return self.session.best()

    def commit_bar(self) -> str:
        return self._engine.commit_bar()

    def take_hints(self) -> list[str]:
        self._engine.safe_point(lane=self._lane)
        return self._engine.take_hints(self._lane)

    def acknowledge_hint(self, text: str, used: bool, note: str) -> None:
        self._engine.event(HintPayload("used" if used else "unusable", text, note),
                           lane=self._lane)

    @property
    def guidance(self) -> str | None:
        return self._engine.guidance_for(self._lane)

    def plan(self, text: str) -> None:
        self._engine.plan(text, self._lane)

    def save_conversation(self, doc: dict[str, Any]) -> None:
        self._engine.session.save_draft(self._engine.lane(self._lane).draft, doc)

    def saved_conversation(self) -> dict[str, Any] | None:
        return self._engine.session.draft(self._engine.lane(self._lane).draft)

    def progress(self, text: str) -> None:
        self._engine._progress(text, "", self._lane)

    @property
    def step_number(self) -> int:
        lane = self._engine.lane(self._lane)
        return lane.step_number or self._engine.usage.steps + 1

    def hardware(self) -> dict[str, object]:
        return {**(self._engine.session.run_state.hardware or {}),
                **self._engine.evaluator.software()}

    def baselines(self) -> dict[str, dict[str, float]]:
        return self._engine.evaluator.baseline_throughputs()

    def evaluate(
        self, files: dict[str, str], *, base: str, note: str = "", quick: bool = False,
        idea: str | None = None,
    ) -> Trial:
        self._engine.safe_point(lane=self._lane)
        lane = self._engine.lane(self._lane)
        return self._engine.evaluate(files, base=base, author=lane.operator.name, note=note,
                                     quick=quick, idea=idea, lane=lane)

    def commit(self, trial: Trial, message: str, transcript: str | None = None) -> Version | None:
        self._engine.safe_point(lane=self._lane)
        lane = self._engine.lane(self._lane)
        return self._engine.commit(trial, message, lane.operator.name, transcript, lane=lane)

    def gate_answer(self) -> GateAnswer | None:
        return self._engine.lane(self._lane).answer
