"""One writer per session: an advisory lock file that names its holder.

The lock is an ``flock`` on ``<session>/lock``. The kernel drops it when the holding process dies,
however it dies, so a stale lock from a dead process is taken over without guessing from pids.
The file's content (pid, host, start time, command) is only there to tell a refused second
writer who holds the session.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import SessionLocked

LOCK_FILE = "lock"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    since: str
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.since} ({self.command})"

    def where(self) -> str:
        return f"pid {self.pid} on {self.host}"

    @classmethod
    def parse(cls, raw: bytes) -> LockHolder | None:
        try:
            data = json.loads(raw)
            return cls(
                int(data["pid"]), str(data["host"]), str(data["since"]), str(data["command"])
            )
        except (ValueError, KeyError, TypeError):
            return None


def _me() -> LockHolder:
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] if sys.argv else "python"
    since = datetime.now(UTC).isoformat(timespec="seconds")
    return LockHolder(os.getpid(), socket.gethostname(), since, command)


def _read_holder(fd: int) -> LockHolder | None:
    return LockHolder.parse(os.pread(fd, 4096, 0))


class SessionLock:
    """Held for as long as a process writes a session."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None
        self.taken_over: LockHolder | None = None

    def acquire(self) -> None:
        """Take the lock, or raise SessionLocked naming the live holder.

        If a previous holder died without releasing it, ``taken_over`` names that holder.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = holder.describe() if holder else "another process"
            raise SessionLocked(
                f"session '{self.path.parent.name}' is being written by {who}. "
                "Stop that process first, or open the session read-only."
            ) from None
        self.taken_over = _read_holder(fd)
        me = json.dumps(_me().__dict__).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> LockHolder | None:
        """Who holds the lock right now, or None if nobody does (without taking it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
