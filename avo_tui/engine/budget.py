"""Run budgets (steps, wall-clock hours, money) and what a session has used of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Budgets:
    """Limits for a whole session (not one invocation): a resumed run continues counting."""

    max_steps: int | None = None
    hours: float | None = None
    max_cost_usd: float | None = None

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Budgets:
        return cls(**(doc or {}))

    def override(self, **limits: Any) -> Budgets:
        """These limits, with every given (non-None) one replaced."""
        return Budgets(**(self.to_doc() | {k: v for k, v in limits.items() if v is not None}))


@dataclass
class Usage:
    steps: int = 0
    seconds: float = 0.0  # time spent running (paused time does not count)
    cost_usd: float = 0.0

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Usage:
        return cls(**(doc or {}))

    def exhausted(self, budgets: Budgets) -> str | None:
        """Why the run must stop, or None while every budget has room."""
        if budgets.max_steps is not None and self.steps >= budgets.max_steps:
            return f"step budget reached ({self.steps} of {budgets.max_steps})"
        if budgets.hours is not None and self.seconds >= budgets.hours * 3600:
            return f"time budget reached ({self.seconds / 3600:.2f} of {budgets.hours:g} h)"
        if budgets.max_cost_usd is not None and self.cost_usd >= budgets.max_cost_usd:
            return f"cost budget reached (${self.cost_usd:.2f} of ${budgets.max_cost_usd:.2f})"
        return None
