"""Variation operators behind one protocol: ``agent`` (Claude) and ``tuner`` (classical).

No Textual.
"""

from __future__ import annotations

from .protocol import Operator, StepContext, StepInterrupted, StepResult, Trial
from .tuner import Tuner

OPERATORS = ("tuner", "agent")


class OperatorUnavailable(ValueError):
    pass


def get_operator(name: str, seed: int | None = None) -> Operator:
    if name == "tuner":
        return Tuner(seed)
    if name == "agent":
        raise OperatorUnavailable(
            "the agent operator is not built yet; use --operator tuner"
        )
    raise OperatorUnavailable(f"no operator {name!r} (one of {', '.join(OPERATORS)})")


__all__ = [
    "OPERATORS",
    "Operator",
    "OperatorUnavailable",
    "StepContext",
    "StepInterrupted",
    "StepResult",
    "Trial",
    "Tuner",
    "get_operator",
]
