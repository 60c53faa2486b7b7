"""Attempts per hour, by what became of them: the pace of a search and where its time went.

An attempt's outcome is an :class:`~avo_tui.store.Outcome` or a failure's kind (compile,
incorrect, timeout ...). The report groups them into the few a reader compares: committed,
slower, within noise, unchanged, incorrect, failed otherwise, sent to the gate (the first
readings whose re-evaluation follows), and the rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..store import NOT_FAILURES, TO_THE_GATE, Attempt, Outcome

HOUR_S = 3600.0

# In the order the bars stack, bottom first; each with the outcomes it holds.
GROUPS: dict[str, frozenset[str]] = {
    "committed": frozenset({Outcome.COMMITTED}),
    "to the gate": frozenset(TO_THE_GATE),
    "slower": frozenset({Outcome.SLOWER}),
    "within noise": frozenset({Outcome.WITHIN_NOISE}),
    "not confirmed": frozenset({Outcome.NOT_CONFIRMED}),
    "unchanged": frozenset({Outcome.UNCHANGED}),
    "incorrect": frozenset({"incorrect", "nonfinite", "stale_output"}),
}
FAILED = "failed otherwise"  # compile errors, crashes, hangs, timeouts ...
OTHER = "other"  # checked on the quick grid, held as suspect, interrupted


def group_of(outcome: str) -> str:
    for name, outcomes in GROUPS.items():
        if outcome in outcomes:
            return name
    return OTHER if outcome in NOT_FAILURES else FAILED


@dataclass(frozen=True)
class Hourly:
    """Counts per hour since ``start`` (hour 0 holds the first attempt), per group."""

    start: float
    counts: dict[str, list[int]]  # group -> one count per hour

    @property
    def hours(self) -> int:
        return max((len(c) for c in self.counts.values()), default=0)

    @property
    def total(self) -> int:
        return sum(sum(c) for c in self.counts.values())


def hourly(attempts: Iterable[Attempt]) -> Hourly:
    tally: Counter[tuple[str, int]] = Counter()
    stamps = [(a.created, group_of(a.outcome)) for a in attempts if a.created]
    if not stamps:
        return Hourly(0.0, {})
    start = min(ts for ts, _ in stamps)
    for ts, group in stamps:
        tally[(group, int((ts - start) // HOUR_S))] += 1
    hours = 1 + max(hour for _, hour in tally)
    order = [*GROUPS, FAILED, OTHER]
    counts = {group: [tally[(group, h)] for h in range(hours)] for group in order
              if any(tally[(group, h)] for h in range(hours))}
    return Hourly(start, counts)
