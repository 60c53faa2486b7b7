"""The agent's current plan, and how far the step has got (in the pane's bottom border, so a
plan longer than a short terminal allows never hides it)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class PlanPane(Static):
    """The latest plan the operator wrote; the step and the latest activity under it."""

    DEFAULT_CSS = "PlanPane { height: auto; max-height: 12; padding: 0 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("no plan yet", style="dim"), **kwargs)
        self.plan = ""
        self.guidance: str | None = None
        self.step = -1
        self.activity = ""

    def set_plan(self, text: str, guidance: str | None = None) -> None:
        """The plan, under the standing guidance while one holds (the operator's, which
        every step follows until it is changed)."""
        if (text, guidance) != (self.plan, self.guidance):
            self.plan, self.guidance = text, guidance
            shown = Text(text) if text else Text("no plan yet", style="dim")
            if guidance:
                shown = Text.assemble(("guidance ", "bold magenta"), guidance, "\n", shown)
            self.update(shown)

    def set_progress(self, step: int, activity: str) -> None:
        """``step`` counts from 0; -1 while the session is being prepared."""
        if (step, activity) != (self.step, self.activity):
            self.step, self.activity = step, activity
            where = f"step {step + 1}" if step >= 0 else "preparing"
            self.border_subtitle = f"{where} · {activity}" if activity else where

    @property
    def progress(self) -> str:
        return str(self.border_subtitle or "")
