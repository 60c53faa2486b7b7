"""The session's full output on disk (``output.log``): every event line and every evaluation
phase, appended by the process that runs the engine. Views keep only a bounded tail in memory
and open this file for the rest."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TextIO

from ..engine.client import OUTPUT_LOG
from ..engine.progress import Progress
from ..store import Event
from .events import event_line, plain

PROGRESS_MARK = "   "  # a progress line's text opens with it; an event line's with "#seq"
_PROGRESS = re.compile(r"^\S+ \S+ {4}(?:L(?P<lane>\d+) )?(?P<text>\S.*)$")
TAIL_BYTES = 16_384  # read back at the first look: a step's latest phase is in it


class ProgressTail:
    """The latest progress of each lane of a run another process writes, read from its
    ``output.log`` as the file grows (issue 87: attached to a headless run, nothing but the
    clock showed progress within a step; the compile and the time sweeps were in the log)."""

    def __init__(self, session_dir: Path) -> None:
        self.path = session_dir / OUTPUT_LOG
        self._offset: int | None = None
        self._partial = b""

    def read(self) -> dict[int | None, str]:
        """Each lane's latest progress written since the last read (None: a run of one)."""
        try:
            with open(self.path, "rb") as file:
                size = file.seek(0, 2)
                if self._offset is None or size < self._offset:  # first look, or a new file
                    self._offset, self._partial = max(0, size - TAIL_BYTES), b""
                file.seek(self._offset)
                data = self._partial + file.read(size - self._offset)
                self._offset = size
        except OSError:
            return {}
        *whole, self._partial = data.split(b"\n")
        latest: dict[int | None, str] = {}
        for raw in whole:
            found = _PROGRESS.match(raw.decode("utf-8", "replace"))
            if found:
                lane = found.group("lane")
                latest[int(lane) if lane else None] = found.group("text")
        return latest


class OutputLog:
    """An engine subscriber and progress listener that appends plain lines to ``output.log``."""

    def __init__(self, session_dir: Path, unit: str) -> None:
        self.path = session_dir / OUTPUT_LOG
        self.unit = unit
        self._file: TextIO | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def __call__(self, event: Event) -> None:
        line = event_line(event, self.unit)
        if line:
            self._write(event.ts, f"#{event.seq} {plain(line)}")

    def progress(self, progress: Progress) -> None:
        self._write(time.time(), f"{PROGRESS_MARK}{progress.line()}")

    def _write(self, ts: float, text: str) -> None:
        if self._file is None:
            return
        stamp = time.strftime("%m-%d %H:%M:%S", time.localtime(ts))
        self._file.write(f"{stamp} {text}\n")
        self._file.flush()  # readers in other processes follow the file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
