"""Where control commands wait until the engine reaches a safe point.

In-process senders (the app, the Ctrl-C handler) put commands on a queue. Other processes
(``avo send``, an attached app) drop one JSON file per command into the session's ``inbox/``
folder; the engine takes them in the order they were written and deletes each once read.
Commands sent while no run is live wait there for the next run, which announces them before
it applies them (a leftover ``pause`` must not look like a run that hangs).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..store import QueuedPayload
from ..store.atomic import atomic_write
from . import commands as cmd
from .commands import BadCommand, Command, from_doc, to_doc
from .elapsed import age

INBOX = "inbox"


@dataclass(frozen=True)
class Queued:
    """A command waiting in the inbox folder, and when it was sent."""

    command: Command
    sent: float  # seconds since the epoch


def describe(command: Command) -> str:
    """A command in a few words, as a person would type it to ``avo send``."""
    lane = cmd.lane_of(command)
    return f"{_describe(command)} (lane {lane})" if lane is not None else _describe(command)


def _describe(command: Command) -> str:
    match command:
        case cmd.Hint(text=text):
            return f"hint {text!r}"
        case cmd.Guidance(text=text):
            return f"guide {text!r}" if text else "guide '' (clear the guidance)"
        case cmd.Rollback(version=version):
            return f"rollback {version}"
        case cmd.OperatorEdit(files=files, message=message):
            return f"edit {', '.join(sorted(files))} ({message})"
        case cmd.SetBudgets(limits=limits):
            return "budget " + " ".join(f"{k}={v:g}" for k, v in limits.items())
        case cmd.Approve(attempt=attempt) | cmd.Reject(attempt=attempt):
            return f"{type(command).__name__.lower()} {attempt}"
        case cmd.Stop(reason=reason):
            return f"stop ({reason})"
    return type(command).__name__.lower()  # pause, resume


def queued(session_dir: Path) -> list[Queued]:
    """The commands waiting in the inbox folder, oldest first, left in place (the engine takes
    them at its next safe point); a file that does not read is left out (the engine reports
    it when it takes it)."""
    folder = session_dir / INBOX
    waiting = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            command = from_doc(json.loads(path.read_text()))
        except (OSError, ValueError, BadCommand):
            continue
        stamp = path.name.split("-", 1)[0]
        sent = int(stamp) / 1e9 if stamp.isdigit() else path.stat().st_mtime
        waiting.append(Queued(command, sent))
    return waiting


def queued_payload(session_dir: Path, now: float | None = None) -> QueuedPayload | None:
    """The announcement of the commands a run starts with, each with its age; None if none
    waits."""
    waiting = queued(session_dir)
    if not waiting:
        return None
    now = time.time() if now is None else now
    return QueuedPayload(tuple(f"{describe(q.command)}, sent {age(now - q.sent)} ago"
                               for q in waiting))


def send(session_dir: Path, command: Command) -> Path:
    """Deliver a command to the engine that runs ``session_dir``, from any process."""
    folder = session_dir / INBOX
    folder.mkdir(exist_ok=True)
    path = folder / f"{time.time_ns():020d}-{os.getpid()}.json"
    atomic_write(path, json.dumps(to_doc(command)).encode())
    return path


class Inbox:
    """The engine's control commands, taken in the order they were sent."""

    def __init__(self, session_dir: Path | None = None) -> None:
        self.folder = session_dir / INBOX if session_dir else None
        self._waiting: deque[Command] = deque()
        self._arrived = threading.Condition()
        self.rejected: list[str] = []  # unreadable command files, reported by the engine
        self._draining = threading.Lock()  # lanes drain from several threads: each file once

    def put(self, command: Command) -> None:
        with self._arrived:
            self._waiting.append(command)
            self._arrived.notify_all()

    def drain(self) -> list[Command]:
        """Every command waiting now: files first (they were sent earlier, from outside)."""
        with self._draining:
            commands = self._from_folder()
            with self._arrived:
                commands.extend(self._waiting)
                self._waiting.clear()
            return commands

    def wait(self, timeout_s: float) -> None:
        """Block until an in-process command waits or ``timeout_s`` passes (files are polled).
        It takes nothing: :meth:`drain` takes every command, in the order they came."""
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self._waiting), timeout=timeout_s)

    def _from_folder(self) -> list[Command]:
        if self.folder is None or not self.folder.is_dir():
            return []
        commands = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                commands.append(from_doc(json.loads(path.read_text())))
            except (OSError, ValueError, BadCommand) as error:
                self.rejected.append(f"{path.name}: {error}")
            path.unlink(missing_ok=True)
        return commands
