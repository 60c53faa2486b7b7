"""The session's whole output log, however large: only an index of line offsets is kept in
memory, and the lines on screen are read from the file as they are needed. Both the scan that
indexes new lines and the reading of lines run on a worker thread; until a line is read it
shows blank for a frame.

Lines wrap to the screen's width, their continuation rows indented past the time stamp. The
scroll position counts lines, not rows (the rows of lines never read are not known), so a
screen shows the lines from its top line on; at the end it shows the last lines, bottom
first. The evaluator's per-configuration ``check ... (n/28)`` lines, most of a log, are hidden
until asked for (key c): the scan sorts them out as it indexes.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from ..reads import Reads
from ..widgets.output import wrap

CACHED_LINES = 4000
MISSING = "no output log yet: it starts when the session runs"
STAMP = len("11-25 08:09:11 ")  # continuation rows start under the text after the stamp
CHECK = re.compile(rb"^\d\d-\d\d \d\d:\d\d:\d\d +(L\d+ )?check .*\(\d+/\d+\)\r?\n?$")


@dataclass
class LogRead(Message):
    """New lines found past byte ``scanned`` (their start offsets, and the numbers of those
    that are not check lines), and the text of the lines asked for."""

    starts: array[int]
    kept: array[int]
    checks: int
    scanned: int
    lines: dict[int, str] = field(default_factory=dict)
    missing: bool = False


def read_log(path: Path, scanned: int, count: int, wanted: list[tuple[int, int, int]]) -> LogRead:
    """Index the whole lines appended past byte ``scanned`` (line ``count`` onwards), and
    read the lines ``wanted`` (number, start, end)."""
    starts: array[int] = array("Q")
    kept: array[int] = array("Q")
    checks = 0
    try:
        with open(path, "rb") as f:
            f.seek(scanned)
            while (line := f.readline()).endswith(b"\n"):  # a line still being written waits
                if CHECK.match(line):
                    checks += 1
                else:
                    kept.append(count)
                scanned += len(line)
                count += 1
                starts.append(scanned)
            lines = {}
            for number, begin, end in wanted:
                f.seek(begin)
                lines[number] = f.read(end - begin).decode("utf-8", "replace").rstrip("\r\n")
    except FileNotFoundError:
        return LogRead(starts, kept, checks, scanned, missing=True)
    return LogRead(starts, kept, checks, scanned, lines)


class FileLog(ScrollView, can_focus=True):
    """A read-only view of a text file that grows; it follows the end while you are there."""

    DEFAULT_CSS = "FileLog { overflow-x: hidden; }"

    show_checks: var[bool] = var(False)

    def __init__(self, path: Path, reading: Reads, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path, self.reading = path, reading
        self.starts = array("Q", [0])  # byte offset of each line, and where the next starts
        self.kept = array("Q")  # the lines that are not check lines
        self.checks = 0
        self.scanned = 0
        self.cache: dict[int, str] = {}
        self.missing = False
        self.reads = 0  # reads applied (tests wait on it)
        self._asked = False
        self.following = True  # at the end, following the file: the user's scrolling says
        self._layout: tuple[tuple[int, int, int, bool, bool, int], list[str]] | None = None

    @property
    def line_count(self) -> int:
        return len(self.starts) - 1

    @property
    def shown_count(self) -> int:
        return self.line_count if self.show_checks else len(self.kept)

    def line_number(self, index: int) -> int:
        """The number in the file of the ``index``-th line shown."""
        return index if self.show_checks else self.kept[index]

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(1.0, self.follow)

    def follow(self, first: int | None = None) -> None:
        """Ask for the lines appended since, and those shown around line ``first`` (else the
        ones in view)."""
        top = self.scroll_offset.y if first is None else first
        height = max(self.size.height, 1)
        shown = self.shown_count
        wanted = []
        for index in range(max(0, min(top - height, shown)), min(shown, top + 2 * height)):
            number = self.line_number(index)
            if number not in self.cache:
                wanted.append((number, self.starts[number], self.starts[number + 1]))
        path, scanned, count = self.path, self.scanned, self.line_count
        self._asked = True
        self.reading.log(self, lambda: read_log(path, scanned, count, wanted))

    def on_log_read(self, message: LogRead) -> None:
        self._asked = False
        self.reads += 1
        self.missing = message.missing
        if message.starts and message.starts[0] > self.starts[-1]:  # else an older read
            self.starts.extend(message.starts)
            self.kept.extend(message.kept)
            self.checks += message.checks
            self.scanned = message.scanned
        if len(self.cache) > CACHED_LINES:
            self.cache.clear()
        self.cache.update(message.lines)
        self._laid_out()

    def _laid_out(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.shown_count)
        if self.following:
            self.scroll_end(animate=False)  # after the layout that takes in the new size
        self.refresh()

    def on_resize(self) -> None:
        self._laid_out()  # a following view stays at the end as its height changes

    def release_anchor(self) -> None:
        """Textual calls this when the user scrolls: stop following until they return to the
        end."""
        super().release_anchor()
        self.following = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value >= self.max_scroll_y:
            self.following = True

    def watch_show_checks(self, old: bool, shown: bool) -> None:
        if not self.is_mounted or old == shown:
            return
        top = self.scroll_offset.y
        number = top if old else (self.kept[top] if top < len(self.kept) else self.line_count)
        self._laid_out()
        if not self.following:  # the line at the top stays there, or the next one shown
            self.call_after_refresh(self.scroll_to, y=number if shown else bisect_left(
                self.kept, number), animate=False)
        self.follow()

    def rows(self) -> list[str]:
        """The rows on screen: the lines from the top one on, wrapped; at the end, the last
        lines, bottom first. A line not read yet is one blank row (for a frame)."""
        width, height = self.scrollable_content_region.width, self.size.height
        top, at_end = self.scroll_offset.y, self.following
        key = (top, width, height, at_end, self.show_checks, self.reads)
        if self._layout is not None and self._layout[0] == key:
            return self._layout[1]
        rows: list[str] = []
        shown = self.shown_count
        if at_end:
            index = shown - 1
            while index >= 0 and len(rows) < height:
                rows[:0] = self._wrapped(index, width)
                index -= 1
            rows = rows[-height:] if len(rows) > height else rows
        else:
            index = top
            while index < shown and len(rows) < height:
                rows.extend(self._wrapped(index, width))
                index += 1
        self._layout = (key, rows)
        return rows

    def _wrapped(self, index: int, width: int) -> list[str]:
        text = self.cache.get(self.line_number(index))
        if text is None:
            if not self._asked:
                self._asked = True
                self.call_later(self.follow)
            return [""]
        return wrap(text, max(width, 1), column=STAMP)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if self.missing and y == 0:
            return Strip([Segment(MISSING)]).crop_extend(0, width, None)
        rows = self.rows()
        if y >= len(rows):
            return Strip.blank(width)
        return Strip([Segment(rows[y])]).crop_extend(0, width, None)


class LogScreen(Screen[None]):
    DEFAULT_CSS = "#log-title { text-wrap: nowrap; text-overflow: ellipsis; }"
    BINDINGS = [Binding("escape,q,o", "dismiss", "close"),
                Binding("c", "checks", "checks", tooltip="show the evaluator's per-configuration "
                        "check lines, or hide them again")]

    def __init__(self, path: Path, reads: Reads) -> None:
        super().__init__()
        self.path, self.reads = path, reads

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield FileLog(self.path, self.reads, id="file-log")
        yield Footer(compact=True, show_command_palette=False)  # whole at 80 columns

    def on_mount(self) -> None:
        self.query_one(FileLog).focus()
        self._titled()

    def on_log_read(self, message: LogRead) -> None:
        self._titled()  # the read bubbles up from the log, which has taken it in

    def action_checks(self) -> None:
        log = self.query_one(FileLog)
        log.show_checks = not log.show_checks
        self._titled()

    def _titled(self) -> None:
        log = self.query_one(FileLog)
        hidden = "" if log.show_checks or not log.checks else (
            f"{log.checks:,} check lines hidden (c shows them)")
        title = Text.assemble((hidden, "bold"), "  " if hidden else "", (str(self.path), "dim"),
                              no_wrap=True, overflow="ellipsis")
        self.query_one("#log-title", Static).update(title)
