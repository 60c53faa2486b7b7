"""The kernel diff: a version against its parent, the best or the head, or the candidate in
flight against its base; syntax-coloured. What it is against is the pane's title.

In a short pane (an 80x24 terminal leaves it five rows) the diff is tightened: no file headers
for a single file, and only the changed lines under each hunk's header (which says where they
are), so the rows it has show the change rather than its headers and context.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...store import InFlight, RunState, Session, Version
from ...store.diff import diff_files

MODES = ("parent", "best", "head")
SHORT_ROWS = 12  # a pane with fewer rows than this shows the tightened diff
LAID_KEPT = 32  # diffs whose rows are kept


def compared_with(version: Version, against: str, head: str | None,
                  best: str | None) -> str | None:
    """The version ``version`` is diffed against: its parent, the ``best`` or the ``head``."""
    return version.parent if against == "parent" else head if against == "head" else best


def version_diff(session: Session, vid: str, against: str) -> tuple[str, str, str | None]:
    """(title, unified diff, the version it is against) of ``vid`` against its parent, the
    best or the head."""
    version = session.version(vid)
    best = session.best()
    other = compared_with(version, against, RunState.from_doc(session.state).head,
                          best.id if best else None)
    if other is None:
        return f"{vid}: the seed, no parent", "", None
    if other == vid:
        return f"{vid} is the {against}", "", other
    diff = session.diff(other, vid)
    return f"{vid} against {against} {other}: +{diff.added}/-{diff.removed}", diff.text, other


def candidate_diff(session: Session, pending: InFlight) -> tuple[str, str]:
    """The candidate being evaluated now against the version it started from (against
    nothing, for a candidate for v0)."""
    base = session.version(pending.base) if pending.base else None
    files = {n: session.blobs.get_text(h) for n, h in pending.files.items()}
    name = base.id if base else "no version"
    diff = diff_files(session.read_files(base) if base else {}, files, name, "candidate")
    return (f"candidate by {pending.author} against {name}: +{diff.added}/-{diff.removed}",
            diff.text)


def tighten(text: str) -> str:
    """A unified diff without its context lines, and without the file headers when it covers
    a single file."""
    lines = text.splitlines()
    files = sum(1 for line in lines if line.startswith("+++ "))
    kept = []
    for line in lines:
        if line.startswith(("+++ ", "--- ")):
            if files > 1:
                kept.append(line)
        elif line[:1] in ("@", "+", "-", "\\"):  # hunk headers, changes, "\ No newline"
            kept.append(line)
    return "\n".join(kept)


DiffKey = tuple[str | int | None, str]  # (version, or for the candidate its lane, mode)


@dataclass(frozen=True)
class DiffContent:
    """A diff to show: its title, its text, what it is of (``key``, None for a word that is
    no diff), and what an empty one says."""

    title: str = ""
    text: str = ""
    key: DiffKey | None = None
    empty: str = "no changes"


class DiffPane(ScrollView, can_focus=True):
    """A Line API view: a new diff is drawn without laying the screen out again (a Static in
    a scrolling container re-lays and repaints the whole screen on every update, each key in
    the lineage). Bound to the app's diff and diff mode (``data_bind``)."""

    DEFAULT_CSS = "DiffPane { overflow-x: hidden; overflow-y: scroll; }"

    content: var[DiffContent] = var(DiffContent, init=False)
    mode: var[str] = var(MODES[0], init=False)  # the title says it until a diff comes

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: list[Strip] = []
        self._laid_for: tuple[int, bool] | None = None  # (width, short) the rows are for
        # the rows of the diffs shown last: a version the cursor comes back to is not
        # coloured and wrapped again on the event loop
        self._laid: OrderedDict[tuple[DiffContent, int, bool], list[Strip]] = OrderedDict()

    @property
    def title(self) -> str:
        return self.content.title

    @property
    def key(self) -> DiffKey | None:
        return self.content.key

    @property
    def empty(self) -> str:
        return self.content.empty

    def watch_content(self, content: DiffContent) -> None:
        self.border_title = content.title
        self._laid_for = None
        self._lay_out()
        self.scroll_home(animate=False, immediate=True)

    def watch_mode(self, old: str, mode: str) -> None:
        if mode != old:  # a binding sets it again at mount: the title stays until it changes
            self.border_title = f"diff vs {mode}"

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        width = self.scrollable_content_region.width
        short = self.size.height < SHORT_ROWS
        if width <= 0 or (width, short) == self._laid_for:
            return
        self._laid_for = (width, short)
        laid = (self.content, width, short)
        rows = self._laid.get(laid)
        if rows is None:
            rows = self._laid[laid] = self._rows_of(self.content, width, short)
            if len(self._laid) > LAID_KEPT:
                self._laid.popitem(last=False)
        self._laid.move_to_end(laid)
        self._rows = rows
        size = Size(width, len(self._rows))
        self.set_reactive(DiffPane.virtual_size, size)  # no layout: see the class docstring
        self.vertical_scrollbar.window_virtual_size = size.height
        self.vertical_scrollbar.refresh()
        self.refresh()

    def _rows_of(self, content: DiffContent, width: int, short: bool) -> list[Strip]:
        text = tighten(content.text) if short else content.text
        console = self.app.console
        if text:
            body = Syntax(text, "diff", theme="ansi_dark", background_color="default")
            highlighted = body.highlight(text)
            highlighted.rstrip()
        else:
            highlighted = Text(content.empty, style="dim")
        return [Strip(line.render(console), line.cell_len)
                for line in highlighted.wrap(console, width, overflow="fold", no_wrap=False)]

    def render_line(self, y: int) -> Strip:
        number = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if number >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        return self._rows[number].crop_extend(0, width, self.rich_style)
