"""An index of markdown sections: one chunk per heading, full-text search through SQLite FTS5
(BM25 ranking, Porter stemming), built on first use and rebuilt when a file changes."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .applies import GENERAL, applicability, is_declaration
from .applies import label as applies_label

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
WORD = re.compile(r"[A-Za-z0-9_.]+")


# Words that carry no topic in an engineer's question ("why does my wgmma read garbage").
STOP_WORDS = frozenset(
    """
    a about after also am an and any are as at be been before being but by can could did do
    does doing done each else entirely even every for from get gets got had has have how i
    if in instead into is it its just keep kind like make makes many me much my need needs
    not of on only or our own really same should so some still such sure take tell than that
    the their them then there these they thing things this those to too try use used using
    very want was way ways we well were what when where whether which while who why will
    with would you your
    """.split()  # noqa: SIM905 - a word list reads better as text
)


SOURCES_WEIGHT, TITLE_WEIGHT = 0.3, 0.5


class KnowledgeError(LookupError):
    """A reference that names no file or section, or a knowledge folder that does not exist."""


@dataclass(frozen=True)
class Section:
    file: str  # as the agent names it: "hopper-tma.md", or "folder/notes.md" for user folders
    heading: str  # "" for the text before the first heading
    text: str
    level: int = 0  # 1 for "# Title", 2 for "## ...", 0 before the first heading
    applies: tuple[str, ...] = GENERAL  # its file's architecture tags (applies.py)

    @property
    def ref(self) -> str:
        return f"{self.file}#{self.heading}" if self.heading else self.file

    @property
    def label(self) -> str:
        """"Blackwell only" and the like; "" for a general file."""
        return applies_label(self.applies)


@dataclass(frozen=True)
class Hit:
    section: Section
    snippet: str
    score: float  # BM25, higher is better

    @property
    def applies(self) -> tuple[str, ...]:
        return self.section.applies

    @property
    def label(self) -> str:
        return self.section.label


@dataclass(frozen=True)
class FileOutline:
    file: str
    title: str
    sections: int
    path: Path
    applies: tuple[str, ...] = GENERAL  # architecture tags: ("hopper",), ("any",) ...

    @property
    def label(self) -> str:
        return applies_label(self.applies)


def anchor(heading: str) -> str:
    """The anchor a markdown renderer gives a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def split_sections(file: str, text: str) -> list[Section]:
    """One section per heading (any level), holding the text up to the next heading. The
    applicability declaration is left out: its words would match searches for "hopper"."""
    applies = applicability(text)
    sections: list[Section] = []
    heading, level = "", 0
    lines: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else HEADING.match(line)
        if match:
            if heading or "".join(lines).strip():
                sections.append(Section(file, heading, "\n".join(lines).strip(), level, applies))
            heading, level, lines = match.group(2), len(match.group(1)), [line]
        elif not heading and is_declaration(line):
            continue
        else:
            lines.append(line)
    if heading or "".join(lines).strip():
        sections.append(Section(file, heading, "\n".join(lines).strip(), level, applies))
    return sections


class KnowledgeBase:
    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._db: sqlite3.Connection | None = None
        self._sections: list[Section] = []

    def files(self) -> dict[str, Path]:
        """{name the agent uses: path}. The first folder's files keep their bare names; a user
        folder's files are prefixed with the folder's name (``notes/tma.md``), made unique."""
        found: dict[str, Path] = {}
        labels: set[str] = set()
        for position, folder in enumerate(self.folders):
            if not folder.is_dir():
                continue
            label = folder.name
            while position and label in labels:
                label += "+"
            labels.add(label)
            for path in sorted(folder.rglob("*.md")):
                name = path.relative_to(folder).as_posix()
                found.setdefault(f"{label}/{name}" if position else name, path)
        return found

    def outline(self) -> list[FileOutline]:
        """Each file's name, title (its first heading), number of sections and architecture
        tags (``applies_to`` decides whether it is about the target's GPU)."""
        rows = []
        for name, path in self.files().items():
            sections = split_sections(name, path.read_text(errors="replace"))
            title = next((s.heading for s in sections if s.heading), "")
            applies = sections[0].applies if sections else GENERAL
            rows.append(FileOutline(name, title, len(sections), path, applies))
        return rows

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """Sections ranked for a question or keywords, best first.

        Any word of the query may match (the question words are dropped); BM25 weighs the rarer
        words more and counts a heading match four times a body match. Then a section gains in
        proportion to the share of the query's words its heading holds, since headings here
        name what their section answers; a file's title paragraph and its list of sources
        rank below the sections that answer.
        """
        words = [w.strip(".").lower() for w in WORD.findall(query)]
        words = list(dict.fromkeys(w for w in words if w))
        terms = [w for w in words if w not in STOP_WORDS] or words
        if not terms:
            return []
        db = self._index()
        quoted = ['"' + t.replace('"', "") + '"' for t in terms]
        match = " OR ".join(quoted)
        rows = db.execute(
            "SELECT rowid, bm25(sections, 0.0, 4.0, 1.0) FROM sections WHERE sections MATCH ?",
            (match,),
        ).fetchall()
        in_heading: dict[int, int] = {}
        for term in quoted:
            for (rowid,) in db.execute(
                "SELECT rowid FROM sections WHERE sections MATCH ?", (f"heading : {term}",)
            ):
                in_heading[rowid] = in_heading.get(rowid, 0) + 1
        scores = {}
        for rowid, rank in rows:
            section = self._sections[rowid - 1]
            score = -rank * (1 + in_heading.get(rowid, 0) / len(terms))
            if section.heading == "Sources":
                score *= SOURCES_WEIGHT
            elif section.level == 1:
                score *= TITLE_WEIGHT
            scores[rowid] = score
        best = sorted(scores, key=lambda rowid: -scores[rowid])[:limit]
        if not best:
            return []
        snippets = dict(db.execute(  # the costly part, so only for the hits returned
            "SELECT rowid, snippet(sections, 2, '', '', ' … ', 24) FROM sections"
            f" WHERE sections MATCH ? AND rowid IN ({','.join('?' * len(best))})",
            (match, *best),
        ).fetchall())
        return [Hit(self._sections[r - 1], snippets.get(r, ""), scores[r]) for r in best]

    def read(self, ref: str) -> Section:
        """``FILE`` (the whole file) or ``FILE#heading``: the heading exactly (any case), as a
        markdown anchor (``#setmaxnreg-moving-registers``), or a part of one heading."""
        file, _, heading = ref.strip().partition("#")
        files = self.files()
        if file not in files:
            known = ", ".join(files) or "none"
            raise KnowledgeError(f"no knowledge file {file!r} (files: {known})")
        text = files[file].read_text(errors="replace")
        if not heading.strip():
            return Section(file, "", text, applies=applicability(text))
        sections = [s for s in split_sections(file, text) if s.heading]
        wanted = heading.strip().lower()
        exact = [s for s in sections if s.heading.lower() == wanted or
                 anchor(s.heading) == anchor(wanted)]
        if exact:
            return exact[0]
        partial = [s for s in sections if wanted in s.heading.lower()]
        if len(partial) == 1:
            return partial[0]
        if partial:
            names = "; ".join(s.heading for s in partial)
            raise KnowledgeError(f"{file}#{heading} matches several sections: {names}")
        names = "; ".join(s.heading for s in sections)
        raise KnowledgeError(f"{file} has no section {heading!r} (sections: {names})")

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
