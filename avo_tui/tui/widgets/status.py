"""The status bar: what is running where, how it is going, and what it has cost.

It is one line at any width: on a narrow terminal the facts that matter least (the last
step's cost and the mean cost of a committed version, the device, target and operator, tokens
and cost, the running time) leave first, so the state, the step and the best score always show
whole, and in a run of several lanes, which lanes the controls act on (``keys→L2``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

STATE_STYLES = {
    "running": "bold green",
    "paused": "bold yellow",
    "stalled": "bold dark_orange",
    "budget-reached": "bold red",
    "limit-reached": "bold yellow",
    "stopped": "bold red",
    "killed": "bold red",
    "crashed": "bold red",
    "error": "bold red",
    "failed": "bold red",
    "preparing": "bold cyan",
}


@dataclass(frozen=True)
class StatusFacts:
    session: str
    target: str
    operator: str
    state: str
    step: int  # as shown: shown_step()
    seconds: float
    best: str  # "v12 412.3 TFLOP/s 1.02x" or "-"
    tokens: int
    cost_usd: float
    device: str
    attached: bool
    step_usd: float | None = None  # what the latest step cost
    step_limit_usd: float | None = None  # --max-step-cost, where set
    version_usd: float | None = None  # what a committed version cost, on average
    controls: str = ""  # in a run of several lanes, the lanes the controls act on: all, L2
    # From afar, while a run is live: each budget used of its limit, the running time left
    # until the first is spent at the rate so far, and the time since the last commit.
    budget: str = ""
    eta_s: float | None = None
    since_commit_s: float | None = None
    note: str = ""  # what the state means, where its name alone would not say (stalled, killed)
    counted_at: float | None = None  # when the run counted ``seconds`` (Usage.counted_at)


def shown_step(done: int, live: bool) -> int:
    """The one step number the app shows (the status bar and the plan pane read it from the
    same facts): while a run is live, the step in hand, as the engine numbers it (its line
    ends "step N done"); else the last step done."""
    return done + 1 if live else done


def duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _parts(f: StatusFacts) -> list[Part]:
    """(drop order: higher leaves first, text, style) in the order they are shown."""
    preparing = f.state in ("preparing", "failed") and not f.target
    parts: list[Part] = [(0, f" {f.session} ", "reverse")]
    if f.target:
        parts.append((4, f" {f.target} · {f.operator}{' (attached)' if f.attached else ''}",
                      ""))
    parts.append((0, f"  {f.state} ", STATE_STYLES.get(f.state, "bold")))
    if preparing:
        parts.append((0, f" {duration(f.seconds)}", ""))
        return parts
    parts.append((0, f" step {f.step}", ""))
    if f.controls:
        parts.append((0, f" · keys→{f.controls}", "bold blue"))
    parts.append((2, f" · {duration(f.seconds)}", ""))
    parts.append((1, f" · best {f.best}", ""))
    if f.since_commit_s is not None:
        parts.append((7, f" · last commit {duration(f.since_commit_s)} ago", ""))
    if f.budget:  # the first to go where the bar is short: the full view's facts say it too
        parts.append((9, f" · {f.budget}", ""))
    if f.eta_s is not None:
        parts.append((8, f" · ends in ~{duration(f.eta_s)}", ""))
    if f.tokens:
        parts.append((3, f" · {f.tokens / 1e6:.2f}M tok ${f.cost_usd:.2f}", ""))
        if f.step_usd is not None:
            limit = f" of ${f.step_limit_usd:.2f} max" if f.step_limit_usd else ""
            parts.append((7, f" · ${f.step_usd:.2f}/step{limit}", ""))
        if f.version_usd is not None:
            parts.append((6, f" · ${f.version_usd:.2f}/ver", ""))
    if f.device:
        parts.append((5, f" · {f.device}", "dim"))
    if f.note:  # after the state's facts, as the lanes' bar gives an ended lane's reason
        parts.append((10, f" · {f.note}", STATE_STYLES.get(f.state, "")))
    return parts


Part = tuple[int, str, str]  # (drop order: higher leaves first, text, style)


def parts_width(parts: list[Part]) -> int:
    return sum(cell_len(text) for _, text, _ in parts)


def fitted(parts: list[Part], width: int) -> Text:
    """The parts that fit in ``width`` cells, dropping the least useful first (order 0
    stays), as one line."""
    while parts_width(parts) > width:
        worst = max(order for order, _, _ in parts)
        if worst == 0:
            break
        parts = [p for p in parts if p[0] != worst]
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for _, part, style in parts:
        text.append(part, style=style)
    return text


def status_text(f: StatusFacts, width: int = 1000) -> Text:
    """The facts that fit in ``width`` cells, dropping the least useful first."""
    return fitted(_parts(f), width)


class StatusBar(Widget):
    """Bound to the app's status (``data_bind``): it repaints only when the facts change."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; }"

    facts: reactive[StatusFacts | None] = reactive(None)

    def render(self) -> Text:
        return status_text(self.facts, self.size.width) if self.facts else Text("")
