"""The score chart: each version's geometric mean (newest on the right) with the best so far,
against the baselines measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
BASELINE_STYLES = ("yellow", "magenta", "blue")


@dataclass(frozen=True)
class ChartData:
    points: tuple[tuple[str, float], ...] = ()  # (version id, gmean) in commit order
    baselines: dict[str, float] = field(default_factory=dict)
    unit: str = ""


class ScoreChart(Widget):
    DEFAULT_CSS = "ScoreChart { height: 8; }"

    data: reactive[ChartData] = reactive(ChartData)  # repainted when it changes

    def render(self) -> Text:
        width, height = max(10, self.size.width), max(3, self.size.height)
        data = self.data
        legend = Text(f"gmean {data.unit}", style="bold")
        for (name, value), style in zip(data.baselines.items(), BASELINE_STYLES, strict=False):
            legend.append(f"  {name} {value:.4g}", style=style)
        if not data.points:
            return legend + Text("\nno scored versions yet", style="dim")
        rows = height - 2
        shown = data.points[-(width - 8):]
        column = max(1, (width - 8) // len(shown))  # a few versions spread over the width
        top = max([v for _, v in shown] + list(data.baselines.values())) or 1.0
        levels = [v / top * rows * 8 for _, v in shown]
        marks = {round(v / top * rows * 8 / 8 - 0.5): s for (_, v), s
                 in zip(data.baselines.items(), BASELINE_STYLES, strict=False)}
        lines = []
        for row in range(rows - 1, -1, -1):
            line = Text(f"{top * (row + 1) / rows:>7.3g} " if row in (rows - 1, 0) else " " * 8,
                        style="dim")
            for level in levels:
                cell = min(8, max(0, round(level - row * 8)))
                char = BLOCKS[cell] if cell else ("─" if row in marks else " ")
                style = "green" if cell else marks.get(row, "")
                line.append(char * column, style=style)
            lines.append(line)
        best = max(v for _, v in shown)
        footer = Text(f"{shown[0][0]} … {shown[-1][0]}  best {best:.4g}", style="dim")
        return Text("\n").join([legend, *lines, footer])
