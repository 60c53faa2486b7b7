"""Run budgets (steps, wall-clock hours, money, tokens) and what a session has used of them.

Steps and hours are a schedule: reaching one finishes the run. Money and tokens are spending:
reaching one pauses the run, so the operator can raise the limit (``avo send NAME budget``)
and continue, or stop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Budgets:
    """Limits for a whole session (not one invocation): a resumed run continues counting."""

    max_steps: int | None = None
    hours: float | None = None
    max_cost_usd: float | None = None
    max_tokens: int | None = None

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
    tokens: int = 0  # every token the API processed: input, cache writes and reads, output

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Usage:
        return cls(**(doc or {}))

    def exhausted(self, budgets: Budgets) -> str | None:
        """Why the run must finish (steps or hours), or None while both have room."""
        if budgets.max_steps is not None and self.steps >= budgets.max_steps:
            return f"step budget reached ({self.steps} of {budgets.max_steps})"
        if budgets.hours is not None and self.seconds >= budgets.hours * 3600:
            return f"time budget reached ({self.seconds / 3600:.2f} of {budgets.hours:g} h)"
        return None

    def overspent(self, budgets: Budgets) -> str | None:
        """Why the run must pause (money or tokens), or None while both have room."""
        if budgets.max_cost_usd is not None and self.cost_usd >= budgets.max_cost_usd:
            return f"cost budget reached (${self.cost_usd:.2f} of ${budgets.max_cost_usd:.2f})"
        if budgets.max_tokens is not None and self.tokens >= budgets.max_tokens:
            return f"token budget reached ({self.tokens:,} of {budgets.max_tokens:,})"
        return None
