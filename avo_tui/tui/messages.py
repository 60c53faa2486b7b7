"""The app's own messages: what the engine thread, the preparation thread and the reads post
to it. Each is a small dataclass; the handlers turn them into reactive state (app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..engine import Progress
from ..engine.client import RunClient


@dataclass
class ProgressReported(Message):
    """An evaluation phase reported by the in-process engine (not stored), with its lane."""

    progress: Progress


@dataclass
class RunEnded(Message):
    reason: str


@dataclass
class RunFailed(Message):
    error: BaseException


@dataclass
class HeadlessEnded(Message):
    """The headless run this view started (``r`` restart) has ended: its exit code and the
    last lines of its console output."""

    pid: int
    code: int
    tail: str


@dataclass
class Preparing(Message):
    """A line from the preparation (opening the session, scoring the seed)."""

    line: str


@dataclass
class Prepared(Message):
    client: RunClient


@dataclass
class PreparationFailed(Message):
    error: BaseException


@dataclass
class HeadFiles(Message):
    """The head's files, read for the editor."""

    head: str
    files: dict[str, str]


@dataclass
class Forked(Message):
    """A new session made from a version (tui/fork.py), or why it could not be."""

    line: str
    ok: bool
