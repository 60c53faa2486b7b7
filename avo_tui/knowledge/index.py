"""An index of markdown sections: one chunk per heading, full-text search through SQLite FTS5
(BM25 ranking, Porter stemming), built on first use and rebuilt when a file changes."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

KNOWLEDGE_ENV = "AVO_KNOWLEDGE_DIR"
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
WORD = re.compile(r"[A-Za-z0-9_.]+")


class KnowledgeError(LookupError):
    """A reference that names no file or section."""


@dataclass(frozen=True)
class Section:
    file: str  # as the agent names it: "hopper-tma.md", or "folder/notes.md" for user folders
    heading: str  # "" for the text before the first heading
    text: str

    @property
    def ref(self) -> str:
        return f"{self.file}#{self.heading}" if self.heading else self.file


@dataclass(frozen=True)
class Hit:
    section: Section
    snippet: str
    score: float  # BM25, higher is better


def default_folders() -> list[Path]:
    """$AVO_KNOWLEDGE_DIR, else knowledge/ of the checkout avo runs from."""
    if os.environ.get(KNOWLEDGE_ENV):
        return [Path(os.environ[KNOWLEDGE_ENV])]
    return [Path(__file__).resolve().parents[2] / "knowledge"]


def split_sections(file: str, text: str) -> list[Section]:
    """One section per heading (any level), holding the text up to the next heading."""
    sections: list[Section] = []
    heading, lines = "", []
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else HEADING.match(line)
        if match:
            if heading or "".join(lines).strip():
                sections.append(Section(file, heading, "\n".join(lines).strip()))
            heading, lines = match.group(2), [line]
        else:
            lines.append(line)
    if heading or "".join(lines).strip():
        sections.append(Section(file, heading, "\n".join(lines).strip()))
    return sections


class KnowledgeBase:
    def __init__(self, folders: Sequence[Path] | None = None) -> None:
        self.folders = [Path(f) for f in (folders if folders is not None else default_folders())]
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._db: sqlite3.Connection | None = None
        self._sections: list[Section] = []

    def files(self) -> dict[str, Path]:
        """{name the agent uses: path}; the first folder's files keep their bare names."""
        found: dict[str, Path] = {}
        for position, folder in enumerate(self.folders):
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*.md")):
                name = path.relative_to(folder).as_posix()
                if position:
                    name = f"{folder.name}/{name}"
                found.setdefault(name, path)
        return found

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        terms = WORD.findall(query)
        if not terms:
            return []
        db = self._index()
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        rows = db.execute(
            "SELECT rowid, bm25(sections, 0.0, 4.0, 1.0),"
            " snippet(sections, 2, '', '', ' … ', 24)"
            " FROM sections WHERE sections MATCH ? ORDER BY 2 LIMIT ?",
            (match, limit),
        ).fetchall()
        return [Hit(self._sections[rowid - 1], snippet, -rank) for rowid, rank, snippet in rows]

    def read(self, ref: str) -> Section:
        """``FILE`` (the whole file) or ``FILE#heading`` (that section; case-insensitive)."""
        file, _, heading = ref.partition("#")
        files = self.files()
        if file not in files:
            known = ", ".join(files) or "none"
            raise KnowledgeError(f"no knowledge file {file!r} (files: {known})")
        if not heading:
            return Section(file, "", files[file].read_text(errors="replace"))
        sections = split_sections(file, files[file].read_text(errors="replace"))
        for section in sections:
            if section.heading.lower() == heading.strip().lower():
                return section
        headings = "; ".join(s.heading for s in sections if s.heading)
        raise KnowledgeError(f"{file} has no section {heading!r} (sections: {headings})")

    def _index(self) -> sqlite3.Connection:
        files = self.files()
        stamp = tuple(
            (name, path.stat().st_mtime, path.stat().st_size) for name, path in files.items()
        )
        with self._lock:
            if self._db is None or stamp != self._stamp:
                self._build(files)
                self._stamp = stamp
            assert self._db is not None
            return self._db

    def _build(self, files: dict[str, Path]) -> None:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute(
            "CREATE VIRTUAL TABLE sections USING fts5(file, heading, body,"
            " tokenize='porter unicode61')"
        )
        self._sections = [
            section
            for name, path in files.items()
            for section in split_sections(name, path.read_text(errors="replace"))
        ]
        db.executemany(
            "INSERT INTO sections(rowid, file, heading, body) VALUES (?, ?, ?, ?)",
            [(i + 1, s.file, s.heading, s.text) for i, s in enumerate(self._sections)],
        )
        if self._db is not None:
            self._db.close()
        self._db = db
