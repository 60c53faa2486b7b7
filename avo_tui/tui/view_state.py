"""What the app knows of the session and of the view, as reactive attributes.

The handlers of the reads' messages (app.py) and the controls (controls.py) set these; the
panes are bound to them, or to what is computed from them (``compute_*``), with
``data_bind``, so that a pane redraws when, and only when, what it shows has changed (Textual
calls a watcher only for a value that differs from the one before).
"""

from __future__ import annotations

import dataclasses

from textual.app import App
from textual.reactive import var

from ..engine.client import RunClient
from ..store import Lineage, RunState, Suspect
from .lane_facts import LaneFacts
from .reads import Reads
from .widgets.chart import ChartData
from .widgets.diff import MODES, DiffContent
from .widgets.lineage import LineageTree, LineageView
from .widgets.plan import PlanView
from .widgets.status import StatusFacts

LANE_ROWS, LANE_ROWS_SHORT = 8, 4  # lanes shown at once in the lanes strip


class ViewState(App[None]):
    # What the polls read, and what the view adds to it. The panes are bound to these (or to
    # the computed ones below) and redraw only when they change.
    state: var[RunState] = var(RunState)
    facts: var[StatusFacts | None] = var(None)  # as the last poll read them
    engine_error: var[str | None] = var(None)  # the run or a read failed: the status says so
    suspects: var[tuple[Suspect, ...]] = var(())
    lanes: var[tuple[LaneFacts, ...]] = var(())  # in a run of several lanes, one per lane
    lane: var[int | None] = var(None)  # the lane the controls act on; None: every lane
    activity: var[dict[int | None, str]] = var(dict)  # each lane's latest progress or tool
    latest_plan: var[tuple[int | None, str]] = var((None, ""))  # any lane's, and its lane
    chart: var[ChartData] = var(ChartData)
    lineage_view: var[LineageView | None] = var(None)
    diff: var[DiffContent] = var(DiffContent)
    diff_mode: var[str] = var(MODES[0])
    narrow: var[bool] = var(False)
    short: var[bool] = var(False)
    one_line: var[bool] = var(False)  # the output pane: one row per event (key w)
    prepared: var[bool] = var(False)  # the session is open (else the app prepares it)
    # a process runs the session now, as the last poll found (its lock: store/lock.py); None
    # until the first poll has said
    live: var[bool | None] = var(None)
    # computed from the above (compute_*): what the bound panes show
    status: var[StatusFacts | None] = var(None)
    plan: var[PlanView] = var(PlanView)
    lane_activity: var[dict[int, str]] = var(dict)
    lane_rows: var[int] = var(LANE_ROWS)

    def __init__(self, client: RunClient | None, name: str) -> None:
        super().__init__()
        self.client = client
        self.reads: Reads | None = None  # once the session is open
        self.session_name = client.session.name if client else name
        self.opened = False  # the first poll has been shown
        self.lineage = Lineage()  # the view's own copy (reading.py)

    # -- what the bound panes show ---------------------------------------------------------------

    def compute_status(self) -> StatusFacts | None:
        facts = self.facts
        if facts is not None and self.engine_error:
            facts = dataclasses.replace(facts, state="error")
        if facts is not None and self.lanes:
            facts = dataclasses.replace(facts, controls=f"L{self.lane}" if self.lane else "all")
        return facts

    def compute_plan(self) -> PlanView:
        """One lane's plan, and that lane's latest progress under it: the selected lane's;
        with every lane selected, the one that wrote the latest plan (lane 1 before any has);
        in a run of one lane, the run's."""
        lane = (self.lane or self.latest_plan[0] or 1) if self.lanes else None
        facts = self.lane_facts(self.lane)
        guidance = (facts.guidance if facts is not None else None) or self.state.guidance
        if not self.prepared:  # the activity is the preparation's latest line
            return PlanView(activity=self.activity.get(None, ""))
        step = self.facts.step if self.facts is not None else -1  # the status bar's number
        return PlanView(facts.plan if facts is not None else self.latest_plan[1], guidance,
                        step, self.activity.get(lane, ""), lane, self._nobody_runs())

    def _nobody_runs(self) -> str:
        """How to resume a session no process runs, for the plan pane, which then shows the
        last plan, not what is being done; "" while a run is live, or before the first poll."""
        if self.live is not False:
            return ""
        return f"avo run --session {self.session_name} resumes it"

    def compute_lane_activity(self) -> dict[int, str]:
        return {lane: text for lane, text in self.activity.items() if lane is not None}

    def compute_lane_rows(self) -> int:
        return LANE_ROWS_SHORT if self.short else LANE_ROWS

    def lane_facts(self, lane: int | None) -> LaneFacts | None:
        return self.lanes[lane - 1] if lane is not None and lane <= len(self.lanes) else None

    def watch_lanes(self, lanes: tuple[LaneFacts, ...]) -> None:
        if self.lane is not None and self.lane > len(lanes):
            self.lane = None  # the run has fewer lanes now

    def selected_version(self) -> str | None:
        return self.query_one(LineageTree).selected_version

    def client_ready(self) -> RunClient | None:
        """The client, or None (with a word to the user) while the session is prepared."""
        if self.client is None or self.reads is None or not self.opened:
            self.notify("the session is still being prepared: nothing was done",
                        severity="warning")
            return None
        return self.client
