"""The score chart: each version's geometric mean (newest on the right) with the best so far,
against the baselines measured in the same run."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
BASELINE_STYLES = ("yellow", "magenta", "blue")


class ScoreChart(Widget):
    DEFAULT_CSS = "ScoreChart { height: 8; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.points: list[tuple[str, float]] = []  # (version id, gmean) in commit order
        self.baselines: dict[str, float] = {}
        self.unit = ""

    def set_data(self, points: list[tuple[str, float]], baselines: dict[str, float],
                 unit: str) -> None:
        self.points, self.baselines, self.unit = points, baselines, unit
        self.refresh()

    def render(self) -> Text:
        width, height = max(10, self.size.width), max(3, self.size.height)
        legend = Text(f"gmean {self.unit}", style="bold")
        for (name, value), style in zip(self.baselines.items(), BASELINE_STYLES, strict=False):
            legend.append(f"  {name} {value:.4g}", style=style)
        if not self.points:
            return legend + Text("\nno scored versions yet", style="dim")
        rows = height - 2
        shown = self.points[-(width - 8):]
        column = max(1, (width - 8) // len(shown))  # a few versions spread over the width
        top = max([v for _, v in shown] + list(self.baselines.values())) or 1.0
        levels = [v / top * rows * 8 for _, v in shown]
        marks = {round(v / top * rows * 8 / 8 - 0.5): s for (_, v), s
                 in zip(self.baselines.items(), BASELINE_STYLES, strict=False)}
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
