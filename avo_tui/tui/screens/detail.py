"""A version's detail (message, scores per configuration, diff, the agent's transcript) and
the comparison of two versions. Both open at once and fill in when the read comes back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static, TabbedContent, TabPane

from ...store import Session, Version
from ...views.scores import ScoreSheet, score_sheet, transcript_of
from ..reading import SessionReader
from ..reads import Reads

TRANSCRIPT_CLIP = 1500  # characters of each tool result shown


class Sheet(ModalScreen[None]):
    """A large box over the app; escape or q closes it."""

    DEFAULT_CSS = """
    Sheet { align: center middle; }
    Sheet > TabbedContent, Sheet > VerticalScroll {
        width: 96%; height: 94%; border: thick $accent; background: $surface;
    }
    """
    SCOPED_CSS = False  # the rules name Sheet themselves, so subclasses share them
    BINDINGS = [Binding("escape,q", "dismiss", "close")]


def scores_table(sheets: list[ScoreSheet]) -> Table:
    """Throughput per configuration for one or more versions, with the first one's baselines
    and, for two versions, the second over the first."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("configuration")
    for sheet in sheets:
        table.add_column(f"{sheet.version} {sheet.unit}", justify="right")
    baselines = sorted({n for c in sheets[0].configs for n in c.baselines})
    for name in baselines:
        table.add_column(name, justify="right", style="yellow")
    table.add_column("ratio", justify="right", style="cyan")
    others = [{c.name: c for c in s.configs} for s in sheets[1:]]
    for config in sheets[0].configs:
        row = [config.name, f"{config.throughput:.4g}"]
        row += [f"{o[config.name].throughput:.4g}" if config.name in o else "-" for o in others]
        row += [f"{config.baselines[n]:.4g}" if n in config.baselines else "-" for n in baselines]
        if others and config.name in others[0] and config.throughput:
            row.append(f"{others[0][config.name].throughput / config.throughput:.3f}x")
        elif baselines and config.baselines.get(baselines[0]):
            row.append(f"{config.throughput / config.baselines[baselines[0]]:.3f}x")
        else:
            row.append("-")
        table.add_row(*row)
    return table


def transcript_view(transcript: dict[str, Any] | None) -> RenderableType:
    if transcript is None:
        return Text("no agent transcript: this version was not made by an agent step",
                    style="dim")
    head = Text(f"model {transcript.get('model')} · {transcript.get('turns')} turns · "
                f"${transcript.get('cost_usd', 0):.3f} · ended: {transcript.get('ended')}",
                style="bold")
    parts: list[RenderableType] = [head]
    for message in transcript.get("messages", []):
        role = message.get("role", "?")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks or []:
            kind = block.get("type")
            if kind == "text":
                parts.append(Text(f"{role}: ", style="bold cyan" if role == "assistant"
                                  else "bold") + Text(block.get("text", "")))
            elif kind == "thinking":
                parts.append(Text(f"thinking: {block.get('thinking', '')}", style="dim italic"))
            elif kind == "tool_use":
                args = json.dumps(block.get("input"), ensure_ascii=False)
                parts.append(Text(f"→ {block.get('name')} {args[:300]}", style="magenta"))
            elif kind == "tool_result":
                body = block.get("content")
                body = body if isinstance(body, str) else json.dumps(body)
                style = "red" if block.get("is_error") else "dim"
                clipped = body[:TRANSCRIPT_CLIP] + (" …" if len(body) > TRANSCRIPT_CLIP else "")
                parts.append(Text(clipped, style=style))
    return Group(*parts)


@dataclass
class DetailRead(Message):
    summary: RenderableType
    diff: RenderableType
    transcript: RenderableType


def diff_view(text: str, empty: str) -> RenderableType:
    return (Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True)
            if text else Text(empty, style="dim"))


def summary_view(session: Session, v: Version) -> RenderableType:
    when = datetime.fromtimestamp(v.created).strftime("%Y-%m-%d %H:%M:%S")
    head = Text.assemble(
        (f"{v.id}", "bold"), f" from {v.parent or '-'} by {v.author}",
        f" in lane {v.lane}" if v.lane is not None else "", f" at {when}",
        f"  +{v.lines_added}/-{v.lines_removed}",
        f"  ${v.cost_usd:.3f}" if v.cost_usd else "", "\n\n", v.message or "(no message)",
        "\n",
    )
    sheet = score_sheet(session, v)
    if sheet is None:
        return Group(head, Text("not scored", style="dim"))
    gmean = f"\ngeomean {v.score.gmean:.4g} {v.score.unit}" if v.score else ""
    ratio = f", {v.score.ratio:.3f}x {v.score.baseline}" if v.score and v.score.ratio else ""
    sustained = ("\nback to back at the power limit: " + ", ".join(
        f"{value:.3f}x {name}" for name, value in v.score.sustained.items())
        if v.score and v.score.sustained else "")
    return Group(head, scores_table([sheet]), Text(gmean + ratio + sustained, style="bold"))


def read_detail(reader: SessionReader, v: Version) -> DetailRead:
    session = reader.session
    text = session.diff(v.parent, v.id).text if v.parent else ""
    return DetailRead(summary_view(session, v),
                      diff_view(text, "the seed: no parent to diff against"),
                      transcript_view(transcript_of(session, v)))


class VersionDetail(Sheet):
    """Message and scores, diff, transcript: one tab each, read off the event loop."""

    def __init__(self, version: Version, reads: Reads) -> None:
        super().__init__()
        self.version, self.reads = version, reads
        self.loaded = False

    def compose(self) -> ComposeResult:
        with TabbedContent():
            for tab in ("summary", "diff", "transcript"):
                with TabPane(tab, id=f"tab-{tab}"), VerticalScroll():
                    yield Static(Text("reading ...", style="dim"))

    def on_mount(self) -> None:
        version = self.version
        self.reads.for_view(self, lambda reader: read_detail(reader, version))

    def on_detail_read(self, message: DetailRead) -> None:
        for tab, content in (("summary", message.summary), ("diff", message.diff),
                             ("transcript", message.transcript)):
            self.query_one(f"#tab-{tab} Static", Static).update(content)
        self.loaded = True


@dataclass
class CompareRead(Message):
    content: RenderableType


def read_compare(reader: SessionReader, old: Version, new: Version) -> CompareRead:
    session = reader.session
    diff = session.diff(old.id, new.id)
    sheets = [s for s in (score_sheet(session, old), score_sheet(session, new)) if s]
    title = Text(f"{new.id} against {old.id}: +{diff.added}/-{diff.removed}", style="bold")
    parts: list[RenderableType] = [title]
    if len(sheets) == 2:
        parts.append(scores_table(sheets))
    parts.append(diff_view(diff.text, "identical sources"))
    return CompareRead(Group(*parts))


class CompareScreen(Sheet):
    def __init__(self, old: Version, new: Version, reads: Reads) -> None:
        super().__init__()
        self.old, self.new, self.reads = old, new, reads
        self.loaded = False

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("reading ...", style="dim"))

    def on_mount(self) -> None:
        old, new = self.old, self.new
        self.reads.for_view(self, lambda reader: read_compare(reader, old, new))

    def on_compare_read(self, message: CompareRead) -> None:
        self.query_one(Static).update(message.content)
        self.loaded = True
