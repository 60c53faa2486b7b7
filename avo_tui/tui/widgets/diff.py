"""The kernel diff: a version against its parent, the best or the head, or the candidate in
flight against its base; syntax-coloured. What it is against is the pane's title.

In a short pane (an 80x24 terminal leaves it five rows) the diff is tightened: no file headers
for a single file, and only the changed lines under each hunk's header (which says where they
are), so the rows it has show the change rather than its headers and context.
"""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

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
    """The candidate being evaluated now against the version it started from."""
    base = session.version(pending.base)
    files = {n: session.blobs.get_text(h) for n, h in pending.files.items()}
    diff = diff_files(session.read_files(base), files, base.id, "candidate")
    return (f"candidate by {pending.author} against {base.id}: +{diff.added}/-{diff.removed}",
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


class DiffPane(VerticalScroll):
    DEFAULT_CSS = "DiffPane { overflow-x: hidden; }"  # long lines wrap: a cut hides the change

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = ""
        self.text = ""
        self.key: tuple[str | None, str] | None = None  # (version, mode) of the diff shown
        self._short: bool | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="diff-body")

    def show(self, title: str, text: str, key: tuple[str | None, str] | None = None) -> None:
        self.title, self.text, self.key = title, text, key
        self.border_title = title
        self._render_body()
        self.scroll_home(animate=False)

    def on_resize(self, event: events.Resize) -> None:
        if (event.size.height < SHORT_ROWS) != self._short:
            self._render_body()

    def _render_body(self) -> None:
        self._short = self.size.height < SHORT_ROWS
        text = tighten(self.text) if self._short else self.text
        body: Syntax | Text = (
            Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
            if text else Text("no changes", style="dim")
        )
        self.query_one("#diff-body", Static).update(body)
