"""Variation operators behind one protocol: ``agent`` (Claude) and ``tuner`` (classical).

No Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .protocol import (
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
    "Operator",
    "OperatorUnavailable",
    "StepContext",
    "StepInterrupted",
    "StepResult",
    "Trial",
    "Tuner",
    "get_operator",
]
