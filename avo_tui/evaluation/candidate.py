"""Reading a candidate (its source files, nothing else) and applying knob overrides."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from . import contract
from .targets import TARGETS, TargetSpec

SUFFIXES = {"c": (".c", ".h"), "cuda": (".cu", ".cuh", ".h")}
MAX_SOURCE_BYTES = 1 << 20


class CandidateError(ValueError):
    pass


def load_sources(path: Path, toolchain: str) -> dict[str, str]:
    """One source file, or every source file (by suffix) directly inside a folder."""
    suffixes = SUFFIXES[toolchain]
    if not path.exists():
        raise CandidateError(f"{path} does not exist")
    files = sorted(p for p in path.iterdir() if p.suffix in suffixes) if path.is_dir() else [path]
    if not files:
        raise CandidateError(f"{path} holds no {'/'.join(suffixes)} files")
    sources = {}
    for file in files:
        if file.stat().st_size > MAX_SOURCE_BYTES:
            raise CandidateError(f"{file} is larger than {MAX_SOURCE_BYTES >> 10} KiB")
        try:
            sources[file.name] = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CandidateError(f"{file} is not UTF-8 text") from None
    return sources


def infer_target(path: Path) -> TargetSpec:
    """The only target whose toolchain compiles ``path``'s kind of file."""
    suffix = path.suffix if path.is_file() else ""
    matches = [t for t in TARGETS.values() if suffix and suffix in SUFFIXES[t.toolchain]]
    if len(matches) != 1:
        raise CandidateError(f"name the target with --target (one of: {', '.join(TARGETS)})")
    return matches[0]


def apply_knobs(sources: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Rewrite each knob's #define in whichever file declares it."""
    result = dict(sources)
    remaining = dict(overrides)
    for name, text in sources.items():
        declared = {k.name for k in contract.parse(text).knobs}
        mine = {k: v for k, v in remaining.items() if k in declared}
        if mine:
            result[name] = contract.set_knobs(text, mine)
            for k in mine:
                del remaining[k]
    if remaining:
        known = sorted({k.name for t in sources.values() for k in contract.parse(t).knobs})
        raise CandidateError(
            f"no knob {', '.join(remaining)} in the kernel (knobs: {', '.join(known) or 'none'})"
        )
    return result
