"""What every write of a session is made of: one durable transaction, the records it lays
down, and the summary rewritten after it. The base of :class:`~avo_tui.store.session.Session`,
whose operations (commit, record_attempt, rollback ...) are each one such transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from tinydb.table import Document

from .clip import EVENT_TEXT_CHARS, clip
from .errors import StoreError
from .models import Event, Version
from .payloads import Payload
from .session_reading import EVENTS, STATE, VERSIONS, SessionReading
from .summary import keep_summary

T = TypeVar("T")


class SessionWriting(SessionReading):
    """The writer's primitives; the session's files are opened by
    :class:`~avo_tui.store.session.Session`."""

    def _write(self) -> Any:
        if self._closed:
            raise StoreError(f"session '{self.name}' is closed")
        return self._storage.transaction()

    def _writing(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` as one durable transaction; on failure the indices are read back from disk."""
        with self._mutex:
            try:
                with self._write():
                    result = fn()
            except BaseException:
                with suppress(StoreError):
                    self._load_indices()
                raise
            self._keep_facts()
            self._appended.notify_all()
            return result

    def _keep_facts(self, force: bool = False) -> None:
        """Rewrite the session's summary (summary.py) after a write that changed one of its
        facts. The write itself is durable already: a summary that could not be written is
        only not used, and the next write tries again."""
        storage = self._storage
        if force or storage.facts_changed:
            with suppress(OSError):
                keep_summary(self, sync=storage.sync)
                storage.facts_changed = False

    def _insert_version(self, version: Version) -> None:
        table, doc_id = self._locate(VERSIONS, version.number + 1)
        self._db.table(table).insert(Document(version.to_doc(), doc_id=doc_id))
        self.lineage.add(version)

    def _insert_event(self, kind: str, data: dict[str, Any]) -> Event:
        data = {key: clip(value, EVENT_TEXT_CHARS) if isinstance(value, str) else value
                for key, value in data.items()}  # whole, bar a runaway (clip.py says why)
        event = Event(self._last_seq + 1, time.time(), str(kind), data)
        table, doc_id = self._locate(EVENTS, event.seq)
        self._db.table(table).insert(Document(event.to_doc(), doc_id=doc_id))
        self._last_seq = event.seq
        return event

    def _insert_payload(self, payload: Payload) -> Event:
        return self._insert_event(payload.KIND, payload.to_doc())

    def _set_state(self, **fields: Any) -> None:
        self._db.table(STATE).update(fields, doc_ids=[1])

    def _check_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"session '{self.name}' is open read-only")


__all__ = ["SessionWriting"]
