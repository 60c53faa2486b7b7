"""Every attempt of the session, committed or not, newest first (``f``: only the failed ones);
enter opens one with its evaluation log and its diff against the version it was built on.
The lines are the ones ``avo sessions attempts`` prints (views/attempts.py); their ratio is to
the strongest baseline the run measured, named in the title as the lineage's (``x fa4``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from ...store import Attempt, StoreError
from ...views.attempts import (
    attempt_cells,
    attempt_diff,
    attempt_line,
    attempt_log,
    outcome_style,
    select_attempts,
)
from ...views.ratios import RatioColumn, session_column
from ..reading import SessionReader
from ..reads import Reads
from .detail import Sheet, diff_view

LISTED = 500  # the newest attempts listed; a session may hold a hundred thousand


@dataclass
class AttemptsRead(Message):
    attempts: list[Attempt]  # newest first
    failed: bool
    total: int
    lanes: bool  # the session runs several lanes, or ran them: each attempt shows its lane
    ratios: RatioColumn  # what the ratios are against (views/ratios.py)


def read_attempts(reader: SessionReader, failed: bool) -> AttemptsRead:
    session = reader.session
    chosen = select_attempts(session, failed=failed, limit=LISTED)
    lanes = reader.client.lane_count() > 1 or any(a.lane is not None for a in chosen)
    return AttemptsRead(chosen[::-1], failed, session.attempt_count, lanes,
                        session_column(session))


class AttemptsScreen(Sheet):
    BINDINGS = [Binding("escape,q,t", "dismiss", "close"),
                Binding("f", "toggle_failed", "failed only / all")]
    DEFAULT_CSS = """
    AttemptsScreen > Vertical { width: 96%; height: 94%; border: thick $accent;
                                background: $surface; }
    AttemptsScreen OptionList { height: 1fr; }
    AttemptsScreen #attempts-title { height: auto; }
    AttemptsScreen #attempt-detail { height: auto; max-height: 6; color: $text-muted; }
    """

    def __init__(self, reads: Reads) -> None:
        super().__init__()
        self.reads = reads
        self.failed = False
        self.attempts: list[Attempt] = []
        self.ratios = RatioColumn()
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("reading ...", style="dim"), id="attempts-title")
            yield OptionList(id="attempt-list")
            yield Static("", id="attempt-detail")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._read()

    def _read(self) -> None:
        failed = self.failed
        self.loaded = False
        self.reads.for_view(self, lambda reader: read_attempts(reader, failed))

    def action_toggle_failed(self) -> None:
        self.failed = not self.failed
        self._read()

    def on_attempts_read(self, message: AttemptsRead) -> None:
        if message.failed != self.failed:
            return  # the filter changed since: its read is coming
        self.attempts, self.ratios = message.attempts, message.ratios
        which = "failed attempts" if self.failed else "attempts"
        shown = len(self.attempts)
        more = f" (the newest {shown})" if shown == LISTED else ""
        against = f" · {message.ratios.heading}" if message.ratios.label else ""
        title = Text.assemble((f"{shown} {which}{more}", "bold"),
                              f" of {message.total}, newest first{against}  ",
                              ("f " + ("all" if self.failed else "failed only") +
                               " · enter log and diff · escape close", "dim"))
        self.query_one("#attempts-title", Static).update(title)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(Text.from_markup(
            attempt_line(a, message.lanes, message.ratios)), id=a.id) for a in self.attempts])
        if self.attempts:
            options.highlighted = 0
        else:
            self.query_one("#attempt-detail", Static).update(
                Text("no failed attempt" if self.failed else "no attempt yet", style="dim"))
        self.loaded = True

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        attempt = self._attempt(event.option_index)
        if attempt is not None:
            self.query_one("#attempt-detail", Static).update(Text(attempt.detail or "-"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        attempt = self._attempt(event.option_index)
        if attempt is not None:
            self.app.push_screen(AttemptDetail(attempt, self.reads, self.ratios))

    def _attempt(self, index: int) -> Attempt | None:
        return self.attempts[index] if 0 <= index < len(self.attempts) else None


@dataclass
class AttemptRead(Message):
    log: RenderableType
    diff: RenderableType


def log_view(text: str | None) -> RenderableType:
    if text is None:
        return Text("no log was kept: the evaluation was interrupted, or answered without "
                    "measuring", style="dim")
    try:
        pretty = json.dumps(json.loads(text), indent=1, ensure_ascii=False)
    except ValueError:
        return Text(text)
    return Syntax(pretty, "json", theme="ansi_dark", background_color="default",
                  word_wrap=True)


def read_attempt(reader: SessionReader, attempt: Attempt) -> AttemptRead:
    session = reader.session
    try:
        diff = attempt_diff(session, attempt)
        diff_part: RenderableType = Group(
            Text(f"{attempt.id} against {attempt.base}: +{diff.added}/-{diff.removed}",
                 style="bold"), diff_view(diff.text, "the same files as its base"))
    except StoreError as error:
        diff_part = Text(f"cannot diff: {error}", style="red")
    try:
        log = log_view(attempt_log(session, attempt))
    except StoreError as error:
        log = Text(f"cannot read the log: {error}", style="red")
    return AttemptRead(log, diff_part)


class AttemptDetail(Sheet):
    """One attempt: what it was, its evaluation log, its diff; its ratio ``ratios``', named."""

    def __init__(self, attempt: Attempt, reads: Reads, ratios: RatioColumn | None = None) -> None:
        super().__init__()
        self.attempt, self.reads = attempt, reads
        self.ratios = ratios or RatioColumn()
        self.loaded = False

    def compose(self) -> ComposeResult:
        with TabbedContent():
            with TabPane("summary", id="tab-summary"), VerticalScroll():
                yield Static(self._summary())
            for tab in ("log", "diff"):
                with TabPane(tab, id=f"tab-{tab}"), VerticalScroll():
                    yield Static(Text("reading ...", style="dim"))

    def _summary(self) -> RenderableType:
        a, c = self.attempt, attempt_cells(self.attempt, self.ratios)
        lane = f" in lane {a.lane}" if a.lane is not None else ""
        head = Text.assemble((a.id, "bold"), f" from {a.base} by {a.author}{lane} at {c.when}  ",
                             (a.outcome, outcome_style(a.outcome)))
        ratio = self.ratios.named(a.score) if a.score else ""
        score = f"\n{c.score} ({ratio or '-'})" if c.score != "-" else ""
        made = f"\nbecame {a.version}" if a.version else ""
        return Group(head, Text(score + made), Text("\n" + (a.detail or "(no detail)")))

    def on_mount(self) -> None:
        attempt = self.attempt
        self.reads.for_view(self, lambda reader: read_attempt(reader, attempt))

    def on_attempt_read(self, message: AttemptRead) -> None:
        self.query_one("#tab-log Static", Static).update(message.log)
        self.query_one("#tab-diff Static", Static).update(message.diff)
        self.loaded = True
