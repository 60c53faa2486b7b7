"""The lanes strip: one line per lane of a run of several, across the whole width, above the
status bar. Each line says what its lane is doing (status, the version it builds on, its
candidate in flight and the GPU that evaluation holds, its latest progress, its spend, its
latest attempt and the GPU that measured it), and ``▸`` marks the lanes the controls (pause,
hint, guide, stop) act on. Hidden with one lane.

Like the status bar, a line keeps to one row: the facts that matter least leave first, so the
lane, its status and its base always show.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..lane_facts import Gpu, LaneFacts
from .status import STATE_STYLES, Part, duration, fitted, parts_width

ENDED = ("stopped", "finished")


def _parts(f: LaneFacts, selected: bool, gpu: str | None, activity: str) -> list[Part]:
    parts: list[Part] = [
        (0, "▸ " if selected else "  ", "bold"),
        (0, f"L{f.number}", "bold blue"),
        (9, f" {f.operator or '?':<5}", "dim"),
        (0, f" {f.status:<8}", STATE_STYLES.get(f.status, "bold")),
    ]
    if f.base:
        parts.append((1, f" on {f.base}", ""))
    if f.evaluating is not None:
        on = f" on {f.evaluating_on}" if f.evaluating_on else ""
        parts.append((2, f" · evaluating {duration(f.evaluating)}{on}", "cyan"))
    parts.append((3, f" · {f.steps} step{'s' if f.steps != 1 else ''} {f.commits} ver", ""))
    if f.tokens:
        parts.append((8, f" ${f.cost_usd:.2f}", ""))
    if activity and f.status not in ENDED:
        parts.append((4, f" · {activity}", "italic"))
    if f.hints:
        parts.append((7, f" · {f.hints} hint{'s' if f.hints > 1 else ''}", "yellow"))
    if f.last:
        parts.append((5, f" · {f.last}", "dim"))
        if gpu:
            parts.append((6, f" on {gpu}", "dim"))
    if f.reason and f.status in ENDED:
        parts.append((10, f" · {f.reason}", "dim"))
    return parts


def lane_text(f: LaneFacts, selected: bool, width: int = 1000, activity: str = "") -> Text:
    """The lane's line in ``width`` cells, with its latest progress (``activity``): the GPU's
    long label where it fits, else its number, then the least useful facts leave first."""
    gpus: list[str | None] = [f.gpu.long, f.gpu.short] if isinstance(f.gpu, Gpu) else [None]
    parts = _parts(f, selected, gpus[0], activity)
    if parts_width(parts) > width:
        parts = _parts(f, selected, gpus[-1], activity)
    return fitted(parts, width)


def shown_lanes(lanes: tuple[LaneFacts, ...], selected: int | None,
                rows: int) -> tuple[list[LaneFacts], int]:
    """The lanes that fit in ``rows`` (the selected one among them) and how many do not."""
    if len(lanes) <= rows:
        return list(lanes), 0
    room = max(1, rows - 1)  # the last row says how many more there are
    first = 0 if selected is None else min(max(0, selected - room), len(lanes) - room)
    return list(lanes[first:first + room]), len(lanes) - room


class LanesStrip(Widget):
    """Bound to the app's lanes, selection and activity (``data_bind``): repainted when one
    of them changes, laid out again only when its height does."""

    DEFAULT_CSS = """
    LanesStrip { height: 0; background: $boost; display: none; }
    LanesStrip.-several { display: block; }
    """

    lanes: reactive[tuple[LaneFacts, ...]] = reactive(())
    selected: reactive[int | None] = reactive(None)  # the lane the controls act on; None: all
    activity: reactive[dict[int, str]] = reactive(dict)  # each lane's latest progress
    max_rows: reactive[int] = reactive(8)  # the app lowers it on short terminals

    def watch_lanes(self, lanes: tuple[LaneFacts, ...]) -> None:
        self.set_class(bool(lanes), "-several")
        self._fit()

    def watch_max_rows(self) -> None:
        self._fit()

    def _fit(self) -> None:
        height = min(len(self.lanes), self.max_rows)
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height  # lays the screen out again: only when it changes

    def render(self) -> Text:
        width = self.size.width
        shown, more = shown_lanes(self.lanes, self.selected, self.max_rows)
        lines = [lane_text(f, self.selected in (None, f.number), width,
                           self.activity.get(f.number, "")) for f in shown]
        if more:
            lines.append(Text(f"  … {more} more lane{'s' if more > 1 else ''} (l selects one)",
                              style="dim", no_wrap=True, overflow="ellipsis", end=""))
        return Text("\n", end="").join(lines)
