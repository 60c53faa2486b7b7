"""Run budgets (steps, wall-clock hours, money, tokens) and what a session has used of them.

Steps and hours are a schedule: reaching one finishes the run. Money and tokens are spending:
reaching one pauses the run, so the operator can raise the limit (``avo send NAME budget``)
and continue, or stop.

Every budget counts the whole session, so a resumed run goes on counting, except one: the
step limit of one run (``avo run --max-steps N``: N more steps, wherever the session stands),
which is never stored, since the next run sets its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

SESSION_FIELDS = ("max_steps", "hours", "max_cost_usd", "max_tokens")


@dataclass(frozen=True)
class Budgets:
    """Limits for a whole session, plus this run's own step limit (``run_steps`` steps from
    ``run_from``, the session's steps when the run started)."""

    max_steps: int | None = None
    hours: float | None = None
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    run_steps: int | None = None
    run_from: int = 0

    def to_doc(self) -> dict[str, Any]:
        """The session's budgets, as stored (the run's own limit is not)."""
        return {name: getattr(self, name) for name in SESSION_FIELDS}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Budgets:
        return cls(**(doc or {}))

    def override(self, **limits: Any) -> Budgets:
        """These limits, with every given (non-None) one replaced; TypeError names one that
        is not a budget."""
        unknown = set(limits) - set(SESSION_FIELDS)
        if unknown:
            raise TypeError(f"not a budget: {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in limits.items() if v is not None})

    def for_run(self, steps: int | None, done: int) -> Budgets:
        """These budgets, with a limit of ``steps`` steps on a run that starts after ``done``
        (None: no limit of its own)."""
        return replace(self, run_steps=steps, run_from=done)


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
        done = self.steps - budgets.run_from
        if budgets.run_steps is not None and done >= budgets.run_steps:
            where = f" in this run; {self.steps} in the session" if budgets.run_from else ""
            return f"step budget reached ({done} of {budgets.run_steps}{where})"
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
