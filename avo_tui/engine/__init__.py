"""The run: step loop, control inbox, safe points, supervisor and event fan-out.

No Textual: the engine runs headless or in a background thread of the app, and talks to the
app only through events.

The names below are imported when first used, not with the package: a command that needs one
small module of it (``avo sessions list`` reads budget.py and run_status.py) does not pay for
the engine, the evaluator and the operators behind the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .budget import Budgets, Usage
    from .commands import (
        Approve,
        Guidance,
        Hint,
        OperatorEdit,
        Pause,
        Reject,
        Resume,
        Rollback,
        SetBudgets,
        Stop,
    )
    from .engine import Engine
    from .evaluator import Evaluator
    from .gate import NoiseEstimate
    from .inbox import send
    from .launch import RunSettings, SeedRejected, create_session, seed_files
    from .progress import Progress
    from .supervisor import Supervisor, SupervisorLimits

_WHERE = {
    "Budgets": "budget", "Usage": "budget",
    **dict.fromkeys(("Approve", "Guidance", "Hint", "OperatorEdit", "Pause", "Reject", "Resume",
                     "Rollback", "SetBudgets", "Stop"), "commands"),
    "Engine": "engine", "Evaluator": "evaluator", "NoiseEstimate": "gate", "send": "inbox",
    **dict.fromkeys(("RunSettings", "SeedRejected", "create_session", "seed_files"), "launch"),
    "Progress": "progress", "Supervisor": "supervisor", "SupervisorLimits": "supervisor",
}


if not TYPE_CHECKING:  # mypy reads the imports above, and so still checks every name

    def __getattr__(name: str) -> Any:
        where = _WHERE.get(name)
        if where is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{where}", __name__), name)


__all__ = [
    "Approve",
    "Budgets",
    "Engine",
    "Evaluator",
    "Guidance",
    "Hint",
    "NoiseEstimate",
    "OperatorEdit",
    "Pause",
    "Progress",
    "Reject",
    "Resume",
    "Rollback",
    "RunSettings",
    "SeedRejected",
    "SetBudgets",
    "Stop",
    "Supervisor",
    "SupervisorLimits",
    "Usage",
    "create_session",
    "seed_files",
    "send",
]
