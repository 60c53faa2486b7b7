"""A read-only view of a session, for variation operators.

An operator reads the lineage, the attempts and the files; only the engine's commit gate
writes. Handing an operator the writable :class:`Session` would let it commit past the gate,
move the head or rewrite the run state. :class:`SessionView` exposes the reads alone: it has
no write method and no attribute that leads to one: the session is held in a private slot, and
the lineage and the blob store are wrapped too (``Lineage.add`` would change the index,
``BlobStore.put`` write a file). Its reads have the session's names, so an operator reads
``ctx.session`` the same way whichever it is handed.

This is a boundary against mistakes and against tools that reach further than they should,
not a sandbox: code in the same process can always dig the session out (``gc``, name
mangling) or open the files under ``directory`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

from .blobs import BlobStore
from .diff import VersionDiff
from .lineage import Lineage
from .models import Attempt, Suspect, Version
from .payloads import Payload, PayloadError
from .session import Session

P = TypeVar("P", bound=Payload)


class LineageView:
    """The queries of a :class:`Lineage`, without ``add``."""

    __slots__ = ("__lineage",)

    def __init__(self, lineage: Lineage) -> None:
        self.__lineage = lineage

    def __len__(self) -> int:
        return len(self.__lineage)

    def __contains__(self, vid: object) -> bool:
        return vid in self.__lineage

    def __iter__(self) -> Iterator[Version]:
        return iter(self.__lineage)

    @property
    def ids(self) -> list[str]:
        return self.__lineage.ids

    @property
    def last(self) -> Version | None:
        return self.__lineage.last

    def get(self, vid: str) -> Version:
        return self.__lineage.get(vid)

    def root(self) -> Version | None:
        return self.__lineage.root()

    def children(self, vid: str) -> list[Version]:
        return self.__lineage.children(vid)

    def line(self, vid: str) -> list[str]:
        return self.__lineage.line(vid)

    def path_to_root(self, vid: str) -> list[Version]:
        return self.__lineage.path_to_root(vid)

    def best(self) -> Version | None:
        return self.__lineage.best()

    def ranked(self) -> list[Version]:
        return self.__lineage.ranked()


class BlobReader:
    """The reads of a :class:`BlobStore`, without ``put``: an attempt names its files by hash."""

    __slots__ = ("__blobs",)

    def __init__(self, blobs: BlobStore) -> None:
        self.__blobs = blobs

    def get(self, digest: str) -> bytes:
        return self.__blobs.get(digest)

    def get_text(self, digest: str) -> str:
        return self.__blobs.get_text(digest)

    def exists(self, digest: str) -> bool:
        return self.__blobs.exists(digest)


class SessionView:
    """What a variation operator may read of a session. Versions, attempts and suspects are
    frozen models, and ``meta`` and ``state`` are copies, so nothing returned writes back."""

    __slots__ = ("__session",)

    def __init__(self, session: Session) -> None:
        self.__session = session

    def __repr__(self) -> str:
        return f"SessionView({self.name!r})"

    @property
    def name(self) -> str:
        return self.__session.name

    @property
    def directory(self) -> Path:
        """The session's folder: the agent keeps its workspace under it."""
        return self.__session.directory

    @property
    def meta(self) -> dict[str, Any]:
        return self.__session.meta

    @property
    def state(self) -> dict[str, Any]:
        return self.__session.state

    @property
    def lineage(self) -> LineageView:
        # Looked up on every use: the session replaces its Lineage when it reloads its indices.
        return LineageView(self.__session.lineage)

    @property
    def head(self) -> Version | None:
        """None while the session has no version yet (the agent writes v0)."""
        return self.__session.head

    def best(self) -> Version | None:
        return self.__session.best()

    def version(self, ref: str) -> Version:
        """A version by id, or ``head``, or ``best``."""
        return self.__session.version(ref)

    def read_files(self, version: Version | str) -> dict[str, str]:
        return self.__session.read_files(version)

    @property
    def blobs(self) -> BlobReader:
        return BlobReader(self.__session.blobs)

    def diff(self, old: str, new: str) -> VersionDiff:
        return self.__session.diff(old, new)

    @property
    def attempt_count(self) -> int:
        return self.__session.attempt_count

    def attempt(self, attempt_id: str) -> Attempt:
        return self.__session.attempt(attempt_id)

    def recent_attempts(self, limit: int = 20) -> list[Attempt]:
        """The last ``limit`` attempts, newest first."""
        return self.__session.recent_attempts(limit)

    def suspects(self) -> list[Suspect]:
        """The suspects pending the operator's review, oldest first."""
        return self.__session.suspects()

    def payloads_of(self, kind: type[P], after: int, limit: int) -> tuple[list[P], int]:
        """The journal read onwards: of the next ``limit`` events after seq ``after``, the
        payloads of ``kind`` (frozen: nothing writes back; one that does not parse is left
        out), oldest first, and the seq of the last event read (``after`` when none is
        left)."""
        events = self.__session.events(after, limit)
        found = []
        for event in events:
            if event.kind == kind.KIND:
                with suppress(PayloadError):
                    found.append(kind.from_doc(event.data))
        return found, events[-1].seq if events else after


__all__ = ["BlobReader", "LineageView", "SessionView"]
