"""A session's summary: the few facts a listing shows, kept beside the session
(``summary.json``) so that ``avo sessions list`` reads one small file per session instead of
replaying its journal.

It is a cache, never the record, and nothing but a listing reads it. The writer rewrites it
(atomically) after every write that changes one of its facts, and only then: opening a session
writes none, so a command refused after it opened the session leaves every file as it was.
A reader trusts it only while the session's files are as it names them (the base file's
identity, the journal's identity and length), or differ from that only by journal records
that add events or attempts, which change none of its facts. Anything else sends the reader
to the session itself: no summary (a session of an older avo), another format, a base
rewritten by a compaction or a repair, a record that sets a table, a journal cut shorter. A
crash between a write and its summary's leaves a summary that no longer matches, so it is
never wrong, only not used. A listing that read a session the slow way, while no process
writes it, leaves its summary behind for the next listing: an older session costs the slow
path once.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import atomic_write
from .journal_storage import BASE, JOURNAL, adds_only_events

if TYPE_CHECKING:
    from .session_reading import SessionReading

SUMMARY = "summary.json"
FORMAT = "avo-summary/1"

Stamp = list[int]  # base inode, mtime_ns and size; journal inode and length (0, 0: none)


@dataclass(frozen=True)
class SessionFacts:
    """What a listing shows of a session, as stored (the run's status unnamed: a view names
    it, knowing whether a process runs it)."""

    target: str
    operator: str
    versions: int
    best: float | None
    best_unit: str
    status: str
    reason: str
    usage: dict[str, Any] | None  # the run state's documents, as the engine wrote them
    budgets: dict[str, Any] | None
    last_commit: float | None  # when the newest version was committed; None: only the seed

    @classmethod
    def of(cls, session: SessionReading) -> SessionFacts:
        meta, state, best = session.meta, session.run_state, session.best()
        score = best.score if best else None
        return cls(str(meta.get("target", "?")), str(state.operator or meta.get("operator", "?")),
                   len(session.lineage), score.gmean if score else None,
                   score.unit if score else "", state.status, state.reason, state.usage,
                   state.budgets, session.lineage.last_commit)

    @classmethod
    def from_doc(cls, doc: Any) -> SessionFacts:
        """The facts of a summary written by this format; ValueError if they do not read."""
        if not isinstance(doc, dict) or set(doc) != {f for f in cls.__dataclass_fields__}:
            raise ValueError("not a session's facts")
        facts = cls(**doc)
        if not (isinstance(facts.versions, int) and isinstance(facts.status, str)
                and isinstance(facts.target, str) and isinstance(facts.operator, str)):
            raise ValueError("not a session's facts")
        return facts


def stamp(directory: Path) -> Stamp:
    """The identity of the session's files now (OSError if the base file is gone)."""
    base = os.stat(directory / BASE)
    try:
        journal = os.stat(directory / JOURNAL)
    except FileNotFoundError:
        return [base.st_ino, base.st_mtime_ns, base.st_size, 0, 0]
    return [base.st_ino, base.st_mtime_ns, base.st_size, journal.st_ino, journal.st_size]


def write_summary(directory: Path, facts: SessionFacts, files: Stamp, *,
                  sync: bool = True) -> None:
    doc = {"format": FORMAT, "stamp": files, "facts": asdict(facts)}
    atomic_write(directory / SUMMARY, json.dumps(doc).encode(), sync=sync)


def keep_summary(session: SessionReading, *, sync: bool = True) -> None:
    """The writer's: write the summary of ``session`` as its files are now."""
    write_summary(session.directory, SessionFacts.of(session), stamp(session.directory),
                  sync=sync)


def read_summary(directory: Path) -> SessionFacts | None:
    """The session's facts from its summary, or None where the summary cannot be trusted
    (the module's docstring says when) and the session must be read."""
    try:
        doc = json.loads((directory / SUMMARY).read_bytes())
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return None
        recorded, facts = doc["stamp"], SessionFacts.from_doc(doc["facts"])
        base = os.stat(directory / BASE)
        if recorded[:3] != [base.st_ino, base.st_mtime_ns, base.st_size]:
            return None
        return facts if _only_events_since(directory / JOURNAL, recorded[3:]) else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _only_events_since(path: Path, recorded: list[int]) -> bool:
    """Whether the journal is the one the summary names, and every whole record written to
    it since only adds events or attempts. Read from one open file: a compaction that
    replaces the journal meanwhile leaves this one whole."""
    journal_ino, length = recorded
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, whichever way it returns
    except FileNotFoundError:
        return journal_ino == 0
    with f:
        now = os.fstat(f.fileno())
        if now.st_ino != journal_ino or now.st_size < length:
            return False
        f.seek(length)
        tail = f.read()
    # a last line without its newline is a record being written: not yet in the session
    return all(adds_only_events(line) for line in tail.splitlines(keepends=True)
               if line.endswith(b"\n"))


def remember(directory: Path, facts: SessionFacts, before: Stamp) -> None:
    """A listing's: keep the facts it read the slow way, where the files did not change
    while it read them (``before``); a folder it may not write keeps no summary."""
    with suppress(OSError):
        if stamp(directory) == before:
            write_summary(directory, facts, before)
