"""The kernel diff: a version against its parent, the best or the head, or the candidate in
flight against its base; syntax-coloured."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...store import InFlight, RunState, Session, StoreError
from ...store.diff import diff_files

MODES = ("parent", "best", "head")


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


class DiffPane(VerticalScroll):
    DEFAULT_CSS = "DiffPane #diff-title { color: $text-muted; }"

    def compose(self) -> ComposeResult:
        yield Static("", id="diff-title")
        yield Static("", id="diff-body")

    def show(self, title: str, text: str) -> None:
        self.query_one("#diff-title", Static).update(Text(title))
        body: Syntax | Text = (
            Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=False)
            if text else Text("no changes", style="dim")
        )
        self.query_one("#diff-body", Static).update(body)
        self.scroll_home(animate=False)

    def show_error(self, error: StoreError) -> None:
        self.show(f"cannot diff: {error}", "")
