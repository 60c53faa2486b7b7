"""A deterministic stall detector. It watches attempts and commits and, when the search is
stuck, says why; the engine records that as a supervisor event and asks the operator to
redirect (the tuner restarts from another ancestor with wider mutations; the agent reviews
the whole lineage).

Its clock is the session's running time (``Engine.running_seconds``), not the wall clock: a
run paused over a weekend, or stopped and resumed on Monday, has not been stalled meanwhile."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..store import NOT_FAILURES, Outcome

REPEAT_WINDOW = 20


@dataclass(frozen=True)
class SupervisorLimits:
    attempts_without_commit: int = 30
    minutes_without_commit: float = 120.0
    consecutive_failures: int = 6
    identical_candidates: int = 3  # the same source this many times among the last 20

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> SupervisorLimits:
        return cls(**(doc or {}))


@dataclass
class Supervisor:
    limits: SupervisorLimits = field(default_factory=SupervisorLimits)
    attempts_since_commit: int = 0
    since: float = 0.0  # running seconds when the current stretch without a commit began
    failures_in_a_row: int = 0
    recent: list[str] = field(default_factory=list)  # source keys of the latest attempts
    interventions: int = 0

    def start(self, now: float) -> None:
        # Sessions before the running clock stored a wall-clock time here: far in the future.
        if not self.since or self.since > now:
            self.since = now

    def observe_commit(self, now: float) -> None:
        self.attempts_since_commit = 0
        self.since = now

    def observe_attempt(self, outcome: str, key: str, now: float) -> str | None:
        """Count one evaluated candidate; the reason to redirect, if the search is stalled."""
        if outcome == Outcome.INTERRUPTED:
            return None
        self.attempts_since_commit += 1
        self.failures_in_a_row = 0 if outcome in NOT_FAILURES else self.failures_in_a_row + 1
        self.recent = [*self.recent, key][-REPEAT_WINDOW:]
        reason = self._stalled(key, now)
        if reason:
            self.interventions += 1
            self.attempts_since_commit = self.failures_in_a_row = 0
            self.since = now
            self.recent = []
        return reason

    def _stalled(self, key: str, now: float) -> str | None:
        limits = self.limits
        if self.failures_in_a_row >= limits.consecutive_failures:
            return f"{self.failures_in_a_row} failed candidates in a row"
        repeats = Counter(self.recent)[key]
        if repeats >= limits.identical_candidates:
            return f"the same candidate was evaluated {repeats} times in the last {REPEAT_WINDOW}"
        if self.attempts_since_commit >= limits.attempts_without_commit:
            return f"no commit in {self.attempts_since_commit} attempts"
        minutes = (now - self.since) / 60 if self.since else 0.0
        if minutes >= limits.minutes_without_commit:
            return f"no commit in {minutes:.0f} minutes"
        return None

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["limits"] = self.limits.to_doc()
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None, limits: SupervisorLimits) -> Supervisor:
        fields = dict(doc or {})
        fields["limits"] = limits
        return cls(**fields)
