"""Reading a session: its meta and state, versions and their files, attempts, events, and the
suspects pending review. The base of :class:`~avo_tui.store.session.Session`, which adds the
writing; every read takes the session's mutex, so it sees whole writes only."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from .blobs import BlobStore
from .diff import VersionDiff, diff_files
from .errors import DamagedSession, NewerSchema, StoreError, UnknownVersion
from .journal_storage import JournalStorage, parse_segment_name, segment_name
from .lineage import Lineage
from .models import NO_VERSION_YET, Attempt, Event, Suspect, Version
from .run_state import RESCORED, Rescored, RunState, rescored_of

SCHEMA_VERSION = 1

EVENTS, VERSIONS, ATTEMPTS = "events", "versions", "attempts"
META, STATE = "meta", "state"
SUSPECTS = "suspects"  # state: {attempt id: Suspect doc}, the ones pending review


class SessionReading:
    """What every reader of a session may do; the session's files are opened by
    :class:`~avo_tui.store.session.Session`."""

    directory: Path
    name: str
    blobs: BlobStore
    lineage: Lineage
    _storage: JournalStorage
    _db: TinyDB
    _mutex: threading.RLock
    _appended: threading.Condition
    _closed: bool
    _last_seq: int
    _attempt_count: int
    _rescored: dict[str, Rescored]  # the state's rescored scores, as the lineage reads them
    _rescored_doc: object  # the document they were read from, to tell when it changed

    # -- indices ------------------------------------------------------------------------------

    def _segments(self, prefix: str) -> list[str]:
        names = []
        for name in self._db.tables():
            parsed = parse_segment_name(name)
            if parsed and parsed[0] == prefix:
                names.append(name)
        return sorted(names)

    def _load_indices(self) -> None:
        meta = self._db.table(META).get(doc_id=1)
        if meta is None:
            raise DamagedSession(
                self._storage.base_path,
                "it holds no session metadata",
                hint="The session was never completely created",
            )
        schema = meta.get("schema", 0)
        if schema > SCHEMA_VERSION:
            raise NewerSchema(
                f"session '{self.name}' was written by a newer avo-tui (schema {schema}); "
                f"this one reads schema {SCHEMA_VERSION} and older. Upgrade avo-tui to open it."
            )
        self.lineage = Lineage()
        self._rescored, self._rescored_doc = {}, None
        self._take_rescores()
        self._index_versions()
        self._last_seq = self._last_number(EVENTS)
        self._attempt_count = self._last_number(ATTEMPTS)

    def _index_versions(self) -> None:
        """Add the versions the lineage does not know yet (all of them, at open)."""
        known = len(self.lineage)
        first_segment = known // self._storage.capacity[VERSIONS]
        for name in self._segments(VERSIONS)[first_segment:]:
            for doc in sorted(self._db.table(name).all(), key=lambda d: d.doc_id):
                if doc.doc_id > known:
                    version = Version.from_doc(doc)
                    rescored = self._rescored.get(version.id)
                    self.lineage.add(replace(version, score=rescored.score) if rescored
                                     else version)
        if len(self.lineage) == 0 and self.state.get("head", "v0") is not None:
            # A head of None is a session with no version yet (a target with no seed), which
            # the agent's first commit gives its v0; any other session has its seed's.
            raise DamagedSession(self._storage.base_path, "it holds no versions")

    def _take_rescores(self) -> None:
        """Read the state's rescored scores (docs/engine.md, "Rescores") where they changed,
        and give them to the versions the lineage holds; a version indexed later reads its
        own there. An entry that does not read leaves its version with its record's score."""
        doc = self.state.get(RESCORED)
        if doc == self._rescored_doc:
            return
        rescored = rescored_of(doc)
        changed = {vid: r.score for vid, r in rescored.items() if self._rescored.get(vid) != r}
        self._rescored, self._rescored_doc = rescored, copy.deepcopy(doc)
        if changed:
            self.lineage.rescore(changed)

    def _last_number(self, prefix: str) -> int:
        segments = self._segments(prefix)
        if not segments:
            return 0
        return max((doc.doc_id for doc in self._db.table(segments[-1]).all()), default=0)

    def refresh(self) -> bool:
        """For a reader: take in what the writing process has added since. True if anything."""
        with self._mutex:
            if not self._storage.refresh():
                return False
            self._take_rescores()
            self._index_versions()
            self._last_seq = self._last_number(EVENTS)
            self._attempt_count = self._last_number(ATTEMPTS)
            return True

    # -- reading ------------------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        with self._mutex:
            return dict(self._db.table(META).get(doc_id=1) or {})

    @property
    def state(self) -> dict[str, Any]:
        with self._mutex:
            return dict(self._db.table(STATE).get(doc_id=1) or {})

    @property
    def run_state(self) -> RunState:
        """The state, typed; a damaged field reads as its default (run_state.py)."""
        return RunState.from_doc(self.state)

    @property
    def head(self) -> Version | None:
        """The version the next commit builds on; None while the session has no version yet
        (a target with no seed: the agent writes v0, NO_VERSION_YET)."""
        head = self.state.get("head")
        return None if head is None else self.lineage.get(head)

    def best(self) -> Version | None:
        return self.lineage.best()

    def version(self, ref: str) -> Version:
        """A version by id, or ``head``, or ``best`` (the best scored one)."""
        with self._mutex:
            if ref == "head":
                head = self.head
                if head is None:
                    raise UnknownVersion("head", (), NO_VERSION_YET)
                return head
            if ref == "best":
                best = self.lineage.best()
                if best is None:
                    raise UnknownVersion(
                        "best",
                        (),
                        "no version has a score yet, so there is no 'best'; "
                        "name a version id or 'head'" if len(self.lineage) else NO_VERSION_YET,
                    )
                return best
            return self.lineage.get(ref)

    def read_files(self, version: Version | str) -> dict[str, str]:
        v = self.version(version) if isinstance(version, str) else version
        return {name: self.blobs.get_text(digest) for name, digest in v.files.items()}

    def diff(self, old: str, new: str) -> VersionDiff:
        a, b = self.version(old), self.version(new)
        return diff_files(self.read_files(a), self.read_files(b), a.id, b.id)

    @property
    def attempt_count(self) -> int:
        return self._attempt_count

    def attempt(self, attempt_id: str) -> Attempt:
        number = int(attempt_id[1:]) if attempt_id[1:].isdigit() else 0
        if attempt_id[:1] != "a" or not 1 <= number <= self._attempt_count:
            raise StoreError(
                f"no attempt '{attempt_id}' (this session has a1..a{self._attempt_count})"
            )
        table, doc_id = self._locate(ATTEMPTS, number)
        with self._mutex:
            doc = self._db.table(table).get(doc_id=doc_id)
        if doc is None:
            raise DamagedSession(self._storage.base_path, f"attempt '{attempt_id}' is missing")
        return Attempt.from_doc(doc)

    def recent_attempts(self, limit: int = 20) -> list[Attempt]:
        """The last ``limit`` attempts, newest first."""
        first = max(1, self._attempt_count - limit + 1)
        return [self.attempt(f"a{n}") for n in range(self._attempt_count, first - 1, -1)]

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def events(self, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events with seq > ``after``, oldest first: a reader resumes from the last seq it saw."""
        with self._mutex:
            last = self._last_seq if limit is None else min(self._last_seq, after + limit)
            out: list[Event] = []
            seq = after + 1
            while seq <= last:
                table, _ = self._locate(EVENTS, seq)
                size = self._storage.capacity[EVENTS]
                end = min(last, (seq - 1) // size * size + size)
                docs = self._db.table(table).get(doc_ids=list(range(seq, end + 1))) or []
                out.extend(_event(doc) for doc in docs)
                seq = end + 1
            return out

    def follow(
        self, after: int = 0, *, stop: threading.Event | None = None, poll_s: float = 0.25
    ) -> Iterator[Event]:
        """Yield events after ``after`` as they are appended, until ``stop`` is set or closed.

        In the writing process it wakes on each append; a reader polls the files.
        """
        cursor = after
        while not (stop and stop.is_set()) and not self._closed:
            batch = self.events(after=cursor, limit=1000)
            if batch:
                yield from batch
                cursor = batch[-1].seq
                continue
            if self.writable:
                self._wait_for_append(cursor, poll_s)
            else:
                time.sleep(poll_s)
                self.refresh()

    def _wait_for_append(self, seen: int, timeout: float) -> None:
        with self._appended:
            self._appended.wait_for(lambda: self._last_seq > seen or self._closed, timeout=timeout)

    def suspects(self) -> list[Suspect]:
        """The suspects pending the operator's review, oldest first. An entry that does not
        parse (a damaged or foreign session) is left out rather than failing the reader."""
        pending = self.state.get(SUSPECTS)
        if not isinstance(pending, dict):
            return []
        out = []
        for doc in pending.values():
            with suppress(TypeError, ValueError, AttributeError):
                out.append(Suspect.from_doc(doc))
        return out

    def suspect(self, attempt_id: str) -> Suspect:
        """A pending suspect by attempt id; StoreError (one clear line) if it is not one."""
        for suspect in self.suspects():
            if suspect.attempt == attempt_id:
                return suspect
        pending = ", ".join(s.attempt for s in self.suspects()) or "none"
        if attempt_id[:1] == "a" and attempt_id[1:].isdigit() and (
            1 <= int(attempt_id[1:]) <= self._attempt_count
        ):
            why = f"{attempt_id} is not a pending suspect"
        else:
            why = f"no attempt '{attempt_id}' in session '{self.name}'"
        raise StoreError(f"{why} (pending suspects: {pending})")

    def _locate(self, prefix: str, number: int) -> tuple[str, int]:
        """The segment table and doc id of record ``number`` (1-based) of an append-only table."""
        return segment_name(prefix, (number - 1) // self._storage.capacity[prefix]), number

    @property
    def writable(self) -> bool:
        return self._storage.writable


def _event(doc: Mapping[str, Any]) -> Event:
    """An event as stored; a damaged document still reads (its payload will not parse, and
    the views show it as such), since one bad record must not hide the whole log."""
    seq, ts, data = doc.get("seq"), doc.get("ts"), doc.get("data")
    return Event(seq if isinstance(seq, int) else getattr(doc, "doc_id", 0),
                 ts if isinstance(ts, int | float) else 0.0, str(doc.get("kind", "unknown")),
                 data if isinstance(data, dict) else {"_damaged": data})
