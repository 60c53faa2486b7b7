"""Unified diffs between versions, with +/- counts read back through unidiff."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from unidiff.patch import PatchSet


@dataclass(frozen=True)
class FileChange:
    name: str
    added: int
    removed: int
    status: str  # added, removed, modified


@dataclass(frozen=True)
class VersionDiff:
    old: str
    new: str
    text: str
    files: list[FileChange]

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)


def _lines(text: str | None) -> list[str]:
    """Split at "\n" only, as unidiff reads the patch back (str.splitlines also splits at \f,
    \x1c or \u2028, which kernels may hold); the last line gets a newline, or unidiff rejects
    the hunk."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line + "\n" for line in lines]


def diff_files(
    old: Mapping[str, str], new: Mapping[str, str], old_label: str, new_label: str
) -> VersionDiff:
    """Diff two {file name: text} mappings (labelled, e.g., by version id); files by name."""
    chunks: list[str] = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        # git's a/ and b/ prefixes: unidiff strips exactly those to recover the file name
        fromfile = f"a/{name}" if name in old else "/dev/null"
        tofile = f"b/{name}" if name in new else "/dev/null"
        chunks.extend(
            difflib.unified_diff(
                _lines(old.get(name)), _lines(new.get(name)), fromfile=fromfile, tofile=tofile
            )
        )
    text = "".join(chunks)
    changes = []
    for patched in PatchSet(text):
        status = "modified"
        if patched.is_added_file or patched.is_removed_file:
            status = "added" if patched.is_added_file else "removed"
        changes.append(FileChange(patched.path, patched.added, patched.removed, status))
    return VersionDiff(old_label, new_label, text, changes)
