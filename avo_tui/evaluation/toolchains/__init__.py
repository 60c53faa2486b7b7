"""Toolchains turn candidate sources into something the worker can load and launch."""

from __future__ import annotations

from .base import (
    ArtifactTampered,
    CompileCache,
    CompileResult,
    Diagnostic,
    Sources,
    Toolchain,
    ToolchainUnavailable,
    read_artifact,
)
from .c import CToolchain
from .cuda import CudaToolchain

__all__ = [
    "ArtifactTampered",
    "CToolchain",
    "CompileCache",
    "CompileResult",
    "CudaToolchain",
    "Diagnostic",
    "Sources",
    "Toolchain",
    "ToolchainUnavailable",
    "get_toolchain",
    "read_artifact",
]


def get_toolchain(
    name: str, cache: CompileCache | None = None, arch: str | None = None
) -> Toolchain:
    if name == "c":
        return CToolchain(cache)
    if name == "cuda":
        return CudaToolchain(cache, arch) if arch else CudaToolchain(cache)
    raise ToolchainUnavailable(f"no toolchain named {name!r}")
