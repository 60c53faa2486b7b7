"""Transient progress of a run (an evaluation's phases, an operator's activity), handed to the
engine's progress listeners and never stored. It names its lane as data, so a view of a run of
several lanes shows each lane its own progress, not whichever lane spoke last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    text: str  # "compile kernel.c", "time B2-S512 (3/6)"
    lane: int | None = None  # the lane it is from, in a run of several; None with one lane

    def line(self) -> str:
        """As a log shows it: opened with its lane (``L2``) as the event lines are."""
        return self.text if self.lane is None else f"L{self.lane} {self.text}"


ProgressListener = Callable[[Progress], None]
