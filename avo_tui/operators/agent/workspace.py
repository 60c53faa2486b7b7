"""The agent's working copy of the kernel, and the only files its tools may touch.

Reads and writes stay inside the session workspace; ``knowledge/NAME`` reads a knowledge-base
file. Every path and text is checked before it reaches the file system, because the model
that sends them is an adversary for our purposes: absolute paths, ``..``, symlinks that lead
out, control characters (NUL included), names too long or too deep for the file system, text
UTF-8 cannot encode, a file where a folder is needed (or the reverse), and oversized writes
are refused with a :class:`ToolError`, which the agent sees as an ``is_error`` tool result.
An ``OSError`` the checks could not foresee (a full disk) is one too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ...knowledge import KnowledgeBase

KNOWLEDGE_PREFIX = "knowledge/"
MAX_FILES = 32
# Far below what file systems allow (255 bytes a name, 4096 a path), so that the workspace's
# own location never tips a valid name over the limit, and far above what a kernel needs.
MAX_PATH_CHARS = 200
MAX_NAME_BYTES = 100  # one folder or file name, in UTF-8 bytes (the file system counts bytes)
MAX_DEPTH = 6  # folders and file name together: "a/b/c.cu" is 3
MAX_LINES_LISTED = 10  # where an ambiguous old_str occurs


def workspace_folder(lane: int | None) -> str:
    """The workspace's folder in the session: one per lane in a run of several (lane 1's, and
    a run without lanes', is ``workspace``)."""
    return "workspace" if lane is None or lane == 1 else f"workspace-{lane}"


class ToolError(Exception):
    """A tool call that cannot be carried out; the message goes back to the model."""


def check_text(text: str, what: str) -> None:
    """Refuse text that UTF-8 cannot encode (a lone surrogate such as ``"\\ud800"``): it would
    fail when written to a file or a blob, far from the call that sent it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ToolError(
            f"{what} holds a character UTF-8 cannot encode ({text[error.start]!r} at "
            f"position {error.start}, a lone surrogate); send valid Unicode text"
        ) from None


def path_parts(name: object) -> list[str]:
    """The folders and file name of a relative path, or a ToolError saying what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise ToolError("path is required: a file name relative to the workspace, such as "
                        "attention.c")
    name = name.strip()
    if len(name) > MAX_PATH_CHARS:
        raise ToolError(f"path is {len(name):,} characters long; the limit is {MAX_PATH_CHARS}")
    check_text(name, "path")
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ToolError(f"path {name!r} holds the control character {bad!r}; use letters, "
                        "digits, '.', '_', '-' and '/'")
    if name.startswith(("/", "~", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ToolError(f"{name}: absolute paths are refused; use a name relative to the "
                        "workspace, such as attention.c")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ToolError(f"{name}: '..' is refused; the workspace is the whole world here")
    if len(parts) > MAX_DEPTH:
        raise ToolError(f"{name} is {len(parts)} levels deep; the limit is {MAX_DEPTH}")
    long = next((p for p in parts if len(p.encode()) > MAX_NAME_BYTES), None)
    if long is not None:
        raise ToolError(f"the name {long[:40]!r}... is {len(long.encode())} bytes long; a "
                        f"folder or file name may have at most {MAX_NAME_BYTES}")
    return parts


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
            path.write_text(text, encoding="utf-8")

    def files(self) -> dict[str, str]:
        root = self.root.resolve()
        found = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(root):
                found[path.relative_to(self.root).as_posix()] = path.read_text(
                    encoding="utf-8", errors="replace")
        return found

    # -- confinement --------------------------------------------------------------------------

    def resolve(self, name: str, *, write: bool) -> Path:
        parts = path_parts(name)
        name = "/".join(parts)
        if parts[0] == KNOWLEDGE_PREFIX.rstrip("/"):
            if write:
                raise ToolError(f"{name}: the knowledge base is read-only")
            return self._knowledge_file("/".join(parts[1:]))
        path = self.root.joinpath(*parts)
        if not _inside(path, self.root):
            raise ToolError(f"{name}: a link that points outside the workspace is refused")
        if write:
            self._check_writable_at(path, name)
        return path

    def _check_writable_at(self, path: Path, name: str) -> None:
        """A file can be written at ``path``: it is no folder, and no folder on the way to it
        is a file (``attention.c/x.c`` where attention.c is a file)."""
        if path.is_dir():
            raise ToolError(f"{name} is a folder; name a file, such as {name}/kernel.c")
        for parent in path.relative_to(self.root).parents:
            if (self.root / parent).exists() and not (self.root / parent).is_dir():
                raise ToolError(f"{parent.as_posix()} is a file, so {name} cannot be created "
                                "inside it; choose another name")

    def _knowledge_file(self, name: str) -> Path:
        files = self.knowledge.files()
        if name not in files:
            listing = ", ".join(KNOWLEDGE_PREFIX + f for f in files) or "none"
            raise ToolError(f"no knowledge file {name!r}; the files are: {listing}")
        path = files[name]
        folder = next(f for f in self.knowledge.folders if path.is_relative_to(f))
        if not _inside(path, folder):
            raise ToolError(f"knowledge/{name}: a link that points outside the knowledge base")
        return path

    # -- the editor commands ------------------------------------------------------------------

    def view(self, name: str, view_range: list[int] | None = None) -> str:
        if isinstance(name, str) and name.strip() in ("", ".", "/"):
            return self._listing()
        path = self.resolve(name, write=False)
        if path.is_dir():
            return self._listing()
        lines = self._read(path, name).split("\n")
        first, last = _view_range(view_range, len(lines))
        width = len(str(last))
        return "\n".join(f"{n:>{width}}\t{lines[n - 1]}" for n in range(first, last + 1))

    def create(self, name: str, text: str) -> str:
        path = self.resolve(name, write=True)
        if not path.exists() and len(self.files()) >= MAX_FILES:
            raise ToolError(f"the workspace already holds {MAX_FILES} files")
        self._write(path, name, text)
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
            lines = ", ".join(map(str, _lines_of(text, old, MAX_LINES_LISTED)))
            more = ", ..." if count > MAX_LINES_LISTED else ""
            raise ToolError(f"old_str occurs {count} times in {name} (lines {lines}{more}); "
                            "include more context to pick one")
        result = text.replace(old, new)
        self._write(path, name, result)
        line = text[: text.index(old)].count("\n") + 1
        return f"replaced 1 occurrence in {name} at line {line}\n" + _excerpt(result, line, new)

    def insert(self, name: str, line: int, new: str) -> str:
        path = self.resolve(name, write=True)
        lines = self._read(path, name).split("\n")
        if isinstance(line, bool) or not isinstance(line, int) or not 0 <= line <= len(lines):
            raise ToolError(f"insert_line must be from 0 to {len(lines)}")
        result = "\n".join([*lines[:line], *new.split("\n"), *lines[line:]])
        self._write(path, name, result)
        return f"inserted {len(new.splitlines())} lines after line {line} of {name}\n" + _excerpt(
            result, line + 1, new
        )

    def _listing(self) -> str:
        listing = [f"{n}  ({len(t.splitlines())} lines)" for n, t in self.files().items()]
        return "workspace files:\n" + "\n".join(listing)

    def _read(self, path: Path, name: str) -> str:
        if path.is_dir():
            raise ToolError(f"{name} is a folder; view '.' lists the workspace files")
        if not path.is_file():
            known = ", ".join(self.files()) or "none"
            raise ToolError(f"no file {name!r} (workspace files: {known})")
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise ToolError(f"{name} cannot be read: {error.strerror or error}") from None

    def _write(self, path: Path, name: str, text: str) -> None:
        """Write ``text`` once it is known to be encodable and small enough; a failure the
        checks could not foresee (a full disk, a read-only file) is a ToolError too."""
        check_text(text, f"the new text of {name}")
        size = len(text.encode())
        if size > self.max_write_bytes:
            raise ToolError(f"{name} would be {size:,} bytes; the limit is "
                            f"{self.max_write_bytes:,}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise ToolError(f"{name} cannot be written: {error.strerror or error}") from None


def _inside(path: Path, folder: Path) -> bool:
    """``path``, its links followed, lies in ``folder``; a link loop is not inside."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
        return False


def _view_range(view_range: list[int] | None, count: int) -> tuple[int, int]:
    """The first and last line (1-based, inclusive) ``view_range`` asks for in a file of
    ``count`` lines; [first, -1] runs to the end."""
    if not view_range:
        return 1, count
    if len(view_range) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in view_range
    ):
        raise ToolError("view_range must be two line numbers, [first, last] (-1: the end)")
    first, last = view_range[0], view_range[1] if view_range[1] != -1 else count
    if not 1 <= first <= last <= count:
        raise ToolError(f"view_range {view_range} is outside 1..{count}")
    return first, last


def _lines_of(text: str, part: str, limit: int) -> list[int]:
    """The line numbers of the first ``limit`` occurrences of ``part``, counted in one pass
    (a short ``old_str`` may occur in every line of a large file)."""
    found: list[int] = []
    line, scanned, start = 1, 0, text.find(part)
    while start != -1 and len(found) < limit:
        line += text.count("\n", scanned, start)
        scanned = start
        found.append(line)
        start = text.find(part, start + 1)
    return found


def _excerpt(text: str, line: int, new: str, context: int = 3) -> str:
    lines = text.split("\n")
    first = max(1, line - context)
    last = min(len(lines), line + len(new.split("\n")) + context - 1)
    return "\n".join(f"{n:>5}\t{lines[n - 1]}" for n in range(first, last + 1))
