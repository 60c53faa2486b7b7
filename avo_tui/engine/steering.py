"""What a lane's operator is told and keeps: its hints, the standing guidance, its plan, its
memory across steps and restarts, and its spending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..store import PlanPayload
from .books import RunBooks
from .lanes import Lane


class Steering:
    """Hints, guidance, plans, memory and spending, each lane's own."""

    def __init__(self, books: RunBooks) -> None:
        self.books = books

    def take_hints(self, lane: Lane) -> list[str]:
        with self.books.locked():
            hints, lane.pending_hints = lane.pending_hints, []
            if hints:
                self.books.save_lanes()
            return hints

    def guidance_for(self, lane: Lane) -> str | None:
        """The standing guidance a lane follows: its own, else the session's; None once a
        guidance of one step has had its step (spend_guidance)."""
        text = lane.guidance if lane.guidance is not None else self.books.guidance
        return None if text is not None and text == lane.spent_guidance else text

    def spend_guidance(self, lane: Lane, text: str) -> None:
        """``text``, guidance that asked one step only, has had its step: the lane does not
        follow it again, after a resume either, until guidance is sent again."""
        with self.books.locked():
            lane.spent_guidance = text
            self.books.save_lanes()

    def plan(self, lane: Lane, text: str) -> None:
        with self.books.locked():
            lane.plan = text
            self.books.save_lanes()
            self.books.event(PlanPayload(text), lane.label)

    def memory(self, lane: Lane) -> dict[str, Any]:
        with self.books.locked():
            return lane.own_memory(self._shared())

    def remember(self, lane: Lane, fields: dict[str, Any]) -> None:
        """Keep what the operator remembers: the lane's own part (lanes.LANE_MEMORY) with the
        lane, the rest in the session's memory, which every lane reads."""
        with self.books.locked():
            shared = lane.remember(self._shared(), fields)
            self.books.session.set_state(operator_memory=shared, lanes=self.books.lanes_doc(),
                                         announce=False)

    def update_memory(self, lane: Lane,
                      change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        with self.books.locked():
            self.remember(lane, change(self.memory(lane)))

    def _shared(self) -> dict[str, Any]:
        return dict(self.books.session.run_state.operator_memory or {})

    def charge(self, lane: Lane, cost_usd: float, tokens: int) -> None:
        """Count an operator's spending (API calls) against the session's budgets, and the
        lane's. Spending only grows: a negative figure (a server's garbage) counts as nothing."""
        cost_usd, tokens = max(0.0, cost_usd), max(0, tokens)
        books = self.books
        with books.locked():
            books.usage.cost_usd += cost_usd
            books.usage.tokens += tokens
            lane.cost_usd += cost_usd
            lane.tokens += tokens
            books.session.set_state(announce=False, usage=books.usage.to_doc(),
                                    lanes=books.lanes_doc())
