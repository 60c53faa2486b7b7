"""Compiler and benchmark output: a bounded live tail; the whole history is the session's
output.log, one key away (the log screen).

Lines wrap to the pane's width rather than scroll sideways: at 80x24 the pane is narrow, and a
cut line hides the end of a message (``BLOCK_K 64->3``). It follows the run until the user
scrolls back, and picks it up again when they return to the end. Following is a flag the
user's scrolling sets, not a test of the scroll position when lines arrive: the pane's height
changes under it (a longer plan, a notification), and the old test then read as "the user
scrolled away" and the pane stopped following for good.

On a short terminal an event wrapped whole takes most of the pane (5-8 of its 9 rows at 80x24),
so there the pane starts in its one-line mode (``one_line``, key w): one event, one row, cut at
a word and never inside a number; the whole is in output.log (key o).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from textual import events
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...store.clip import clip

LIVE_LINES = 2000
KIND_COLUMN = 9  # event lines start with their kind in a column this wide ("commit   ...")
_CONTROL = {n: "�" for n in range(0x20) if n not in (0x09, 0x0A)}  # tabs expand, \n breaks
_LANE = re.compile(r"L\d+ ")  # a line from one lane of several opens with it: "L2 commit  ..."
_BREAK = re.compile(r"\s*\n\s*")


class WholeLine(str):
    """A line shown whole, wrapped, in the one-line mode too: what the app says before and as
    a run starts (the operator and how to get the agent, why the seed is scored twice, how to
    stop), which a newcomer at 80x24 must read to the end (issue 87)."""

    __slots__ = ()


def wrap(line: str, width: int, column: int | None = None) -> list[str]:
    """``line`` as rows at most ``width`` cells wide, broken at a space where one is near the
    end of the row; continuation rows are indented under the message, past the kind column
    (or ``column``)."""
    if column is None:
        lane = _LANE.match(line)
        column = KIND_COLUMN + (lane.end() if lane else 0)
    indent = " " * (column if width > 3 * column else 2)
    rows: list[str] = []
    for number, part in enumerate(line.expandtabs().translate(_CONTROL).split("\n")):
        text, lead = part, indent if number else ""
        while True:
            room = width - len(lead)
            if cell_len(text) <= room:
                rows.append(lead + text)
                break
            head = chop_cells(text, room)[0]
            space = head.rfind(" ")
            if space > room // 2:
                head = head[:space + 1]
            rows.append(lead + head.rstrip())
            text, lead = text[len(head):].lstrip(" "), indent
            if not text:
                break
    return rows


def one_row(line: str, width: int) -> list[str]:
    """``line`` as one row at most ``width`` cells wide: its lines joined, cut at a word with
    " …" and never inside a number (the whole stays in output.log, key o)."""
    text = _BREAK.sub(" ", line.expandtabs().translate(_CONTROL).strip("\n"))
    row = clip(text, width)
    return [row if cell_len(row) <= width else chop_cells(row, width)[0]]


class OutputPane(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    OutputPane { overflow-x: hidden; overflow-y: scroll; }
    """

    one_line: var[bool] = var(False)  # one row per event, cut at a word; else wrapped whole

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lines: deque[str] = deque()
        self._rows: list[str] = []  # the lines wrapped to the current width
        self._row_counts: deque[int] = deque()  # rows of each line, oldest first
        self._width = 0
        self.following = True

    @property
    def lines(self) -> Sequence[str]:
        """The lines as written (unwrapped), oldest first."""
        return self._lines

    @property
    def rows(self) -> Sequence[str]:
        """The lines as the pane shows them: wrapped, or cut in the one-line mode."""
        return self._rows

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def write_line(self, line: str) -> None:
        self.write_lines([line])

    def write_lines(self, lines: Iterable[str]) -> None:
        added = list(lines)
        if not added:
            return
        self._lines.extend(added)
        if self._width:
            for line in added:
                rows = self._rows_of(line)
                self._rows.extend(rows)
                self._row_counts.append(len(rows))
        self._prune()
        self._laid_out()

    def _prune(self) -> None:
        extra = len(self._lines) - LIVE_LINES
        if extra <= 0:
            return
        for _ in range(extra):
            self._lines.popleft()
        if self._width:
            rows = sum(self._row_counts.popleft() for _ in range(extra))
            del self._rows[:rows]
            if not self.following:  # keep the rows the user is reading where they are
                self.set_scroll(None, max(0, self.scroll_offset.y - rows))

    def _laid_out(self) -> None:
        # Not ``self.virtual_size = ...``: that reactive lays the whole screen out again and
        # repaints all of it (tens of milliseconds a frame on a busy 2-core machine), four
        # times a second while a run streams. The pane's own size never depends on its rows,
        # so only its scrollbar needs to hear of them.
        size = Size(self._width, len(self._rows))
        self.set_reactive(OutputPane.virtual_size, size)
        self.vertical_scrollbar.window_virtual_size = size.height
        self.vertical_scrollbar.refresh()
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _rewrap(self, width: int) -> None:
        self._width = width
        self._rows, self._row_counts = [], deque()
        for line in self._lines:
            rows = self._rows_of(line)
            self._rows.extend(rows)
            self._row_counts.append(len(rows))
        self._laid_out()

    def _rows_of(self, line: str) -> list[str]:
        if isinstance(line, WholeLine):
            return wrap(line, self._width, column=2)
        return one_row(line, self._width) if self.one_line else wrap(line, self._width)

    def watch_one_line(self, one_line: bool) -> None:
        self.border_title = "output · one line each" if one_line else "output"
        if self._width:
            self._rewrap(self._width)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width > 0 and width != self._width:
            self._rewrap(width)
        elif self.following:  # the pane grew or shrank: its end must stay in view
            self.scroll_end(animate=False, x_axis=False)

    def release_anchor(self) -> None:
        """Textual calls this when the user scrolls: stop following until they return to the
        end."""
        super().release_anchor()
        self.following = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value >= self.max_scroll_y:
            self.following = True

    def render_line(self, y: int) -> Strip:
        number = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if number >= len(self._rows):
            return Strip.blank(width, style)
        return Strip([Segment(self._rows[number], style)]).crop_extend(0, width, style)
