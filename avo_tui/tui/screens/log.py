"""The session's whole output log, however large: only an index of line offsets is kept in
memory, and the lines on screen are read from the file as they are drawn."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

from rich.segment import Segment
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

CHUNK = 1 << 20


class FileLog(ScrollView, can_focus=True):
    """A read-only view of a text file that grows; it follows the end while you are there."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.starts = array("Q", [0])  # byte offset of each line; the last one is open
        self.scanned = 0
        self.widest = 0

    @property
    def line_count(self) -> int:
        return len(self.starts) - 1

    def on_mount(self) -> None:
        self.follow()
        self.scroll_end(animate=False)
        self.set_interval(1.0, self.follow)

    def follow(self) -> None:
        at_end = self.scroll_offset.y >= self.max_scroll_y
        try:
            with open(self.path, "rb") as f:
                f.seek(self.scanned)
                while chunk := f.read(CHUNK):
                    base = self.scanned
                    start = 0
                    while (nl := chunk.find(b"\n", start)) >= 0:
                        self.widest = max(self.widest, base + nl - self.starts[-1])
                        self.starts.append(base + nl + 1)
                        start = nl + 1
                    self.scanned += len(chunk)
        except FileNotFoundError:
            return
        self.virtual_size = Size(self.widest, self.line_count)
        if at_end:
            self.scroll_end(animate=False)

    def line(self, number: int) -> str:
        start, end = self.starts[number], self.starts[number + 1]
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(end - start).decode("utf-8", "replace").rstrip("\n")

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        number = top + y
        if number >= self.line_count:
            return Strip.blank(self.size.width)
        text = self.line(number).expandtabs()
        return Strip([Segment(text)]).crop(x, x + self.size.width)


class LogScreen(Screen[None]):
    BINDINGS = [Binding("escape,q,o", "dismiss", "close")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Static(f"[b]{self.path}[/]  [dim]the whole output of this session[/]")
        log = FileLog(self.path, id="file-log")
        yield log
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FileLog).focus()
