"""The scoring function: targets, toolchains, the isolated worker, correctness and timing.

Imports only the standard library, numpy, torch and cuda-python, so it runs on a bare GPU
machine. This package's top level stays free of torch: the parent process (CLI, engine, TUI)
only talks to the worker, and torch is imported in the worker.
"""

from .candidate import CandidateError
from .contract import ContractError
from .results import FAILURE_KINDS, ConfigResult, EvalRequest, EvalResult, Failure, Timing
from .targets import TARGETS, Config, TargetSpec, UnknownTarget, get_target
from .toolchains import ToolchainUnavailable
from .worker import Worker, WorkerError

__all__ = [
    "FAILURE_KINDS",
    "TARGETS",
    "CandidateError",
    "Config",
    "ConfigResult",
    "ContractError",
    "EvalRequest",
    "EvalResult",
    "Failure",
    "TargetSpec",
    "Timing",
    "ToolchainUnavailable",
    "UnknownTarget",
    "Worker",
    "WorkerError",
    "get_target",
]
