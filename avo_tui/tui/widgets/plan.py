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
    it (-1 while the session is being prepared), the latest activity, the lane it is
    about ("" with one), and, when no process runs the session, how to resume it (the plan
    is then the last one, not what is being done)."""

    plan: str = ""
    guidance: str | None = None
    step: int = -1
    activity: str = ""
    lane: int | None = None
    nobody_runs: str = ""


class PlanPane(Static):
    """The latest plan the operator wrote; the step and the latest activity under it. Bound
    to the app's view of it (``data_bind``): each part is redrawn only when it changes."""

    DEFAULT_CSS = "PlanPane { height: auto; max-height: 12; padding: 0 1; }"

    view: var[PlanView] = var(PlanView)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("no plan yet", style="dim"), **kwargs)

    def watch_view(self, old: PlanView, new: PlanView) -> None:
        if (new.plan, new.guidance, new.nobody_runs) != (old.plan, old.guidance,
                                                         old.nobody_runs):
            # nobody runs it: what was planned, not what is being done
            shown = (Text(new.plan, style="dim" if new.nobody_runs else "") if new.plan
                     else Text("no plan yet", style="dim"))
            if new.guidance:
                shown = Text.assemble(("guidance ", "bold magenta"), new.guidance, "\n", shown)
            self.update(shown)
        where = f"step {new.step}" if new.step >= 0 else "preparing"
        # in the borders, so that a short terminal gives the plan no row less
        doing = new.nobody_runs or new.activity
        subtitle = f"{where} · {doing}" if doing else where
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        title = f"plan · L{new.lane}" if new.lane else "plan"
        if new.nobody_runs:
            title = f"last {title} · nobody runs this session"
        if title != self.border_title:
            self.border_title = title

    @property
    def progress(self) -> str:
        return str(self.border_subtitle or "")
