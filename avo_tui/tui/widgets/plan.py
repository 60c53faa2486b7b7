"""The agent's current plan, and how far the step has got (in the pane's bottom border, so a
plan longer than a short terminal allows never hides it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.reactive import var
from textual.widgets import Static


@dataclass(frozen=True)
class PlanView:
    """What the pane shows: the plan under the standing guidance while one holds (the
    operator's, which every step follows until it is changed), the step as the status bar shows
    it (-1 while the session is being prepared), the latest activity, and the lane it is
    about ("" with one)."""

    plan: str = ""
    guidance: str | None = None
    step: int = -1
    activity: str = ""
    lane: int | None = None


class PlanPane(Static):
    """The latest plan the operator wrote; the step and the latest activity under it. Bound
    to the app's view of it (``data_bind``): each part is redrawn only when it changes."""

    DEFAULT_CSS = "PlanPane { height: auto; max-height: 12; padding: 0 1; }"

    view: var[PlanView] = var(PlanView)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("no plan yet", style="dim"), **kwargs)

    def watch_view(self, old: PlanView, new: PlanView) -> None:
        if (new.plan, new.guidance) != (old.plan, old.guidance):
            shown = Text(new.plan) if new.plan else Text("no plan yet", style="dim")
            if new.guidance:
                shown = Text.assemble(("guidance ", "bold magenta"), new.guidance, "\n", shown)
            self.update(shown)
        where = f"step {new.step}" if new.step >= 0 else "preparing"
        subtitle = f"{where} · {new.activity}" if new.activity else where
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        title = f"plan · L{new.lane}" if new.lane else "plan"
        if title != self.border_title:
            self.border_title = title

    @property
    def progress(self) -> str:
        return str(self.border_subtitle or "")
