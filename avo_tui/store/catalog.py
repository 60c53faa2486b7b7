"""Where sessions live, and a summary of each for listings."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from .atomic import fsync_dir
from .errors import DamagedSession, SessionExists, StoreError, UnknownSession
from .journal_storage import BASE, JOURNAL
from .lock import SessionLock
from .names import check_session_name
from .summary import SessionFacts, read_summary, remember, stamp

if TYPE_CHECKING:
    from .session import Session

ENV_SESSIONS_DIR = "AVO_SESSIONS_DIR"


def default_sessions_dir() -> Path:
    """``sessions/`` of the checkout when run from one, else the user's data directory."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "sessions").is_dir():
        return checkout / "sessions"
    # appauthor=False: on Windows, no vendor folder above avo-tui's own
    return Path(platformdirs.user_data_dir("avo-tui", appauthor=False)) / "sessions"


def resolve_sessions_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """``--sessions-dir`` wins, then ``AVO_SESSIONS_DIR``, then the default."""
    if option:
        return Path(option).expanduser()
    if env := os.environ.get(ENV_SESSIONS_DIR):
        return Path(env).expanduser()
    return default_sessions_dir()


@dataclass(frozen=True)
class SessionSummary:
    """A session as a listing shows it: its facts (summary.py), the process that writes it
    now, if any, and when its files were last written."""

    name: str
    facts: SessionFacts | None  # None: the session does not read
    writer: str | None  # "pid N on HOST" of the live process that writes it
    last_activity: float
    damaged: str = ""  # the gist of why the session does not read
    error: str | None = None  # and the whole of it


class SessionCatalog:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        self._check_root()
        if not self.root.is_dir():
            return []
        folders = (p for p in self.root.iterdir() if not p.name.startswith("."))
        return sorted(p.name for p in folders if (p / BASE).is_file())

    def latest(self) -> str | None:
        """The session written most recently, by its files' times; None if there is none."""
        def written(name: str) -> float:
            folder = self.root / name
            return max(p.stat().st_mtime for p in (folder / BASE, folder / JOURNAL)
                       if p.exists())

        return max(self.names(), key=written, default=None)

    def path(self, name: str) -> Path:
        """The folder of an existing session, or UnknownSession listing close matches."""
        check_session_name(name)
        path = self.root / name
        if not (path / BASE).is_file():
            raise UnknownSession(name, self.names(), self.root)
        return path

    def new_path(self, name: str) -> Path:
        check_session_name(name)
        self._check_root()
        return self.root / name

    def check_writable(self) -> None:
        """Make the sessions folder if it is missing, and write a file in it, or say in one
        line why not: before a new session's seed is scored, not after (issue 71: a read-only
        folder was found only after the seed's scoring)."""
        self._check_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(dir=self.root, prefix=".avo-writable-")
            os.close(handle)
            os.unlink(probe)
        except OSError as error:
            raise StoreError(f"the sessions folder {self.root} is not writable "
                             f"({error.strerror or error}): a new session is made there; give "
                             f"--sessions-dir or {ENV_SESSIONS_DIR} a folder you can write"
                             ) from None

    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"the sessions folder {self.root} is a file: --sessions-dir or "
                             f"{ENV_SESSIONS_DIR} must name a folder")

    def open(self, name: str, *, writable: bool = True) -> Session:
        """Open a session by name; a file that reads as something other than a session's
        (a shape no version of avo wrote) is a DamagedSession, not a crash."""
        from .session import Session  # not for a listing that reads summaries only

        path = self.path(name)
        try:
            return Session.open(path, writable=writable)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise DamagedSession(path / BASE, f"{type(exc).__name__}: {exc}",
                                 hint=f"Nothing was changed. `avo sessions repair {name}` "
                                 "checks it") from exc

    def rename(self, name: str, new_name: str) -> Path:
        """Give a session another name (its folder's); refused while a process writes it, or
        when the new name is taken. Its lock is held throughout, so no run starts meanwhile."""
        path = self.path(name)
        target = self.new_path(new_name)
        if target.exists():
            raise SessionExists(f"a session or folder named '{new_name}' is already in "
                                f"{self.root}")
        lock = SessionLock(path)
        lock.acquire()  # SessionLocked names the live writer
        try:
            os.rename(path, target)
        finally:
            lock.release()
        fsync_dir(self.root)
        return target

    def delete(self, name: str) -> None:
        """Remove a session and every file of it; refused while a process writes it. The
        folder leaves the listing at once (renamed to a hidden one), then is removed."""
        path = self.path(name)
        lock = SessionLock(path)
        lock.acquire()
        doomed = self.root / f".deleting-{name}-{os.getpid()}"
        try:
            os.rename(path, doomed)
        finally:
            lock.release()
        fsync_dir(self.root)
        shutil.rmtree(doomed)

    def summary(self, name: str) -> SessionSummary:
        """What a listing shows of a session: from its summary where that can be trusted,
        else read from the session (and the summary kept for the next listing)."""
        path = self.path(name)
        last = max(
            (p.stat().st_mtime for p in (path / BASE, path / JOURNAL) if p.exists()), default=0.0
        )
        holder = SessionLock(path).holder()
        writer = holder.where() if holder else None
        facts = read_summary(path)
        if facts is None:
            try:
                before = stamp(path)
                with self.open(name, writable=False) as session:
                    facts = SessionFacts.of(session)
            # one damaged session is one line of a listing, whatever broke in it
            except (StoreError, OSError, ValueError, TypeError, KeyError) as exc:
                reason = exc.reason if isinstance(exc, DamagedSession) else str(exc)
                return SessionSummary(name, None, writer, last, _short(reason), str(exc))
            if holder is None:  # a live writer keeps the summary itself
                remember(path, facts, before)
        return SessionSummary(name, facts, writer, last)


def _short(reason: str) -> str:
    """The gist of why a session does not read: up to the first parenthesis or semicolon
    ("not valid JSON (Expecting value: line 1 ...)" reads "not valid JSON")."""
    for mark in (" (", "; ", ". "):
        reason = reason.split(mark, 1)[0]
    return reason.strip() or "unreadable"
