"""The agent's current plan and how far the step has got."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class PlanPane(Static):
    """The latest plan the operator wrote, then the step and the latest activity under it."""

    DEFAULT_CSS = "PlanPane { height: auto; max-height: 12; padding: 0 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.plan = ""
        self.step = -1
        self.activity = ""

    def set_plan(self, text: str) -> None:
        if text != self.plan:
            self.plan = text
            self._show()

    def set_progress(self, step: int, activity: str) -> None:
        if (step, activity) != (self.step, self.activity):
            self.step, self.activity = step, activity
            self._show()

    def _show(self) -> None:
        text = Text()
        text.append(self.plan or "no plan yet", style="" if self.plan else "dim")
        text.append(f"\nstep {self.step + 1}", style="bold cyan")
        if self.activity:
            text.append(f" · {self.activity}", style="dim")
        self.update(text)
