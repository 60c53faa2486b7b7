"""The session's whole output log, however large: only an index of line offsets is kept in
memory, and the lines on screen are read from the file as they are needed. Both the scan that
indexes new lines and the reading of lines run on a worker thread; until a line is read it
shows blank for a frame."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from ..reads import Reads

CHUNK = 1 << 20
CACHED_LINES = 4000
MISSING = "no output log yet: it starts when the session runs"


@dataclass
class LogRead(Message):
    """New line starts found past ``scanned``, and the text of lines ``first``..."""

    starts: array[int]
    scanned: int
    widest: int
    first: int
    lines: list[str] = field(default_factory=list)
    missing: bool = False


def read_log(path: Path, scanned: int, last_start: int, widest: int,
             window: array[int], first: int) -> LogRead:
    """Index the lines appended past byte ``scanned`` and read the lines whose start offsets
    are ``window`` (line ``first`` onwards; the last offset ends the last line)."""
    starts: array[int] = array("Q")
    try:
        with open(path, "rb") as f:
            f.seek(scanned)
            while chunk := f.read(CHUNK):
                base, start = scanned, 0
                while (nl := chunk.find(b"\n", start)) >= 0:
                    widest = max(widest, base + nl - last_start)
                    last_start = base + nl + 1
                    starts.append(last_start)
                    start = nl + 1
                scanned += len(chunk)
            lines = []
            for begin, end in pairwise(window):
                f.seek(begin)
                lines.append(f.read(end - begin).decode("utf-8", "replace").rstrip("\n"))
    except FileNotFoundError:
        return LogRead(starts, scanned, widest, first, missing=True)
    return LogRead(starts, scanned, widest, first, lines)


class FileLog(ScrollView, can_focus=True):
    """A read-only view of a text file that grows; it follows the end while you are there."""

    def __init__(self, path: Path, reading: Reads, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path, self.reading = path, reading
        self.starts = array("Q", [0])  # byte offset of each line; the last one is open
        self.scanned = 0
        self.widest = 0
        self.cache: dict[int, str] = {}
        self.missing = False
        self.reads = 0  # reads applied (tests wait on it)
        self._asked = False

    @property
    def line_count(self) -> int:
        return len(self.starts) - 1

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(1.0, self.follow)

    def follow(self, first: int | None = None) -> None:
        """Ask for the lines appended since, and those around line ``first`` (else the ones
        in view)."""
        top = self.scroll_offset.y if first is None else first
        height = max(self.size.height, 1)
        start = max(0, min(top - height, self.line_count))
        end = min(self.line_count, top + 2 * height)
        window = self.starts[start:end + 1]
        path, scanned, last, widest = self.path, self.scanned, self.starts[-1], self.widest
        self._asked = True
        self.reading.log(self, lambda: read_log(path, scanned, last, widest, window, start))

    def on_log_read(self, message: LogRead) -> None:
        self._asked = False
        self.reads += 1
        self.missing = message.missing
        at_end = self.scroll_offset.y >= self.max_scroll_y
        if message.scanned >= self.scanned:  # else an older read came back late
            self.starts.extend(message.starts)
            self.scanned, self.widest = message.scanned, message.widest
        if len(self.cache) > CACHED_LINES:
            self.cache.clear()
        for number, line in enumerate(message.lines, message.first):
            self.cache[number] = line
        self.virtual_size = Size(self.widest, self.line_count)
        if at_end:
            self.scroll_end(animate=False)  # after the layout that takes in the new size
        self.refresh()

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        number = top + y
        width = self.size.width
        if self.missing and y == 0:
            return Strip([Segment(MISSING)]).crop_extend(0, width, None)
        if number >= self.line_count:
            return Strip.blank(width)
        text = self.cache.get(number)
        if text is None:
            if not self._asked:
                self._asked = True
                self.call_later(self.follow, top)
            return Strip.blank(width)
        return Strip([Segment(text.expandtabs())]).crop_extend(x, x + width, None)


class LogScreen(Screen[None]):
    BINDINGS = [Binding("escape,q,o", "dismiss", "close")]

    def __init__(self, path: Path, reads: Reads) -> None:
        super().__init__()
        self.path, self.reads = path, reads

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((str(self.path), "bold"), "  ",
                                   ("the whole output of this session", "dim")))
        log = FileLog(self.path, self.reads, id="file-log")
        yield log
        yield Footer(compact=True, show_command_palette=False)  # whole at 80 columns

    def on_mount(self) -> None:
        self.query_one(FileLog).focus()
