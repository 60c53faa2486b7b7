"""Run budgets (steps, wall-clock hours, money, tokens) and what a session has used of them.

Steps and hours are a schedule: reaching one finishes the run. Money and tokens are spending:
reaching one pauses the run, so the operator can raise the limit (``avo send NAME budget``)
and continue, or stop.

Every budget counts the whole session, so a resumed run goes on counting, except one: the
step limit of one run (``avo run --max-steps N``: N more steps, wherever the session stands),
which is never stored, since the next run sets its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store import RunState, StepPayload, Version

SESSION_FIELDS = ("max_steps", "hours", "max_cost_usd", "max_tokens")
RUN_LIMIT = "limit reached"  # how the reason for ending at this run's own --max-steps begins


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
    # cost_usd and tokens when the last version was committed: what a version cost is what was
    # spent since, so the versions' costs and the spending since the last add up to the total.
    committed_cost_usd: float = 0.0
    committed_tokens: int = 0
    last_step_cost_usd: float = 0.0  # what the latest step to end cost (of any lane)
    # When ``seconds`` was last brought up to date (time.time()) by a run whose time counts:
    # a view counts on from it while the run runs, so its clock is the run's own, whenever it
    # attached (issue 87: a view that counted from when it read the figure went back and
    # jumped at each step's end).
    counted_at: float | None = None

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Usage:
        return cls(**(doc or {}))

    def since_commit(self) -> tuple[float, int]:
        """Dollars and tokens spent since the last version was committed."""
        return (round(max(0.0, self.cost_usd - self.committed_cost_usd), 6),
                max(0, self.tokens - self.committed_tokens))

    def committed(self) -> Usage:
        """This usage with a version committed now: the spending so far is paid for."""
        return replace(self, committed_cost_usd=self.cost_usd, committed_tokens=self.tokens)

    def exhausted(self, budgets: Budgets) -> str | None:
        """Why the run must finish (steps or hours), or None while both have room."""
        done = self.steps - budgets.run_from
        if budgets.run_steps is not None and done >= budgets.run_steps:
            # this run's own limit, not the session's budget: the next run may go on
            where = f"; {self.steps} in the session" if budgets.run_from else ""
            return f"{RUN_LIMIT}: {done} of {budgets.run_steps} steps this run (--max-steps){where}"
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


def budget_progress(usage: Usage, budgets: Budgets) -> tuple[str, float | None]:
    """Each session budget that is set, as used of its limit ("step 12/50 · $3.10/$50"), and
    the seconds of running left until the first of them is spent at the rate so far (None where
    none is set, or no rate is known yet): what a glance from afar wants."""
    parts: list[str] = []
    left: list[float] = []
    seconds = usage.seconds

    def at_rate(used: float, limit: float) -> None:
        if used > 0 and seconds > 0:
            left.append(max(0.0, limit - used) * seconds / used)

    if budgets.max_steps:
        parts.append(f"step {usage.steps}/{budgets.max_steps}")
        at_rate(usage.steps, budgets.max_steps)
    if budgets.hours:
        parts.append(f"{seconds / 3600:.1f}/{budgets.hours:g} h")
        left.append(max(0.0, budgets.hours * 3600 - seconds))
    if budgets.max_cost_usd:
        parts.append(f"${usage.cost_usd:.2f}/${budgets.max_cost_usd:g}")
        at_rate(usage.cost_usd, budgets.max_cost_usd)
    if budgets.max_tokens:
        parts.append(f"{usage.tokens / 1e6:.1f}M/{budgets.max_tokens / 1e6:g}M tok")
        at_rate(usage.tokens, budgets.max_tokens)
    return " · ".join(parts), (min(left) if left else None)


@dataclass(frozen=True)
class FromAfar:
    """What a glance from afar reads (the status bar, ``avo sessions list``): each budget used
    of its limit, the running time left until the first is spent, and the time since the
    last commit."""

    budget: str = ""
    eta_s: float | None = None
    since_commit_s: float | None = None


def from_afar(usage: dict[str, Any] | None, budgets: dict[str, Any] | None,
              last_commit: float | None, now: float) -> FromAfar:
    """From the state's usage and budgets documents (fields of another version: no budget
    shown) and when the last version was committed (``Lineage.last_commit``)."""
    budget, eta = "", None
    with suppress(TypeError, ValueError):
        budget, eta = budget_progress(Usage.from_doc(usage), Budgets.from_doc(budgets))
    since = None if last_commit is None else max(0.0, now - last_commit)
    return FromAfar(budget, eta, since)


@dataclass
class VersionCosts:
    """What the committed versions (every one but the root) cost, summed as they come."""

    count: int = 0
    cost_usd: float = 0.0
    tokens: int = 0

    def add(self, versions: Iterable[Version]) -> None:
        for version in versions:
            if version.parent is not None:
                self.count += 1
                self.cost_usd += version.cost_usd
                self.tokens += version.tokens


@dataclass(frozen=True)
class Spending:
    """A session's API spending as the views show it: in all, per step and per version."""

    cost_usd: float
    tokens: int
    steps: int
    since_commit_usd: float  # not yet in any version's cost
    versions: VersionCosts
    last_step: StepPayload | None = None  # the latest step event, where one was found

    @classmethod
    def of(cls, state: RunState, versions: VersionCosts,
           last_step: StepPayload | None = None) -> Spending:
        cost = state.usage_figure("cost_usd")
        return cls(cost, int(state.usage_figure("tokens")), state.step,
                   max(0.0, cost - state.usage_figure("committed_cost_usd")), versions,
                   last_step)

    @property
    def per_step_usd(self) -> float | None:
        return self.cost_usd / self.steps if self.steps else None

    @property
    def per_version_usd(self) -> float | None:
        """The mean cost of a committed version; None before one carries a cost (a session
        from before versions had one: its next version takes all the spending until then)."""
        costs = self.versions
        return costs.cost_usd / costs.count if costs.count and costs.cost_usd > 0 else None
