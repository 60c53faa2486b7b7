"""The scoring function: targets, toolchains, the isolated worker, correctness and timing.

Imports only the standard library, numpy, torch and cuda-python, so it runs on a bare GPU
machine. This package's top level stays free of torch: the parent process (CLI, engine, TUI)
only talks to the worker, and torch is imported in the worker.
"""

from .candidate import CandidateError
from .contract import ContractError
from .problem import Config
from .profile import PROFILE_SECTIONS, ProfileRequestError, ProfileUnavailable
from .results import FAILURE_KINDS, ConfigResult, EvalRequest, EvalResult, Failure, Timing
from .sanitize import SANITIZER_TOOLS, SanitizerUnavailable, smallest_config
from .target_api import (
    Baseline,
    DeclaredTolerance,
    Float,
    Input,
    Int,
    Output,
    Target,
    TargetFileError,
)
from .target_file import declared_target, get_target
from .targets import TargetFileUnusable, TargetSpec, UnknownTarget, known_names
from .toolchains import ToolchainUnavailable
from .values import FromFile, Integers, Normal, Positive, Uniform
from .worker import Worker, WorkerError

# profile() and sanitize() stay in their modules: a package attribute named profile would hide
# the module avo_tui.evaluation.profile.
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
