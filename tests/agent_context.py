"""The engine's part of StepContext, in memory, for tests of the agent's tools and brief on a
real session, workspace and read-only view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from avo_tui.evaluation import TargetSpec, get_target
from avo_tui.operators.protocol import Spending, StepInterrupted, Trial
from avo_tui.store import Version
from avo_tui.store.view import SessionView


@dataclass
class StandIn:
    """The engine's part of StepContext, in memory."""

    session: SessionView
    target: TargetSpec = field(default_factory=lambda: get_target("cpu-attention"))
    kept: dict[str, Any] = field(default_factory=dict)
    plans: list[str] = field(default_factory=list)
    guidance: str | None = None

    def memory(self) -> dict[str, Any]:
        return dict(self.kept)

    def remember(self, **fields: Any) -> None:
        self.kept |= fields

    def plan(self, text: str) -> None:
        self.plans.append(text)

    def head(self) -> Version | None:
        return self.session.head

    def best(self) -> Version | None:
        return self.session.best()

    def commit_bar(self) -> str:
        return "a commit needs a gain over v0"

    def safe_point(self) -> None:
        pass

    step_number: int = 1

    facts: dict[str, object] = field(default_factory=dict)

    def hardware(self) -> dict[str, object]:
        return self.facts

    bars: dict[str, dict[str, float]] = field(default_factory=dict)
    spent: Spending = field(default_factory=Spending)
    lane: int | None = None
    quick: bool = False

    def baselines(self) -> dict[str, dict[str, float]]:
        return self.bars

    def spending(self) -> Spending:
        return self.spent

    def update_memory(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.kept |= change(self.memory())

    def evaluate(self, files: dict[str, str], *, base: str, note: str = "",
                 quick: bool = False, idea: str | None = None) -> Trial:
        raise StepInterrupted("the operator stopped the run")
