"""Lanes: several operator instances working on one session at once (docs/engine.md, Lanes).

A lane owns its operator, the step it has in hand and the version that step builds on, its
conversation draft and workspace (named by its number), its plan, its pending hints and own
guidance, its pause, its part of the operator's memory (the supervisor's directions) and its
spend. It shares the lineage, the attempts, the knowledge base, the noise, the supervisor and
the budgets with the other lanes, and its commits pass through the one gate.

Every lane is alike: a run of one operator is a run of one lane. Each keeps its state in the
run state's ``lanes`` under its number (:class:`~avo_tui.store.run_state.LaneState`), and a
session may change its number of lanes between runs. Only names tell lanes apart: lane 1's
conversation draft and workspace folder keep the names they had before lanes, and a run of
one lane puts no lane number on its records and events.

**Diversity.** Lanes that start every step from the same version, with the same operator,
mostly propose the same few changes. As in an island model, each lane starts from its own
version: the first lane still running from the head (the newest commit, or where a rollback put
it), the k-th still running from the k-th best version near the frontier (counted round when
there are fewer): a version scoring at least FRONTIER of the best's score. The gate still
commits only a gain over the best, so a lane that started from a version far behind it spent
every step on refusals (issue 73: a tuner lane on the seed, well behind the best, hundreds of
steps and no commit; benchmarks/RESULTS.md). Lanes are counted as they run, not by number: once
lanes 1-3 had stopped, lane 4 alone still took the fourth best, behind the best, for hundreds
of steps without a commit.
Tuner lanes also draw from different random streams (``--rng-seed`` plus the lane's number),
and the supervisor redirects (and the agent's review gives directions to) the lane whose
attempts stalled, not the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..operators import GateAnswer, Operator, operator_names
from ..store import MOST_LANES, InFlight, RunState, Session, StoreError, Version
from ..store.run_state import LaneState

CONVERSATION = "conversation"  # the draft holding the agent's step in flight (lane 1's)
LANE_MEMORY = frozenset({"directions"})  # the operator's memory that is each lane's own
PLAN_KEPT = 300  # characters of a lane's latest plan in the run state
# A lane starts from a runner-up only this close to the best: a step's gain is rarely more than
# a few percent, so from further behind every candidate is refused beside the best.
FRONTIER = 0.9


def draft_name(number: int) -> str:
    """The draft of lane ``number``'s conversation: lane 1 has the one a run always had."""
    return CONVERSATION if number == 1 else f"{CONVERSATION}-{number}"


def label_of(number: int, several: bool) -> int | None:
    """The lane number a record or event carries: none in a run of one lane."""
    return number if several else None


def lane_operators(spec: str, count: int) -> list[str]:
    """The operator of each of ``count`` lanes: the spec's names in turn."""
    names = operator_names(spec)
    return [names[k % len(names)] for k in range(count)]


def starting_version(session: Session, place: int) -> Version | None:
    """The version the ``place``-th lane still running starts a step from: the head for the
    first, the k-th best near the frontier (counted round) for the k-th; None while there is no
    version yet (the step writes v0)."""
    ranked = [(v, v.score.gmean) for v in session.lineage.ranked() if v.score] if place > 1 else []
    if not ranked:
        return session.head
    near = [version for version, gmean in ranked if gmean >= FRONTIER * ranked[0][1]]
    return near[(place - 1) % len(near)]


def place_among_running(lanes: list[Lane], lane: Lane) -> int:
    """``lane``'s place (from 1) among the lanes whose loops are not over, in number order."""
    return [other.number for other in lanes if other.ended is None or other is lane
            ].index(lane.number) + 1


@dataclass
class Lane:
    """One lane's state in the engine. The engine reads and writes it under its lock."""

    number: int
    operator: Operator
    label: int | None  # the number on its records and events; None when the run has one lane
    paused: bool = False
    stop_reason: str | None = None  # this lane ends at its next safe point
    interrupt: str | None = None  # the step in hand must end at its next safe point
    redirect: str | None = None  # the supervisor's reason, taken before the next step
    pending_hints: list[str] = field(default_factory=list)
    guidance: str | None = None  # its own, over the session's
    spent_guidance: str | None = None  # one step's guidance that had its step (LaneState)
    failed_steps: int = 0
    in_flight: InFlight | None = None
    base: str | None = None  # the version its step builds on
    best_at_start: str | None = None  # the best when its step began (None: no version yet)
    in_step: bool = False  # a step was begun (a commit asked outside one is judged as it is)
    step_number: int = 0  # of the step in hand
    plan: str = ""
    memory: dict[str, Any] = field(default_factory=dict)
    carry: str | None = None  # the attempt its last step left to its next (StepResult.carry)
    lineage_moved: bool = False  # by the operator, since its step in hand began: no carry
    steps: int = 0
    commits: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    answer: GateAnswer | None = None  # the gate's latest answer to it
    ended: tuple[str, str] | None = None  # (status, reason) once its loop is over
    ended_order: int = 0  # the order lanes ended in: the last one's reason is the run's

    @property
    def draft(self) -> str:
        return draft_name(self.number)

    @property
    def status(self) -> str:
        if self.ended:
            return self.ended[0]
        return "paused" if self.paused else "running"

    def load(self, state: LaneState) -> None:
        """Take up what the session keeps of this lane."""
        self.pending_hints = list(state.pending_hints)
        self.failed_steps = state.failed_steps
        self.base, self.plan, self.guidance = state.base, state.plan, state.guidance
        self.spent_guidance = state.spent_guidance
        self.memory = dict(state.memory or {})
        self.carry = state.carry
        self.steps, self.commits = state.steps, state.commits
        self.cost_usd, self.tokens = state.cost_usd, state.tokens

    def state(self) -> LaneState:
        return LaneState(
            operator=self.operator.name,
            status=self.status,
            reason=self.ended[1] if self.ended else "",
            base=self.base,
            plan=self.plan[:PLAN_KEPT],
            steps=self.steps,
            commits=self.commits,
            cost_usd=round(self.cost_usd, 6),
            tokens=self.tokens,
            failed_steps=self.failed_steps,
            in_flight=self.in_flight,
            pending_hints=tuple(self.pending_hints),
            guidance=self.guidance,
            spent_guidance=self.spent_guidance,
            memory=dict(self.memory) or None,
            carry=self.carry,
        )

    def own_memory(self, shared: dict[str, Any]) -> dict[str, Any]:
        """The operator's memory as this lane sees it: the shared part, and its own
        directions."""
        return {k: v for k, v in shared.items() if k not in LANE_MEMORY} | self.memory

    def remember(self, shared: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """Keep this lane's own part of ``fields`` (its directions); the shared memory with
        the rest, which every lane reads."""
        own = {k: v for k, v in fields.items() if k in LANE_MEMORY}
        self.memory |= own
        return shared | {k: v for k, v in fields.items() if k not in own}


def moved_note(moved_from: str | None, best: Version | None) -> str:
    """What an attempt's detail says when another lane's commit moved the best during the
    step that asked the gate; '' when it did not move."""
    if not moved_from or best is None or best.id == moved_from:
        return ""
    return f"; the best moved from {moved_from} to {best.id} during this step: judged against it"


def lane_lines(state: RunState) -> list[str]:
    """One line per lane of the session's runs with several: what it has done and spent, for
    the end of a run and ``avo sessions show``; none when it only ever had one."""
    if len(state.lanes) < 2:
        return []
    lines = []
    for number, lane in sorted(state.lanes.items(), key=lambda item: _number(item[0])):
        spent = f", ${lane.cost_usd:.2f}, {lane.tokens:,} tokens" if lane.tokens else ""
        where = f" on {lane.base}" if lane.base else ""
        lines.append(f"lane {number} ({lane.operator or '?'}, {lane.status or '?'}{where}): "
                     f"{lane.steps} steps, {lane.commits} commits{spent}")
    return lines


def _number(key: str) -> int:
    return int(key) if key.isdigit() else 0


# How many lanes one evaluation worker serves (docs/engine.md, Lanes): a lane waits for a free
# worker for each evaluation, so past a few per worker, lanes add only a queue (and agent lanes,
# which spend most of a step thinking, a few keep a worker busy). MOST_LANES bounds them all.
LANES_PER_WORKER = 4


def most_lanes(workers: int | None) -> int:
    """The most lanes a run evaluating on ``workers`` workers may have; None: not known before
    the run (a Ray cluster's), and only MOST_LANES bounds them."""
    if workers is None:
        return MOST_LANES
    return max(1, min(MOST_LANES, LANES_PER_WORKER * workers))


def check_lanes(count: int, workers: int | None) -> None:
    """Refuse, in one line, a lane count that this run's evaluation workers cannot serve."""
    bound = most_lanes(workers)
    if count <= bound:
        return
    if workers is None or bound == MOST_LANES:
        raise StoreError(f"--lanes {count:,}: a run has at most {MOST_LANES} lanes")
    raise StoreError(
        f"--lanes {count:,}: at most {bound} here, {LANES_PER_WORKER} per evaluation worker and "
        f"this run has {workers} (more lanes only queue; --gpus or --workers gives more workers)")


@dataclass(frozen=True)
class LaneCount:
    """The lanes of a resumed run: how many, what to keep for later runs (None: as kept), and
    a note when the kept count cannot run here."""

    count: int
    keep: int | None = None
    note: str = ""


def resumed_lanes(session: Session, stored: object, asked: int | None,
                  workers: int | None) -> LaneCount:
    """How many lanes a resumed run has: ``--lanes`` as given now (checked against the
    ``workers`` that evaluate; kept for later runs), else what the session last had
    (``stored``: its settings' count, under the state's). A kept count that is more than this
    run can serve runs as the most it can, with a note; one above MOST_LANES, which no run can
    have, is replaced by this run's count from now on. Nothing is written here: the caller
    keeps it once every check has passed."""
    raw = session.state.get("lane_count") or stored
    kept = raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1 else 1
    if asked:
        check_lanes(asked, workers)
        return LaneCount(asked, asked if asked != kept else None)
    bound = most_lanes(workers)
    if kept <= bound:
        return LaneCount(kept)
    count = bound
    keep = count if kept > MOST_LANES else None
    why = (f"more than any run can have ({MOST_LANES})" if keep else
           f"more than {workers} evaluation worker{'s' if workers != 1 else ''} serve "
           f"({LANES_PER_WORKER} each)")
    return LaneCount(count, keep, f"note: the session keeps {kept:,} lanes, {why}; this run "
                     f"has {count} (--lanes N sets the count kept)")


def lane_operators_for_run(
    spec: str, count: int, seed: int | None, make: Callable[[str, int | None], Operator]
) -> list[Operator]:
    """One operator instance per lane, ``make(name, seed)`` building each: the tuners draw
    from different random streams (``seed`` plus the lane's number less one; no seed, their
    own)."""
    return [make(name, None if seed is None else seed + k)
            for k, name in enumerate(lane_operators(spec, count))]


def describe_lanes(spec: str, count: int) -> str:
    """``tuner``, or ``agent and tuner in 4 lanes``."""
    names = list(dict.fromkeys(operator_names(spec)))
    text = " and ".join(names)
    return f"{text} in {count} lanes" if count > 1 else text
