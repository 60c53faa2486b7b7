"""The declared values of a knob that a comparison ("UNROLL > 2", "at least 4") or a range
("between 2 and 8") allows, or why it allows none for sure (issue 87: "UNROLL > 2" was read as
"UNROLL=2", the one value it ruled out)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

from .hint_words import OPPOSITE

_TESTS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}


def compared(name: str, choices: Sequence[str], op: str, bound: str,
             negated: bool) -> tuple[set[str], str | None]:
    """The choices ``op bound`` allows (its complement where ``negated``), or a problem."""
    op = OPPOSITE[op] if negated else op
    numbers, problem = _numbers(name, choices, [bound])
    if problem:
        return set(), problem
    allowed = {c for c, x in numbers.items() if _TESTS[op](x, float(bound))}
    return allowed, None if allowed else _none(name, choices, f"{op} {bound}")


def ranged(name: str, choices: Sequence[str], ends: tuple[str, str],
           negated: bool) -> tuple[set[str], str | None]:
    """The choices from one end to the other, both included (outside them where
    ``negated``), or a problem."""
    numbers, problem = _numbers(name, choices, list(ends))
    if problem:
        return set(), problem
    low, high = sorted(float(end) for end in ends)
    allowed = {c for c, x in numbers.items() if (low <= x <= high) != negated}
    return allowed, None if allowed else _none(name, choices, f"between {ends[0]} and {ends[1]}")


def _numbers(name: str, choices: Sequence[str],
             bounds: list[str]) -> tuple[dict[str, float], str | None]:
    try:
        numbers = {c: float(c) for c in choices}
    except ValueError:
        return {}, f"{name}'s values ({' '.join(choices)}) are not numbers to compare"
    for bound in bounds:
        try:
            float(bound)
        except ValueError:
            return {}, f"{name} is compared with {bound!r}, which is no number"
    return numbers, None


def _none(name: str, choices: Sequence[str], how: str) -> str:
    return f"{name} {how} allows none of {name}'s declared values ({' '.join(choices)})"
