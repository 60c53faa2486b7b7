"""Help (every key, from the app's own bindings) and the scores screen (the chart at full size
and the per-configuration figures of the selected version)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..scores import ScoreSheet
from ..widgets.chart import ScoreChart
from .detail import Sheet, scores_table

ABOUT = """\
The run goes on in the background while you look around: the lineage tree on the left (enter
opens a version), the plan, the diff of the highlighted version and the live output on the
right. Commands apply at the engine's next safe point: between tool calls and evaluations.
Every key is also in the command palette (ctrl+p)."""


class HelpScreen(Sheet):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, bindings: list[BindingType]) -> None:
        super().__init__()
        self.keys = [b for b in bindings if isinstance(b, Binding) and b.description]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold cyan")
        table.add_column()
        for b in self.keys:
            table.add_row(b.key_display or b.key, b.tooltip or b.description)
        with VerticalScroll():
            yield Static(Group(Text("avo: keys", style="bold"), Text(ABOUT + "\n"), table))


class ScoresScreen(Sheet):
    DEFAULT_CSS = "ScoresScreen ScoreChart { height: 14; }"
    BINDINGS = [Binding("escape,q,s", "dismiss", "close")]

    def __init__(self, points: list[tuple[str, float]], sheet: ScoreSheet | None) -> None:
        super().__init__()
        self.points, self.sheet = points, sheet

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield ScoreChart(id="big-chart")
            yield Static(
                Group(Text(f"\nper configuration, {self.sheet.version}", style="bold"),
                      scores_table([self.sheet])) if self.sheet and self.sheet.configs
                else Text("no per-configuration figures for this version", style="dim")
            )

    def on_mount(self) -> None:
        baselines = self.sheet.baselines if self.sheet else {}
        unit = self.sheet.unit if self.sheet else ""
        self.query_one(ScoreChart).set_data(self.points, baselines, unit)
