"""The session's full output on disk (``output.log``): every event line and every evaluation
phase, appended by the process that runs the engine. Views keep only a bounded tail in memory
and open this file for the rest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from ..engine.client import OUTPUT_LOG
from ..engine.progress import Progress
from ..store import Event
from .events import event_line, plain


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
        self._write(time.time(), f"   {progress.line()}")

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
