"""Toolchains turn candidate sources into something the worker can load and launch."""

from __future__ import annotations

from .base import (
    CompileCache,
    CompileResult,
    Diagnostic,
    Sources,
    Toolchain,
    ToolchainUnavailable,
)
from .c import CToolchain
from .cuda import CudaToolchain

__all__ = [
    "CToolchain",
    "CompileCache",
    "CompileResult",
    "CudaToolchain",
    "Diagnostic",
    "Sources",
    "Toolchain",
    "ToolchainUnavailable",
    "get_toolchain",
]


def get_toolchain(
    name: str, cache: CompileCache | None = None, arch: str | None = None
) -> Toolchain:
    if name == "c":
        return CToolchain(cache)
    if name == "cuda":
        return CudaToolchain(cache, arch) if arch else CudaToolchain(cache)
    raise ToolchainUnavailable(f"no toolchain named {name!r}")
