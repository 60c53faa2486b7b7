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

__all__ = [
    "CToolchain",
    "CompileCache",
    "CompileResult",
    "Diagnostic",
    "Sources",
    "Toolchain",
    "ToolchainUnavailable",
    "get_toolchain",
]


def get_toolchain(name: str, cache: CompileCache | None = None) -> Toolchain:
    if name == "c":
        return CToolchain(cache)
    raise ToolchainUnavailable(f"no toolchain named {name!r}")
