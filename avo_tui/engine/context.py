"""What an operator's step sees: the run behind the StepContext protocol, for one lane."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..operators.protocol import GateAnswer, Spending, Trial
from ..store import Attempt, HintPayload, Payload, StoreError, Version
from ..store.view import SessionView
from .books import RunBooks
from .control import Control
from .lanes import Lane
from .steering import Steering
from .trials import Trials


class RunContext:
    """The run behind the StepContext protocol, for one lane. ``lane`` is the lane's label:
    its number in a run of several, None in a run of one."""

    def __init__(self, lane: Lane, books: RunBooks, control: Control, trials: Trials,
                 steering: Steering) -> None:
        self._lane = lane
        self._books = books
        self._control = control
        self._trials = trials
        self._steering = steering
        self.session = SessionView(books.session)  # only the gate commits
        self.target = books.evaluator.target
        self.quick = books.evaluator.quick

    @property
    def lane(self) -> int | None:
        return self._lane.label

    @property
    def lanes(self) -> int:
        return len(self._books.lanes)

    def safe_point(self) -> None:
        self._control.safe_point(self._lane)

    def pause(self, reason: str) -> None:
        self._control.pause([self._lane], reason)

    def charge(self, cost_usd: float, tokens: int) -> None:
        self._steering.charge(self._lane, cost_usd, tokens)

    def spending(self) -> Spending:
        usage, budgets = self._books.usage, self._books.budgets
        return Spending(usage.cost_usd, budgets.max_cost_usd, usage.tokens, budgets.max_tokens,
                        usage.steps, budgets.max_steps, usage.last_step_cost_usd)

    def announce(self, payload: Payload) -> None:
        self._books.event(payload, self._lane.label)

    def memory(self) -> dict[str, Any]:
        return self._steering.memory(self._lane)

    def remember(self, **fields: Any) -> None:
        self._steering.remember(self._lane, fields)

    def update_memory(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._steering.update_memory(self._lane, change)

    def head(self) -> Version | None:
        """The version this step builds on: the lane's starting version (the head may move
        under it as other lanes commit); None while there is none yet (it writes v0)."""
        base = self._lane.base
        return self.session.version(base) if base else self.session.head

    def best(self) -> Version | None:
        return self.session.best()

    def carried(self) -> Attempt | None:
        carry = self._lane.carry
        if carry is None:
            return None
        try:
            return self.session.attempt(carry)
        except StoreError:
            return None

    def commit_bar(self) -> str:
        return self._trials.commit_bar()

    def take_hints(self) -> list[str]:
        self._control.safe_point(self._lane)
        return self._steering.take_hints(self._lane)

    def acknowledge_hint(self, text: str, used: bool, note: str) -> None:
        self._books.event(HintPayload("used" if used else "unusable", text, note),
                          self._lane.label)

    @property
    def guidance(self) -> str | None:
        return self._steering.guidance_for(self._lane)

    def spend_guidance(self, text: str) -> None:
        self._steering.spend_guidance(self._lane, text)

    def plan(self, text: str) -> None:
        self._steering.plan(self._lane, text)

    def save_conversation(self, doc: dict[str, Any]) -> None:
        self._books.session.save_draft(self._lane.draft, doc)

    def saved_conversation(self) -> dict[str, Any] | None:
        return self._books.session.draft(self._lane.draft)

    def progress(self, text: str) -> None:
        self._books.progress(text, self._lane.label)

    @property
    def step_number(self) -> int:
        return self._lane.step_number or self._books.usage.steps + 1

    def hardware(self) -> dict[str, object]:
        return {**(self._books.session.run_state.hardware or {}),
                **self._books.evaluator.software()}

    def baselines(self) -> dict[str, dict[str, float]]:
        return self._books.evaluator.baseline_throughputs()

    def evaluate(
        self, files: dict[str, str], *, base: str | None, note: str = "", quick: bool = False,
        idea: str | None = None,
    ) -> Trial:
        self._control.safe_point(self._lane)
        return self._trials.evaluate(files, base=base, author=self._lane.operator.name,
                                     note=note, quick=quick, idea=idea, lane=self._lane)

    def commit(self, trial: Trial, message: str, transcript: str | None = None) -> Version | None:
        self._control.safe_point(self._lane)
        return self._trials.commit(trial, message, self._lane.operator.name, self._lane,
                                   transcript)

    def gate_answer(self) -> GateAnswer | None:
        return self._lane.answer

    def reading(self, attempt: str) -> Trial | None:
        try:
            found = self.session.attempt(attempt)
        except StoreError:
            return None
        with self._books.locked():
            return self._trials.reading(found)
