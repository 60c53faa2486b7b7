"""The toolchain protocol: sources in, a loadable artifact or a structured failure out."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

Sources = Mapping[str, str]


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message, located in the candidate's own file names."""

    file: str
    line: int
    column: int
    severity: str  # "error", "warning" or "note"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass
class CompileResult:
    ok: bool
    artifact: Path | None  # the loadable file (a shared library, a cubin) when ok
    log: str  # the compiler's full output
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    resources: dict[str, int] = field(default_factory=dict)  # e.g. registers, spills

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def summary(self) -> str:
        if self.ok:
            return "compiled" + (" (cached)" if self.cached else f" in {self.seconds:.2f} s")
        first = self.errors[:1] or self.diagnostics[:1]
        return f"compile failed: {first[0]}" if first else "compile failed (see the log)"

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 4),
            "cached": self.cached,
            "diagnostics": [d.as_dict() for d in self.diagnostics],
            "resources": dict(self.resources),
            "log": self.log,
        }


class ToolchainUnavailable(RuntimeError):
    """The compiler this toolchain needs is not installed or does not work."""


class Toolchain(Protocol):
    name: str
    source_suffixes: tuple[str, ...]

    def version(self) -> str:
        """Identifies the compiler exactly; part of every cache key."""
        ...

    def compile(self, sources: Sources, options: tuple[str, ...] = ()) -> CompileResult: ...


GCC_STYLE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
    r"(?P<sev>fatal error|error|warning|note):\s*(?P<msg>.*)$",
    re.MULTILINE,
)


def parse_gcc_style(log: str, known_files: set[str]) -> list[Diagnostic]:
    """``file:line:col: severity: message`` lines, with build-directory paths cut to the name."""
    diagnostics = []
    for m in GCC_STYLE.finditer(log):
        name = os.path.basename(m["file"])
        file = name if name in known_files else m["file"]
        severity = "error" if m["sev"] == "fatal error" else m["sev"]
        diagnostics.append(
            Diagnostic(file, int(m["line"]), int(m["col"] or 0), severity, m["msg"].strip())
        )
    return diagnostics


def default_cache_dir() -> Path:
    base = os.environ.get("AVO_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return (root if os.environ.get("AVO_CACHE_DIR") else root / "avo-tui") / "compile"


class CompileCache:
    """Finished builds keyed by the hash of sources, options and the toolchain's version.

    Each entry is a folder holding the artifact and ``result.json``; it is built in a temp folder
    and renamed into place, so a crash never leaves a half-written entry."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()

    @staticmethod
    def key(toolchain: str, version: str, sources: Sources, options: tuple[str, ...]) -> str:
        payload = json.dumps(
            {
                "toolchain": toolchain,
                "version": version,
                "options": list(options),
                "sources": sorted(sources.items()),
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def find(
        self, toolchain: Toolchain, sources: Sources, options: tuple[str, ...]
    ) -> tuple[str, CompileResult | None]:
        """The key a build of these inputs has, and the cached result if there is one."""
        key = self.key(toolchain.name, toolchain.version(), sources, options)
        return key, self.lookup(key)

    def lookup(self, key: str) -> CompileResult | None:
        entry = self.root / key[:2] / key
        try:
            record = json.loads((entry / "result.json").read_text())
        except (OSError, ValueError):
            return None
        artifact = entry / record["artifact"] if record.get("artifact") else None
        if artifact is not None and not artifact.exists():
            return None
        return CompileResult(
            ok=record["ok"],
            artifact=artifact,
            log=record["log"],
            diagnostics=[Diagnostic(**d) for d in record["diagnostics"]],
            seconds=record["seconds"],
            cached=True,
            resources=record.get("resources", {}),
        )

    def store(self, key: str, result: CompileResult) -> CompileResult:
        """Move the result's artifact into the cache; return the result pointing at it."""
        final = self.root / key[:2] / key
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
        artifact_name = None
        if result.artifact is not None:
            artifact_name = result.artifact.name
            shutil.copy2(result.artifact, staging / artifact_name)
        record = result.as_dict() | {"artifact": artifact_name}
        (staging / "result.json").write_text(json.dumps(record))
        try:
            os.rename(staging, final)
        except OSError:  # another worker stored the same key first
            shutil.rmtree(staging, ignore_errors=True)
        result.artifact = final / artifact_name if artifact_name else None
        return result
