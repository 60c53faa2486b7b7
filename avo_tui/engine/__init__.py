"""The run: step loop, control inbox, safe points, supervisor and event fan-out.

No Textual: the engine runs headless or in a background thread of the app, and talks to the
app only through events.
"""

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
