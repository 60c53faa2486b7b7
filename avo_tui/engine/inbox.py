"""Where control commands wait until the engine reaches a safe point.

In-process senders (the app, the Ctrl-C handler) put commands on a queue. Other processes
(``avo send``, an attached app) drop one JSON file per command into the session's ``inbox/``
folder; the engine takes them in the order they were written and deletes each once read.
"""

from __future__ import annotations

import json
import os
import queue
import time
from pathlib import Path

from ..store.atomic import atomic_write
from .commands import BadCommand, Command, from_doc, to_doc

INBOX = "inbox"


def send(session_dir: Path, command: Command) -> Path:
    """Deliver a command to the engine that runs ``session_dir``, from any process."""
    folder = session_dir / INBOX
    folder.mkdir(exist_ok=True)
    path = folder / f"{time.time_ns():020d}-{os.getpid()}.json"
    atomic_write(path, json.dumps(to_doc(command)).encode())
    return path


class Inbox:
    def __init__(self, session_dir: Path | None = None) -> None:
        self.folder = session_dir / INBOX if session_dir else None
        self._queue: queue.Queue[Command] = queue.Queue()
        self.rejected: list[str] = []  # unreadable command files, reported by the engine

    def put(self, command: Command) -> None:
        self._queue.put(command)

    def drain(self) -> list[Command]:
        """Every command waiting now: files first (they were sent earlier, from outside)."""
        commands = self._from_folder()
        while True:
            try:
                commands.append(self._queue.get_nowait())
            except queue.Empty:
                return commands

    def wait(self, timeout_s: float) -> None:
        """Block until an in-process command arrives or ``timeout_s`` passes (files are polled)."""
        try:
            command = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return
        self._queue.put(command)  # drain() takes it, in order with anything else

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
