"""What the app reads from the session, done off the event loop.

Every read of the session's files (the poll, a version's diff, score sheets, transcripts,
attempts, the output log) runs on a worker thread and comes back to the app as a message; the
event loop only draws and answers keys. The reads take one lock, so they never interleave: the
poll is the only one that moves the reader's session forward (``refresh``), and the others
must not see it half-way. The view never touches the session; it keeps its own copy of the
lineage, which the poll hands over once and then extends with the versions added since.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

from textual.message import Message

from ..engine.alerts import alert_of
from ..engine.budget import FromAfar, Spending, VersionCosts, from_afar
from ..engine.client import POLL_BATCH, RunClient
from ..operators.agent.settings import step_cost_limit, with_provider
from ..store import (
    ErrorPayload,
    EventKind,
    Lineage,
    PlanPayload,
    RunState,
    StepPayload,
    StoreError,
    Suspect,
    ToolCallPayload,
    Version,
    payload_of,
)
from ..views.events import payload_line, plain
from ..views.output_log import ProgressTail
from ..views.ratios import RatioColumn, primary, session_ratio_column
from ..views.scores import score_sheet
from .lane_facts import LaneFacts, LaneTracker, lane_of
from .widgets.diff import candidate_diff, version_diff
from .widgets.status import StatusFacts, shown_step

BACKLOG_EVENTS = 400  # events shown in the output pane when a session opens
PLAN_LOOKBACK = 5000  # how far back the opening view looks for the current plan
CHART_POINTS = 500
# An error event older than this when read (on attaching, say) is shown in the output but not
# raised as a notification: it is not news.
FRESH_ERROR_S = 60.0
# States whose name alone does not say what happened: the status bar gives their reason too.
EXPLAINED = frozenset({"stalled", "killed", "limit-reached"})


Job = Callable[["SessionReader"], Message]


@dataclass
class Polled(Message):
    """What one poll found: the new events as lines, and the run's state as it is now."""

    lines: list[str]
    plan: str | None  # the latest plan in the batch
    tools: dict[int | None, str]  # the latest tool each lane called in the batch, or the
    # latest phase of its step, read from output.log for a run another process holds (None:
    # the lane of a run of one)
    errors: list[str]
    state: RunState
    facts: StatusFacts
    suspects: list[Suspect]
    live: bool
    lineage: Lineage | None = None  # the whole lineage, at the first poll
    versions: list[Version] = field(default_factory=list)  # added since the last poll
    lineage_moved: bool = False  # a commit or rollback: the tree and the chart are redrawn
    points: list[tuple[str, float]] | None = None  # the chart's (version, gmean), if moved
    baselines: dict[str, float] | None = None  # the best's baselines, if the best changed
    ratios: RatioColumn | None = None  # what the lineage's ratios are against, if it changed
    candidate: tuple[str, str] | None = None  # the candidate's diff, if asked and it changed
    more: bool = False  # the batch was full: poll again at once
    plan_lane: int | None = None  # the lane the latest plan came from, in a run of several
    lanes: tuple[LaneFacts, ...] = ()  # one per lane of a run of several; none with one
    alerts: int = 0  # events worth a look from afar (engine/alerts.py), past the first poll


@dataclass
class DiffRead(Message):
    """The diff pane's content for ``key``: (version, or for the candidate the lane (None:
    lane 1's), mode); for a version, the version it is against (``against``: None for the
    seed's), which with ``key`` names a diff that never changes."""

    key: tuple[str | int | None, str]
    title: str
    text: str
    against: str | None = None


class SessionReader:
    """The app's reads; each method runs on a worker thread holding ``lock``."""

    def __init__(self, client: RunClient) -> None:
        self.client = client
        self.session = client.session
        self.lock = threading.Lock()
        self._handed = 0  # versions the view has been given
        self._best: str | None = None
        self._head: str | None = ""
        self._in_flight: str | None = None
        self._plan_lane: int | None = None
        self.lanes = LaneTracker(client.result_host)
        self._opened = False
        self._costs = VersionCosts()  # of the versions handed to the view
        self._last_step: StepPayload | None = None
        self._ratios: tuple[object, RatioColumn] | None = None  # (what it was read from, it)
        # a run another process holds tells its phases only in its output.log
        self._progress = ProgressTail(client.session.directory) if client.engine is None else None

    def poll(self, want_candidate: bool, lane: int | None = None) -> Polled:
        """What is new; with ``want_candidate``, the diff of ``lane``'s candidate in flight
        (None: lane 1's) if it changed."""
        session, client = self.session, self.client
        lineage_copy = None
        plan_text = None
        if not self._opened:
            self._opened = True
            last = session.last_seq
            for event in session.events(after=max(0, last - PLAN_LOOKBACK)):
                payload = payload_of(event)
                self.lanes.see(payload)
                match payload:
                    case PlanPayload(text=text):
                        plan_text, self._plan_lane = text, lane_of(payload)
                    case StepPayload() as step:
                        self._last_step = step
            client.skip_to(last - BACKLOG_EVENTS)
            lineage_copy = Lineage(list(session.lineage))
            self._handed = len(lineage_copy)
            self._costs.add(lineage_copy)
        events = client.poll()
        state = client.run_state()
        best = session.best()
        unit = best.score.unit if best and best.score else ""
        lines: list[str] = []
        errors: list[str] = []
        tools: dict[int | None, str] = {}
        moved = lineage_copy is not None
        alerts = 0
        best_now = best.id if best else None
        for event in events:
            if lineage_copy is None and alert_of(event, lambda: best_now):
                alerts += 1  # the backlog of the first poll is no news
            payload = payload_of(event)
            line = payload_line(payload, unit)
            if line:
                lines.append(plain(line))
            self.lanes.see(payload)
            match payload:
                case PlanPayload(text=text):
                    plan_text, self._plan_lane = text, lane_of(payload)
                case ToolCallPayload(tool=name):
                    tools[lane_of(payload)] = name
                case ErrorPayload(message=message) if time.time() - event.ts < FRESH_ERROR_S:
                    errors.append(message)  # older ones are in the output, not news
                case StepPayload() as step:
                    self._last_step = step
            # the lineage is reread even when a commit, rollback or rescore event does not parse
            moved |= event.kind in (EventKind.COMMIT, EventKind.ROLLBACK, EventKind.RESCORE)
        added: list[Version] = []
        if len(session.lineage) > self._handed:
            added = list(islice(session.lineage, self._handed, None))
            self._handed += len(added)
            self._costs.add(added)
        moved |= bool(added) or state.head != self._head
        self._head = state.head
        baselines = None
        best_id = best.id if best else None
        if best is not None and best_id != self._best:
            sheet = score_sheet(session, best)
            baselines = sheet.baselines if sheet else {}
        self._best = best_id
        ratios = self._ratio_column(state, best)
        points = None
        if moved:
            scored = list(session.lineage)[-CHART_POINTS:]
            points = [(v.id, v.score.gmean) for v in scored if v.score]
        live = client.live()
        if live and self._progress is not None:  # after the events: the latest phase wins
            tools |= self._progress.read()
        return Polled(
            lines=lines, plan=plan_text, tools=tools, errors=errors, state=state,
            facts=self._facts(state), suspects=session.suspects(), live=live,
            lineage=lineage_copy, versions=[] if lineage_copy else added, lineage_moved=moved,
            points=points, baselines=baselines, ratios=ratios,
            candidate=self._candidate(state, lane) if want_candidate else None,
            more=len(events) >= POLL_BATCH, plan_lane=self._plan_lane,
            lanes=self.lanes.facts(state, client.lane_count(state), live), alerts=alerts,
        )

    def _ratio_column(self, state: RunState, best: Version | None) -> RatioColumn | None:
        """What the lineage's ratios are against (views/ratios.py), if it changed since the
        last poll: the baselines the run stores grow as it times them."""
        source = (state.baselines, primary(best))
        if self._ratios is not None and self._ratios[0] == source:
            return None
        meta = self.session.meta
        column = session_ratio_column(str(meta.get("target")), meta.get("host") or {},
                                      state.baselines or {}, source[1])
        changed = self._ratios is None or self._ratios[1] != column
        self._ratios = (copy.deepcopy(source), column)  # the state's dict may change in place
        return column if changed else None

    def _facts(self, state: RunState) -> StatusFacts:
        session = self.session
        best = session.best()
        best_text = "-"
        if best and best.score:
            # As the lineage shows it: to the strongest baseline, named, where several were
            # measured (views/ratios.py); else to the score's own baseline.
            column = self._ratios[1] if self._ratios else RatioColumn()
            value = column.ratio(best.score)
            named = f" {column.label}" if column.bars else ""
            ratio = f" {value:.3f}x{named}" if value else ""
            best_text = f"{best.id} {best.score.gmean:.4g} {best.score.unit}{ratio}"
        meta = session.meta
        host = meta.get("host") or {}
        spending = Spending.of(state, self._costs, self._last_step)
        status = self.client.run_status()
        live = self.client.live()
        afar = FromAfar()  # while a run is live (avo sessions list reads the same facts)
        if live:
            afar = from_afar(state.usage, state.budgets, session.lineage.last_commit,
                             time.time())
        return StatusFacts(
            session=session.name,
            target=str(meta.get("target", "?")),
            operator=with_provider(str(state.operator or meta.get("operator", "?")), meta),
            state=status.name,
            note=status.reason if status.name in EXPLAINED else "",
            step=shown_step(state.step, live),
            seconds=state.usage_figure("seconds"),
            counted_at=state.usage_figure("counted_at") or None,
            best=best_text,
            tokens=spending.tokens,
            cost_usd=spending.cost_usd,
            step_usd=spending.last_step.cost_usd if spending.last_step else None,
            step_limit_usd=step_cost_limit(meta),
            version_usd=spending.per_version_usd,
            device=str(host.get("gpu") or host.get("cpu") or host.get("device") or "?"),
            attached=self.client.attached,
            budget=afar.budget, eta_s=afar.eta_s, since_commit_s=afar.since_commit_s,
        )

    def _candidate(self, state: RunState, lane: int | None,
                   force: bool = False) -> tuple[str, str] | None:
        """The diff of ``lane``'s candidate (None: the run's only lane, or its first) if it
        changed since last shown (None if it did not)."""
        pending = state.lane(lane or 1).in_flight
        key = f"{lane} {pending}"
        if key == self._in_flight and not force:
            return None
        self._in_flight = key
        if pending is None:
            whose = "" if lane is None else f" by lane {lane}"
            return f"no candidate is being evaluated{whose} now", ""
        try:
            title, text = candidate_diff(self.session, pending)
        except StoreError as error:  # a base or blob that is not there (a damaged state)
            return f"cannot diff: {error}", ""
        return (title if lane is None else f"L{lane} {title}"), text

    def diff(self, vid: str | None, mode: str, lane: int | None = None) -> DiffRead:
        if mode == "candidate":
            title, text = self._candidate(self.client.run_state(), lane, force=True) or ("", "")
            return DiffRead((lane, mode), title, text)
        if vid is None:
            return DiffRead((vid, mode), "highlight a version to see its diff", "")
        try:
            title, text, against = version_diff(self.session, vid, mode)
        except StoreError as error:
            return DiffRead((vid, mode), f"cannot diff: {error}", "")
        return DiffRead((vid, mode), title, text, against)
