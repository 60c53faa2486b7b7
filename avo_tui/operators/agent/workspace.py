"""The agent's working copy of the kernel, and the only files its tools may touch.

Reads and writes stay inside the session workspace; ``knowledge/NAME`` reads a knowledge-base
file. Absolute paths, ``..``, symlinks that lead out, and oversized writes are refused with a
:class:`ToolError`, which the agent sees as an ``is_error`` tool result.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ...knowledge import KnowledgeBase

KNOWLEDGE_PREFIX = "knowledge/"
MAX_FILES = 32


class ToolError(Exception):
    """A tool call that cannot be carried out; the message goes back to the model."""


class Workspace:
    def __init__(self, root: Path, knowledge: KnowledgeBase, max_write_bytes: int) -> None:
        self.root = root
        self.knowledge = knowledge
        self.max_write_bytes = max_write_bytes

    # -- the kernel files ---------------------------------------------------------------------

    def reset(self, files: dict[str, str]) -> None:
        """Make the workspace hold exactly ``files`` (the version a step starts from)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def files(self) -> dict[str, str]:
        root = self.root.resolve()
        found = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(root):
                found[path.relative_to(self.root).as_posix()] = path.read_text(errors="replace")
        return found

    # -- confinement --------------------------------------------------------------------------

    def resolve(self, name: str, *, write: bool) -> Path:
        if not isinstance(name, str) or not name.strip():
            raise ToolError("path is required: a file name relative to the workspace")
        name = name.strip()
        if name.startswith(("/", "~", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise ToolError(f"{name}: absolute paths are refused; use a name relative to the "
                            "workspace, such as attention.c")
        parts = name.replace("\\", "/").split("/")
        if ".." in parts:
            raise ToolError(f"{name}: '..' is refused; the workspace is the whole world here")
        if name.startswith(KNOWLEDGE_PREFIX) or name == KNOWLEDGE_PREFIX.rstrip("/"):
            if write:
                raise ToolError(f"{name}: the knowledge base is read-only")
            return self._knowledge_file(name[len(KNOWLEDGE_PREFIX):])
        path = self.root.joinpath(*[p for p in parts if p not in ("", ".")])
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ToolError(f"{name}: a link that points outside the workspace is refused")
        return path

    def _knowledge_file(self, name: str) -> Path:
        files = self.knowledge.files()
        if name not in files:
            listing = ", ".join(KNOWLEDGE_PREFIX + f for f in files) or "none"
            raise ToolError(f"no knowledge file {name!r}; the files are: {listing}")
        path = files[name]
        folder = next(f for f in self.knowledge.folders if path.is_relative_to(f))
        if not path.resolve().is_relative_to(folder.resolve()):
            raise ToolError(f"knowledge/{name}: a link that points outside the knowledge base")
        return path

    # -- the editor commands ------------------------------------------------------------------

    def view(self, name: str, view_range: list[int] | None = None) -> str:
        if name.strip() in ("", ".", "/"):
            name = "."
        path = self.root if name == "." else self.resolve(name, write=False)
        if path.is_dir():
            listing = [f"{n}  ({len(t.splitlines())} lines)" for n, t in self.files().items()]
            return "workspace files:\n" + "\n".join(listing)
        lines = self._read(path, name).split("\n")
        first, last = 1, len(lines)
        if view_range:
            if len(view_range) != 2 or not all(isinstance(v, int) for v in view_range):
                raise ToolError("view_range must be two line numbers, [first, last] (-1: the end)")
            first, last = view_range[0], view_range[1] if view_range[1] != -1 else len(lines)
            if not 1 <= first <= last <= len(lines):
                raise ToolError(f"view_range {view_range} is outside 1..{len(lines)}")
        width = len(str(last))
        return "\n".join(f"{n:>{width}}\t{lines[n - 1]}" for n in range(first, last + 1))

    def create(self, name: str, text: str) -> str:
        path = self.resolve(name, write=True)
        self._check_size(name, text)
        if not path.exists() and len(self.files()) >= MAX_FILES:
            raise ToolError(f"the workspace already holds {MAX_FILES} files")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return f"wrote {name} ({len(text.splitlines())} lines)"

    def str_replace(self, name: str, old: str, new: str) -> str:
        path = self.resolve(name, write=True)
        text = self._read(path, name)
        if not old:
            raise ToolError("old_str must not be empty")
        count = text.count(old)
        if count == 0:
            raise ToolError(f"old_str was not found in {name}; view the file and copy the text "
                            "exactly, whitespace included")
        if count > 1:
            lines = [text[: m].count("\n") + 1 for m in _positions(text, old)]
            raise ToolError(f"old_str occurs {count} times in {name} (lines "
                            f"{', '.join(map(str, lines))}); include more context to pick one")
        result = text.replace(old, new)
        self._check_size(name, result)
        path.write_text(result)
        line = text[: text.index(old)].count("\n") + 1
        return f"replaced 1 occurrence in {name} at line {line}\n" + _excerpt(result, line, new)

    def insert(self, name: str, line: int, new: str) -> str:
        path = self.resolve(name, write=True)
        lines = self._read(path, name).split("\n")
        if not isinstance(line, int) or not 0 <= line <= len(lines):
            raise ToolError(f"insert_line must be from 0 to {len(lines)}")
        result = "\n".join([*lines[:line], *new.split("\n"), *lines[line:]])
        self._check_size(name, result)
        path.write_text(result)
        return f"inserted {len(new.splitlines())} lines after line {line} of {name}\n" + _excerpt(
            result, line + 1, new
        )

    def _read(self, path: Path, name: str) -> str:
        if not path.is_file():
            known = ", ".join(self.files()) or "none"
            raise ToolError(f"no file {name!r} (workspace files: {known})")
        return path.read_text(errors="replace")

    def _check_size(self, name: str, text: str) -> None:
        size = len(text.encode())
        if size > self.max_write_bytes:
            raise ToolError(f"{name} would be {size:,} bytes; the limit is "
                            f"{self.max_write_bytes:,}")


def _positions(text: str, part: str) -> list[int]:
    found, start = [], text.find(part)
    while start != -1:
        found.append(start)
        start = text.find(part, start + 1)
    return found


def _excerpt(text: str, line: int, new: str, context: int = 3) -> str:
    lines = text.split("\n")
    first = max(1, line - context)
    last = min(len(lines), line + len(new.split("\n")) + context - 1)
    return "\n".join(f"{n:>5}\t{lines[n - 1]}" for n in range(first, last + 1))
