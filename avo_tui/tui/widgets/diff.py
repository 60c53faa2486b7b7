"""The kernel diff: a version against its parent, the best or the head, or the candidate in
flight against its base; syntax-coloured. What it is against is the pane's title.

In a short pane (an 80x24 terminal leaves it five rows) the diff is tightened: no file headers
for a single file, and only the changed lines under each hunk's header (which says where they
are), so the rows it has show the change rather than its headers and context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...store import InFlight, RunState, Session
from ...store.diff import diff_files

MODES = ("parent", "best", "head")
SHORT_ROWS = 12  # a pane with fewer rows than this shows the tightened diff


def version_diff(session: Session, vid: str, against: str) -> tuple[str, str]:
    """(title, unified diff) of ``vid`` against its parent, the best or the head."""
    version = session.version(vid)
    if against == "parent":
        other = version.parent
    else:
        best = session.best()
        head = RunState.from_doc(session.state).head
        other = head if against == "head" else best.id if best else None
    if other is None:
        return f"{vid}: the seed, no parent", ""
    if other == vid:
        return f"{vid} is the {against}", ""
    diff = session.diff(other, vid)
    return f"{vid} against {against} {other}: +{diff.added}/-{diff.removed}", diff.text


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
        text = tighten(self.content.text) if short else self.content.text
        console = self.app.console
        if text:
            body = Syntax(text, "diff", theme="ansi_dark", background_color="default")
            highlighted = body.highlight(text)
            highlighted.rstrip()
        else:
            highlighted = Text(self.content.empty, style="dim")
        self._rows = [Strip(line.render(console), line.cell_len)
                      for line in highlighted.wrap(console, width, overflow="fold",
                                                   no_wrap=False)]
        size = Size(width, len(self._rows))
        self.set_reactive(DiffPane.virtual_size, size)  # no layout: see the class docstring
        self.vertical_scrollbar.window_virtual_size = size.height
        self.vertical_scrollbar.refresh()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        number = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if number >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        return self._rows[number].crop_extend(0, width, self.rich_style)
