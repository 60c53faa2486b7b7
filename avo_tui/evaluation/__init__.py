"""The scoring function: targets, toolchains, the isolated worker, correctness and timing.

Imports only the standard library, numpy, torch and cuda-python, so it runs on a bare GPU
machine. This package's top level stays free of torch: the parent process (CLI, engine, TUI)
only talks to the worker, and torch is imported in the worker.
"""

from .declarations.candidate import CandidateError
from .declarations.contract import ContractError
from .diagnostics.profile import PROFILE_SECTIONS, ProfileRequestError, ProfileUnavailable
from .diagnostics.sanitize import SANITIZER_TOOLS, SanitizerUnavailable, smallest_config
from .isolation.worker import Worker, WorkerError
from .results import FAILURE_KINDS, ConfigResult, EvalRequest, EvalResult, Failure, Timing
from .targets.api import (
    Baseline,
    DeclaredTolerance,
    Float,
    Input,
    Int,
    Output,
    Target,
    TargetFileError,
)
from .targets.file import declared_target, get_target
from .targets.problem import Config
from .targets.spec import TargetFileUnusable, TargetSpec, UnknownTarget, known_names
from .targets.values import FromFile, Integers, Normal, Positive, Structured, Uniform
from .toolchains import ToolchainUnavailable

# profile() and sanitize() stay in their modules: a package attribute named profile would hide
# the module avo_tui.evaluation.diagnostics.profile.
__all__ = [
    "FAILURE_KINDS",
    "PROFILE_SECTIONS",
    "SANITIZER_TOOLS",
    "Baseline",
    "CandidateError",
    "Config",
    "ConfigResult",
    "ContractError",
    "DeclaredTolerance",
    "EvalRequest",
    "EvalResult",
    "Failure",
    "Float",
    "FromFile",
    "Input",
    "Int",
    "Integers",
    "Normal",
    "Output",
    "Positive",
    "ProfileRequestError",
    "ProfileUnavailable",
    "SanitizerUnavailable",
    "Structured",
    "Target",
    "TargetFileError",
    "TargetFileUnusable",
    "TargetSpec",
    "Timing",
    "ToolchainUnavailable",
    "Uniform",
    "UnknownTarget",
    "Worker",
    "WorkerError",
    "declared_target",
    "get_target",
    "known_names",
    "smallest_config",
]
