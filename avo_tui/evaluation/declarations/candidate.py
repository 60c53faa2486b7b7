"""Reading a candidate (its source files, nothing else) and applying knob overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ..targets.file import get_target
from ..targets.spec import TargetSpec, known_names
from . import contract

SUFFIXES = {"c": (".c", ".h"), "cuda": (".cu", ".cuh", ".h")}
MAX_SOURCE_BYTES = 1 << 20


class CandidateError(ValueError):
    pass


LOCAL_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"/]+)"', re.MULTILINE)


def load_sources(path: Path, toolchain: str) -> dict[str, str]:
    """Every source file (by suffix) directly inside a folder; or one file plus the headers it
    includes with ``#include "name"`` from its own folder."""
    suffixes = SUFFIXES[toolchain]
    if not path.exists():
        raise CandidateError(f"{path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in suffixes)
        if not files:
            raise CandidateError(f"{path} holds no {'/'.join(suffixes)} files")
        return {file.name: _read(file) for file in files}
    if path.suffix not in suffixes:
        raise CandidateError(f"{path} is not a kernel source of the {toolchain} toolchain "
                             f"(a {'/'.join(suffixes)} file, or a folder of them)")
    sources = {path.name: _read(path)}
    pending = list(LOCAL_INCLUDE.findall(sources[path.name]))
    while pending:
        name = pending.pop()
        header = path.parent / name
        if name not in sources and header.is_file():
            sources[name] = _read(header)
            pending += LOCAL_INCLUDE.findall(sources[name])
    return sources


def _read(file: Path) -> str:
    if file.stat().st_size > MAX_SOURCE_BYTES:
        raise CandidateError(f"{file} is larger than {MAX_SOURCE_BYTES >> 10} KiB")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CandidateError(f"{file} is not UTF-8 text") from None


def infer_target(path: Path) -> TargetSpec:
    """The only built-in target whose toolchain compiles the kind of source ``path`` is (or
    holds); of several, the only one whose entry point the source names."""
    if not path.exists():
        raise CandidateError(f"{path} does not exist")
    suffixes = {p.suffix for p in path.iterdir()} if path.is_dir() else {path.suffix}
    known = known_names()
    matches = [t for t in map(get_target, known) if suffixes & set(SUFFIXES[t.toolchain][:1])]
    if len(matches) > 1:
        text = "".join(load_sources(path, matches[0].toolchain).values())
        matches = [t for t in matches if re.search(rf"\b{t.entry}\b", text)]
    if len(matches) != 1:
        raise CandidateError(f"name the target with --target (one of: {', '.join(known)})")
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
