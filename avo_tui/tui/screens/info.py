"""Help (every key, from the app's own bindings) and the scores screen (the chart at full size
and the per-configuration figures of the selected version)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ...store import Version
from ...views.scores import ScoreSheet, score_sheet
from ..reads import Reads
from ..widgets.chart import ChartData, ScoreChart
from .detail import Sheet, scores_table

# One line a sentence, never broken inside one: the sheet wraps them to its own width.
ABOUT = "\n".join((
    "The run goes on in the background while you look around: the lineage tree on the left "
    "(enter opens a version), the plan, the diff of the highlighted version and the live "
    "output on the right.",
    "Commands apply at the engine's next safe point: between tool calls and evaluations.",
    "t lists every attempt, committed or not, with its log and diff (f there: only the "
    "failed).",
    "In a run of several lanes, l selects the lane that p, h, g and x act on (or every lane).",
    "Every key is also in the command palette (ctrl+p).",
))

# The keys that move around rather than act: Textual's own, for the lineage tree, the
# scrolling panes and sheets, the dialogs and the screen; each said in the app's words. A
# key of these widgets that is not here fails tests/functional/test_app_keys.py.
MOVING = (
    ("up down", "the previous or next version in the lineage; elsewhere, scroll or move the "
     "highlight"),
    ("left right", "scroll sideways; in a version's detail, the previous or next tab"),
    ("pageup pagedown", "a page up or down"),
    ("ctrl+pageup ctrl+pagedown", "a page left or right"),
    ("home end", "the first or the last line; end in the output: follow the run again"),
    ("enter", "the highlighted version's detail (a run of earlier versions: open it); in a "
     "list, open the highlighted line; on a button, press it"),
    ("space", "open or close the highlighted node of the lineage: a version's side branches "
     "(⑂N) or a run of earlier versions"),
    ("shift+space", "open or close the highlighted node and every node under it"),
    ("shift+left", "the node the highlighted one hangs from (a side branch's branch point)"),
    ("shift+right", "the node after the one the highlighted one hangs from"),
    ("shift+up shift+down", "the previous or next node that hangs from the same one"),
    ("tab shift+tab", "the next or previous pane (a dialog: the next field or button)"),
    ("ctrl+s", "in a hint or the guidance: send it (escape cancels; the text field has the "
     "usual editing keys)"),
    ("ctrl+p", "the command palette: every key by what it does"),
    ("ctrl+q", "leave, as q"),
    ("ctrl+c super+c", "copy the text selected with the mouse"),
)


class HelpScreen(Sheet):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, bindings: list[BindingType], steers: bool = True) -> None:
        super().__init__()
        self.keys = [b for b in bindings if isinstance(b, Binding) and b.description]
        # a read-only app opens no hint or guidance: their key is not its to tell
        self.moving = MOVING if steers else tuple(m for m in MOVING if m[0] != "ctrl+s")

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold cyan", max_width=13)  # two keys of a row wrap, one a line
        table.add_column()
        for b in self.keys:
            table.add_row(b.key_display or b.key, b.tooltip or b.description)
        table.add_row("", "")
        table.add_row(Text("moving around", style="bold"), "")
        for keys, what in self.moving:
            table.add_row(keys, what)
        with VerticalScroll():
            yield Static(Group(Text("avo: keys", style="bold"), Text(ABOUT + "\n"), table))


@dataclass
class SheetRead(Message):
    sheet: ScoreSheet | None


class ScoresScreen(Sheet):
    """The chart at full size, and the figures of ``version`` (read off the event loop)."""

    DEFAULT_CSS = "ScoresScreen ScoreChart { height: 14; }"
    BINDINGS = [Binding("escape,q,s", "dismiss", "close")]

    def __init__(self, points: tuple[tuple[str, float], ...], version: Version | None,
                 reads: Reads) -> None:
        super().__init__()
        self.points, self.version, self.reads = points, version, reads
        self.loaded = False

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield ScoreChart(id="big-chart")
            yield Static(Text("reading ...", style="dim"), id="figures")

    def on_mount(self) -> None:
        self.query_one(ScoreChart).data = ChartData(self.points)
        version = self.version
        if version is None:
            self.on_sheet_read(SheetRead(None))
            return
        self.reads.for_view(self, lambda reader: SheetRead(score_sheet(reader.session, version)))

    def on_sheet_read(self, message: SheetRead) -> None:
        sheet = message.sheet
        self.query_one("#figures", Static).update(
            Group(Text(f"\nper configuration, {sheet.version}", style="bold"),
                  scores_table([sheet])) if sheet and sheet.configs
            else Text("no per-configuration figures for this version", style="dim"))
        if sheet is not None:
            self.query_one(ScoreChart).data = ChartData(self.points, sheet.baselines, sheet.unit)
        self.loaded = True
