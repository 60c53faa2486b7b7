"""Variation operators behind one protocol: ``agent`` (Claude) and ``tuner`` (classical).

No Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .protocol import (
    GateAnswer,
    Operator,
    OperatorUnavailable,
    StepContext,
    StepInterrupted,
    StepResult,
    Trial,
)
from .tuner import Tuner

if TYPE_CHECKING:
    from .agent import AgentSettings

OPERATORS = ("tuner", "agent")


def operator_names(spec: str) -> list[str]:
    """The operators a spec names: one (``tuner``) or a comma list for the lanes of a run
    (``agent,tuner``: lane 1 the agent, lane 2 the tuner, lane 3 the agent ...); a name that
    is not an operator is refused in one line."""
    names = [name.strip() for name in spec.split(",")]
    for name in names:
        if name not in OPERATORS:
            raise OperatorUnavailable(f"no operator {name!r} (one of {', '.join(OPERATORS)}; "
                                      "several, comma-separated, share the lanes in turn)")
    return names


def get_operator(
    name: str,
    seed: int | None = None,
    agent: AgentSettings | None = None,
    knowledge: Sequence[Path] | None = None,
) -> Operator:
    """``seed`` steers the tuner's random choices; ``agent`` holds the agent's settings
    (default: the settings file) and ``knowledge`` the folders it consults (default: the
    project's knowledge/). The agent needs ANTHROPIC_API_KEY."""
    if name == "tuner":
        return Tuner(seed)
    if name == "agent":
        from ..knowledge import KnowledgeBase, default_folders
        from .agent import load_settings
        from .agent.agent import Agent  # anthropic loads only when the agent runs

        folders = knowledge if knowledge is not None else default_folders()
        return Agent(agent or load_settings(), knowledge=KnowledgeBase(folders))
    raise OperatorUnavailable(f"no operator {name!r} (one of {', '.join(OPERATORS)})")


__all__ = [
    "OPERATORS",
    "GateAnswer",
    "Operator",
    "OperatorUnavailable",
    "StepContext",
    "StepInterrupted",
    "StepResult",
    "Trial",
    "Tuner",
    "get_operator",
    "operator_names",
]
