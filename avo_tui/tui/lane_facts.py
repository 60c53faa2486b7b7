"""What the app shows of each lane of a run of several (docs/engine.md, Lanes): read on the
poll's thread from the run state and the events, and handed to the view as one immutable row
per lane. A run of one lane has none, and the app looks as it did before lanes.

Nothing here is guessed. A lane's status, base, spend, own guidance, pending hints and
candidate in flight are the run state's (``RunState.lanes``), and so is the GPU its
candidate in flight holds, once leased. Its plan and its latest attempt come from its events,
and the GPU of that attempt from the host facts of its result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..pool import gpu_index, gpu_label
from ..store import AttemptPayload, InFlight, Payload, PlanPayload, RunState, UnreadablePayload

ACTIVE = ("running", "paused")


@dataclass(frozen=True)
class Gpu:
    """Where a result was measured: ``GPU 3``, and ``GPU 3 (NVIDIA H200, GPU-8e5c1a2b)``."""

    short: str
    long: str


@dataclass(frozen=True)
class LaneFacts:
    number: int
    operator: str
    status: str  # running, paused, stopped, finished; "waiting" before it has written any
    reason: str  # why it stopped or finished
    base: str | None  # the version its step in hand builds on
    steps: int
    commits: int
    cost_usd: float
    tokens: int
    plan: str  # its latest plan
    hints: int  # pending: sent, not yet taken by its next step
    guidance: str | None  # its own standing guidance, over the session's
    evaluating: int | None  # seconds its candidate in flight has been evaluated; None: none
    evaluating_on: str | None  # the GPU that evaluation holds ("GPU 3"); None: none, a CPU
    last: str | None  # its latest attempt and outcome: "a14 slower"
    gpu: Gpu | None  # the GPU of that attempt's result, when it names one


def lane_of(payload: Payload | UnreadablePayload) -> int | None:
    lane = getattr(payload, "lane", None)
    return lane if isinstance(lane, int) else None


def gpu_of(host: dict[str, object]) -> Gpu | None:
    label = gpu_label(host)
    if label is None:
        return None
    return Gpu(f"GPU {gpu_index(host)}", label)


class LaneTracker:
    """Follows the lanes through the events the poll reads; used on the reader's thread."""

    def __init__(self, host_of: Callable[[str], dict[str, object]]) -> None:
        self._host_of = host_of  # an attempt's result's host facts (RunClient.result_host)
        self._plans: dict[int, str] = {}
        self._last: dict[int, tuple[str, str]] = {}  # lane -> (attempt, outcome)
        self._gpus: dict[str, Gpu | None] = {}  # attempt -> its GPU, read once

    def see(self, payload: Payload | UnreadablePayload) -> None:
        lane = lane_of(payload)
        if lane is None:
            return
        match payload:
            case PlanPayload(text=text):
                self._plans[lane] = text
            case AttemptPayload(attempt=attempt, outcome=outcome):
                self._last[lane] = (attempt, outcome)

    def facts(self, state: RunState, count: int, live: bool) -> tuple[LaneFacts, ...]:
        """One row per lane of a run of ``count`` lanes; none when it has one."""
        if count < 2:
            return ()
        now = time.time()
        latest = {attempt for attempt, _ in self._last.values()}
        self._gpus = {a: gpu for a, gpu in self._gpus.items() if a in latest}
        return tuple(self._lane(number, state, live, now) for number in range(1, count + 1))

    def _lane(self, number: int, state: RunState, live: bool, now: float) -> LaneFacts:
        lane = state.lane(number)
        flying: InFlight | None = lane.in_flight if live else None  # a dead run's: not evaluating
        hints = lane.pending_hints
        status = lane.status or "waiting"
        if not live and status in ACTIVE:
            status = "stopped"  # no process runs it: a lane cannot be running or paused
        last = self._last.get(number)
        return LaneFacts(
            number=number, operator=lane.operator, status=status, reason=lane.reason,
            base=lane.base, steps=lane.steps, commits=lane.commits, cost_usd=lane.cost_usd,
            tokens=lane.tokens, plan=self._plans.get(number) or lane.plan, hints=len(hints),
            guidance=lane.guidance,
            evaluating=max(0, int(now - flying.started)) if flying else None,
            evaluating_on=f"GPU {flying.gpu}" if flying and flying.gpu is not None else None,
            last=f"{last[0]} {last[1]}" if last else None,
            gpu=self._gpu(last[0]) if last else None,
        )

    def _gpu(self, attempt: str) -> Gpu | None:
        if attempt not in self._gpus:
            self._gpus[attempt] = gpu_of(self._host_of(attempt))
        return self._gpus[attempt]
