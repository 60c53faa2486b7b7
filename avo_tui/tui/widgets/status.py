"""The status bar: what is running where, how it is going, and what it has cost."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

STATE_STYLES = {
    "running": "bold green",
    "paused": "bold yellow",
    "stalled": "bold dark_orange",
    "budget-reached": "bold red",
    "stopped": "bold red",
    "crashed": "bold red",
}


@dataclass(frozen=True)
class StatusFacts:
    session: str
    target: str
    operator: str
    state: str
    step: int
    seconds: float
    best: str  # "v12 412.3 TFLOP/s 1.02x" or "-"
    tokens: int
    cost_usd: float
    device: str
    attached: bool


def duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def status_text(f: StatusFacts) -> Text:
    text = Text()
    text.append(f" {f.session} ", style="reverse")
    text.append(f" {f.target} · {f.operator}{' (attached)' if f.attached else ''} ")
    text.append(f" {f.state} ", style=STATE_STYLES.get(f.state, "bold"))
    text.append(f" step {f.step} · {duration(f.seconds)} · best {f.best}")
    if f.tokens:
        text.append(f" · {f.tokens / 1e6:.2f}M tok ${f.cost_usd:.2f}")
    text.append(f" · {f.device}", style="dim")
    return text


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { height: auto; max-height: 2; background: $panel; }"

    _shown: StatusFacts | None = None

    def show(self, facts: StatusFacts) -> None:
        if facts != self._shown:  # an update lays the screen out again: only on a change
            self._shown = facts
            self.update(status_text(facts))
