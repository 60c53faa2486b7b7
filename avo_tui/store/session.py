"""A session on disk: its lineage, attempts, event log and run state.

One process writes a session (``Session.open`` takes the lock); any number may read it
(``writable=False``), and a reader follows the writer with ``refresh``/``follow``. Every method
that returns has made its change durable: a commit that returned survives a SIGKILL or a power
cut. State is persisted before the event announcing it is published to in-process followers.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

from tinydb import TinyDB
from tinydb.table import Document

from .atomic import fsync_dir
from .blobs import BLOBS, BlobStore
from .diff import diff_files
from .drafts import Drafts
from .errors import (
    SessionExists,
    StoreError,
)
from .journal_storage import BASE, SEGMENTS, JournalStorage
from .lineage import Lineage
from .lock import LockHolder, SessionLock
from .models import AUTHORS, Attempt, Event, EventKind, Outcome, Score, Suspect, Version, version_id
from .names import check_file_name, check_session_name
from .payloads import (
    AttemptPayload,
    CommitPayload,
    FlaggedPayload,
    Payload,
    RescorePayload,
    RollbackPayload,
    SessionPayload,
    SuspectPayload,
    append_payload,
)
from .run_state import FLAGGED, RESCORED, Flagged, Rescored, StateUpdate
from .run_state import VERSION as STATE_VERSION
from .run_state import VERSION_KEY as STATE_VERSION_KEY
from .run_state import normalise as normalise_state
from .session_reading import (
    ATTEMPTS,
    EVENTS,
    META,
    SCHEMA_VERSION,
    STATE,
    SUSPECTS,
    VERSIONS,
)
from .session_writing import SessionWriting

SEGMENT_CAPACITY = {EVENTS: 1024, VERSIONS: 256, ATTEMPTS: 256}


class Session(SessionWriting):
    """The session, read and written (a reader opens it with ``writable=False``); its reading
    is :class:`SessionReading` (session_reading.py), the primitives its writes are made of
    :class:`SessionWriting` (session_writing.py)."""

    def __init__(
        self,
        directory: Path,
        storage: JournalStorage,
        lock: SessionLock | None,
        *,
        creating: bool = False,
    ) -> None:
        self.directory = directory
        self.name = directory.name
        self.blobs = BlobStore(directory)
        self._storage = storage
        self._db = TinyDB(storage=_Existing(storage))
        self._lock = lock
        self._mutex = threading.RLock()
        self._appended = threading.Condition(self._mutex)
        self._closed = False
        if creating:
            self.lineage = Lineage()
            self._last_seq = self._attempt_count = 0
            self._rescored, self._rescored_doc = {}, None
        else:
            self._load_indices()

    # -- opening and creating -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        target: str,
        operator: str,
        seed_files: Mapping[str, str] | None,
        message: str = "seed kernel",
        score: Score | None = None,
        host: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        seed_note: str | None = None,
        target_file: Mapping[str, str] | None = None,
        segment_capacity: Mapping[str, int] = SEGMENT_CAPACITY,
        **storage_options: Any,
    ) -> Session:
        """Create a session whose lineage starts at ``v0`` made of ``seed_files``;
        ``seed_note`` says in its first event which seed that is and why. ``seed_files`` None:
        a target with no seed, whose session starts with no version (its head None) until
        the agent's first commit writes ``v0`` (docs/engine.md, "A run without a seed").
        ``target_file``
        ({path, sha256}) is kept for a target that is a user's file, so a resume can tell it
        changed.

        The folder appears complete or not at all: it is built under a temporary name and
        renamed into place.
        """
        check_session_name(directory.name)
        if seed_files is not None and not seed_files:
            raise StoreError("a session needs at least one seed file, or none at all (None)")
        if directory.exists():
            raise SessionExists(f"session '{directory.name}' already exists in {directory.parent}")
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = directory.with_name(f".{directory.name}.creating-{os.getpid()}")
        staging.mkdir()
        try:
            session = cls._build(
                staging,
                target,
                operator,
                seed_files,
                message,
                score,
                host,
                settings,
                seed_note,
                target_file,
                {**storage_options, "segment_capacity": segment_capacity},
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.rename(staging, directory)
        except OSError as exc:
            session.close()
            shutil.rmtree(staging, ignore_errors=True)
            raise SessionExists(f"cannot create session '{directory.name}': {exc}") from exc
        fsync_dir(directory.parent)
        session._moved_to(directory)
        return session

    @classmethod
    def _build(
        cls,
        staging: Path,
        target: str,
        operator: str,
        seed_files: Mapping[str, str] | None,
        message: str,
        score: Score | None,
        host: Mapping[str, Any] | None,
        settings: Mapping[str, Any] | None,
        seed_note: str | None,
        target_file: Mapping[str, str] | None,
        storage_options: dict[str, Any],
    ) -> Session:
        segment_capacity = storage_options.pop("segment_capacity")
        (staging / BLOBS).mkdir()
        lock = SessionLock(staging)
        lock.acquire()
        try:
            storage = JournalStorage(
                staging, segment_capacity=segment_capacity, create=True, **storage_options
            )
            session = cls(staging, storage, lock, creating=True)
            now = time.time()
            meta = {
                "schema": SCHEMA_VERSION,
                "target": target,
                "operator": operator,
                "created": now,
                "host": dict(host or {}),
                "settings": dict(settings or {}),
            }
            if target_file is not None:
                meta["target_file"] = dict(target_file)
            seed = None if seed_files is None else Version(
                "v0", None, "seed", message, session.store_files(seed_files), score, now)
            with session._write():
                session._db.table(META).insert(Document(meta, doc_id=1))
                session._db.table(STATE).insert(Document(
                    {"head": seed.id if seed else None, "status": "new",
                     STATE_VERSION_KEY: STATE_VERSION}, doc_id=1))
                if seed is not None:
                    session._insert_version(seed)
                session._insert_payload(SessionPayload("created", target=target, seed=seed_note))
            session._keep_facts(force=True)
            return session
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, directory: Path, *, writable: bool = True, **storage_options: Any) -> Session:
        """Open an existing session. A writer takes the lock; a reader never changes a file."""
        if not (directory / BASE).is_file():
            raise StoreError(f"{directory} is not a session folder (no {BASE})")
        lock = None
        if writable:
            lock = SessionLock(directory)
            lock.acquire()
        try:
            storage = JournalStorage(
                directory, writable=writable, **storage_options
            )
            session = cls(directory, storage, lock)
        except BaseException:
            if lock:
                lock.release()
            raise
        if lock and lock.taken_over:
            session.append(SessionPayload("lock_taken_over",
                                          previous=lock.taken_over.describe()))
        return session

    def _moved_to(self, directory: Path) -> None:
        self.directory = directory
        self.name = directory.name
        self.blobs = BlobStore(directory)
        self._storage.directory = directory
        if self._lock:
            self._lock.path = directory / self._lock.path.name

    def close(self) -> None:
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._storage.close()
            if self._lock:
                self._lock.release()
            self._appended.notify_all()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock_holder(self) -> LockHolder | None:
        return SessionLock(self.directory).holder()

    # -- writing ------------------------------------------------------------------------------

    def append_event(self, kind: str, **data: Any) -> Event:
        """Append to the event log; returns once it is durable. Writers use :meth:`append`,
        which checks the data against its kind's payload type."""
        return self._writing(lambda: self._insert_event(kind, data))

    def append(self, payload: Payload) -> Event:
        """Append a typed event (payloads.py); returns once it is durable."""
        return append_payload(self, payload)

    def store_files(self, files: Mapping[str, str]) -> dict[str, str]:
        """Put file texts in the blob store; returns {name: hash}."""
        self._check_writable()
        for name in files:
            check_file_name(name)
        return {name: self.blobs.put(text) for name, text in files.items()}

    def commit(
        self,
        files: Mapping[str, str],
        *,
        author: str,
        message: str,
        score: Score | None,
        attempt: str | None = None,
        cost_usd: float = 0.0,
        tokens: int = 0,
        state: Mapping[str, Any] | None = None,
        parent: str | None = None,
        lane: int | None = None,
    ) -> Version:
        """Add the next version as a child of ``parent`` (default: the head; with no version
        yet, ``v0``, the root) and move the head to it. ``state``: run-state fields written in
        the same transaction (the engine's usage, which says what the version's cost covered,
        so that no crash can count a cost twice).
        ``lane``: the lane that proposed it, in a run of several, whose ``parent`` is the
        version it built on, which another lane's commit may have left behind the head."""
        self._check_writable()
        if author not in AUTHORS:
            raise StoreError(f"unknown author {author!r} (one of {', '.join(AUTHORS)})")
        hashes = self.store_files(files)  # blobs first: a version never names a missing blob
        return self._writing(lambda: self._insert_commit(
            self.version(parent) if parent else self.head, files, hashes, author, message,
            score, attempt, cost_usd, tokens, state, lane))

    def _insert_commit(
        self,
        parent: Version | None,
        files: Mapping[str, str],
        hashes: dict[str, str],
        author: str,
        message: str,
        score: Score | None,
        attempt: str | None,
        cost_usd: float,
        tokens: int = 0,
        state: Mapping[str, Any] | None = None,
        lane: int | None = None,
    ) -> Version:
        last = self.lineage.last
        number = last.number + 1 if last else 0
        before = self.read_files(parent) if parent else {}
        stat = diff_files(before, files, parent.id if parent else "", version_id(number))
        version = Version(
            version_id(number),
            parent.id if parent else None,
            author,
            message,
            hashes,
            score,
            time.time(),
            stat.added,
            stat.removed,
            cost_usd,
            attempt,
            tokens,
            lane,
        )
        self._insert_version(version)
        self._set_state(**(state or {}), head=version.id)
        self._insert_payload(
            CommitPayload(version.id, version.parent, author, score.gmean if score else None,
                          message, lane=lane),
        )
        return version

    def record_attempt(
        self,
        files: Mapping[str, str],
        *,
        base: str | None,
        author: str,
        outcome: str,
        detail: str = "",
        score: Score | None = None,
        log: str | None = None,
        transcript: str | None = None,
        version: str | None = None,
        idea: str | None = None,
        lane: int | None = None,
        kernel: str | None = None,
    ) -> Attempt:
        """Record an evaluated candidate, whatever its outcome; ``base`` is the version it was
        built on (None: none yet, the first version). ``log``/``transcript`` are texts;
        ``lane``: the lane that evaluated it, in a run of several; ``kernel``: what it compiled
        to (its kernel identity), if it was built."""
        attempt = replace(self._new_attempt(files, base, author, outcome, detail, score, log,
                                            transcript, version), idea=idea, lane=lane,
                          kernel=kernel)
        return self._writing(lambda: self._insert_attempt(attempt))

    def _new_attempt(
        self,
        files: Mapping[str, str],
        base: str | None,
        author: str,
        outcome: str,
        detail: str,
        score: Score | None,
        log: str | None,
        transcript: str | None,
        version: str | None,
    ) -> Attempt:
        """The attempt to insert, its blobs stored; its id is given when it is inserted."""
        self._check_writable()
        if base is not None:
            self.lineage.get(base)
        hashes = self.store_files(files)
        log_hash = self.blobs.put(log) if log is not None else None
        transcript_hash = self.blobs.put(transcript) if transcript is not None else None
        return Attempt("a0", base, author, hashes, outcome, detail, score, 0.0, log_hash,
                       transcript_hash, version)

    def _insert_attempt(self, draft: Attempt) -> Attempt:
        attempt = replace(draft, id=f"a{self._attempt_count + 1}", created=time.time())
        table, doc_id = self._locate(ATTEMPTS, attempt.number)
        self._db.table(table).insert(Document(attempt.to_doc(), doc_id=doc_id))
        self._attempt_count = attempt.number
        self._insert_payload(AttemptPayload(attempt.id, attempt.outcome, attempt.base,
                                            attempt.detail, lane=attempt.lane))
        return attempt

    # -- suspects: flagged results held for the operator -------------------------------------

    def hold_suspect(
        self,
        files: Mapping[str, str],
        *,
        base: str | None,
        author: str,
        message: str,
        flags: Sequence[str],
        score: Score,
        detail: str = "",
        log: str | None = None,
        transcript: str | None = None,
        lane: int | None = None,
    ) -> Suspect:
        """Record a flagged result the gate would have committed as a ``suspect`` attempt and
        add it to the pending suspects in the state, with a ``suspect`` event, in one write."""
        draft = replace(self._new_attempt(files, base, author, Outcome.SUSPECT, detail, score, log,
                                          transcript, None), lane=lane)

        def write() -> Suspect:
            attempt = self._insert_attempt(draft)
            suspect = Suspect(attempt.id, base, author, message, tuple(flags), score.gmean,
                              score.unit, score.ratio, attempt.created)
            pending = self.state.get(SUSPECTS) or {}
            self._set_state(**{SUSPECTS: {**pending, attempt.id: suspect.to_doc()}})
            self._insert_payload(SuspectPayload(
                "held", attempt.id, base=base, author=author, gmean=score.gmean,
                unit=score.unit, flags=tuple(flags), lane=lane))
            return suspect

        return self._writing(write)

    def approve_suspect(
        self, attempt_id: str, *, message: str, cost_usd: float = 0.0, tokens: int = 0,
        state: Mapping[str, Any] | None = None,
    ) -> Version:
        """Commit a pending suspect as a version: its files, author and stored score, as a
        child of the version it was built on, which becomes the head; in one write (with
        ``state``, as :meth:`commit`)."""
        self._check_writable()
        self.suspect(attempt_id)
        attempt = self.attempt(attempt_id)
        if attempt.author not in AUTHORS:
            raise StoreError(f"unknown author {attempt.author!r} of {attempt_id}")
        files = {name: self.blobs.get_text(h) for name, h in attempt.files.items()}

        def write() -> Version:
            parent = self.version(attempt.base) if attempt.base else None
            version = self._insert_commit(parent, files, attempt.files,
                                          attempt.author, message, attempt.score, attempt.id,
                                          cost_usd, tokens, state, attempt.lane)
            self._resolve(SuspectPayload("approved", attempt_id, version=version.id))
            return version

        return self._writing(write)

    def reject_suspect(self, attempt_id: str, *, reason: str = "") -> Suspect:
        """Drop a pending suspect: it stays an attempt, no longer pending; in one write."""
        self._check_writable()
        suspect = self.suspect(attempt_id)
        self._writing(lambda: self._resolve(SuspectPayload("rejected", attempt_id, reason=reason)))
        return suspect

    def _resolve(self, payload: SuspectPayload) -> None:
        pending = dict(self.state.get(SUSPECTS) or {})
        if pending.pop(payload.attempt, None) is None:
            raise StoreError(f"{payload.attempt} is not a pending suspect")
        self._set_state(**{SUSPECTS: pending})
        self._insert_payload(payload)

    def rollback(self, ref: str) -> Version:
        """Move the head to an earlier version; the next commit branches from there."""

        def write() -> Version:
            target = self.version(ref)
            previous = self.head
            assert previous is not None, "a version to roll back to is a lineage with a head"
            self._set_state(head=target.id)
            self._insert_payload(RollbackPayload(previous.id, target.id))
            return target

        return self._writing(write)

    def rescore(self, scores: Sequence[tuple[Score, RescorePayload]]) -> None:
        """Give versions the scores ``avo rescore`` found (docs/engine.md, "Rescores"): for
        each, its ``rescore`` event and its entry in the state's ``rescored``, all in one
        write; a flag on a rescored version is lifted (it was measured again). The versions'
        records never change; the lineage reads the new scores."""
        self._check_writable()

        def write() -> None:
            kept = self.state.get(RESCORED)
            entries = dict(kept) if isinstance(kept, Mapping) else {}
            flags = self.state.get(FLAGGED)
            flagged = dict(flags) if isinstance(flags, Mapping) else {}
            for score, payload in scores:
                self.lineage.get(payload.version)  # UnknownVersion before anything is written
                event = self._insert_payload(payload)
                entries[payload.version] = Rescored(score, event.seq).to_doc()
                flagged.pop(payload.version, None)
            lifted = {FLAGGED: flagged} if flags is not None else {}
            self._set_state(**{RESCORED: entries, **lifted})

        self._writing(write)
        self._take_rescores()
        self._keep_facts(force=True)  # the best may be another version now

    def flag(self, payload: FlaggedPayload) -> bool:
        """Flag a version that read slower against the anchor than it was recorded
        (docs/engine.md, "The incumbent is checked"): its ``flagged`` event and its entry in
        the state's ``flagged``, in one write. A version flagged already keeps its first
        reading, and nothing is written: False."""
        self._check_writable()
        self.lineage.get(payload.version)

        def write() -> bool:
            kept = self.state.get(FLAGGED)
            flagged = dict(kept) if isinstance(kept, Mapping) else {}
            if payload.version in flagged:
                return False
            event = self._insert_payload(payload)
            flagged[payload.version] = Flagged(payload.anchor, payload.recorded,
                                               payload.measured, payload.attempt,
                                               event.seq).to_doc()
            self._set_state(**{FLAGGED: flagged})
            return True

        return self._writing(write)

    def upgrade_state(self) -> None:
        """Rewrite the state document in this version's shape if it is older (run_state.py,
        ``normalise``): once, before a run writes to it."""
        self._check_writable()

        def write() -> None:
            table = self._db.table(STATE)
            doc: Mapping[str, Any] = table.get(doc_id=1) or {}
            if doc.get(STATE_VERSION_KEY) == STATE_VERSION:
                return
            upgraded = dict(normalise_state(doc))

            def replace(stored: MutableMapping[Any, Any]) -> None:
                stored.clear()
                stored.update(upgraded)

            table.update(replace, doc_ids=[1])

        self._writing(write)

    def set_state(self, *, announce: bool = True, **fields: Unpack[StateUpdate]) -> None:
        """Update run state (status, step, budgets ...) and, if ``announce``, log a status event
        naming the fields (bookkeeping such as budgets used is saved without one)."""
        if "head" in fields:  # not a StateUpdate field: a caller that ignores types
            raise StoreError("move the head with commit() or rollback()")

        def write() -> None:
            self._set_state(**fields | {"updated": time.time()})
            if announce:
                self._insert_event(EventKind.STATUS, dict(fields))  # StatusPayload reads it

        self._writing(write)

    # -- drafts -------------------------------------------------------------------------------

    def save_draft(self, name: str, doc: dict[str, Any]) -> None:
        """Keep work in progress crash-safe outside the record (drafts.py)."""
        self._check_writable()
        Drafts(self.directory).save(name, doc)

    def draft(self, name: str) -> dict[str, Any] | None:
        return Drafts(self.directory).load(name)

    def drop_draft(self, name: str) -> None:
        self._check_writable()
        Drafts(self.directory).drop(name)


class _Existing:
    """Lets TinyDB, which wants a storage class, use an already-built storage instance."""

    def __init__(self, storage: JournalStorage) -> None:
        self._storage = storage

    def __call__(self) -> JournalStorage:
        return self._storage


__all__ = ["SCHEMA_VERSION", "SEGMENTS", "Session", "check_session_name"]
