"""The run state, typed: the session's one ``state`` document (head, status, step, budgets,
what is in flight, pending hints and suspects ...), as :class:`RunState`.

Every view reads it on every refresh, so reading must not fail: a field that is missing or
holds the wrong type (a damaged session, another version's shape) falls back to its default
and is named in ``damaged``, and the rest of the state still reads. The documents the engine
owns (budgets, usage, noise, gate decisions, the supervisor's counters, the operator's
memory, the evaluator's baseline timings) stay plain dicts here: their types live in the
engine, which reads them with its own ``from_doc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from .doc_fields import DocError, read_dataclass, read_fields, write_fields
from .models import Score, Suspect

EngineDoc = dict[str, Any]  # a document the engine owns and types itself
VERSION_KEY = "_v"  # the state document's shape; none: version 1
VERSION = 2
# The most lanes a run can have, on any machine (docs/engine.md, Lanes): each is a thread of
# the one writer and a record in this state. `avo run` bounds them by the machine too.
MOST_LANES = 64
RESCORED = "rescored"  # the state's field of rescored versions' scores
FLAGGED = "flagged"  # the state's field of versions that read slower than recorded
T = TypeVar("T")


@dataclass(frozen=True)
class InFlight:
    """The candidate being evaluated: saved before the evaluation starts, cleared after, so
    a run that died during it can record it as an ``interrupted`` attempt."""

    base: str | None  # the version it was built on; None: none yet (the first version)
    author: str
    files: Mapping[str, str]  # file name -> blob hash
    started: float
    # The GPU its evaluation holds, once a worker is leased (its CUDA_VISIBLE_DEVICES entry);
    # None before, and on a CPU.
    gpu: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return write_fields(self, omit_none=True)

    @classmethod
    def from_doc(cls, doc: object) -> InFlight:
        """DocError if ``doc`` is not a whole in-flight record."""
        return read_dataclass(cls, doc)


@dataclass(frozen=True)
class Rescored:
    """A version's score as ``avo rescore`` last set it (docs/engine.md, "Rescores"): read in
    place of the score its record keeps, wherever the lineage is read. ``event`` is the seq of
    the ``rescore`` event that set it, which says from what, how and why."""

    score: Score
    event: int

    def to_doc(self) -> dict[str, Any]:
        return write_fields(self)


@dataclass(frozen=True)
class Flagged:
    """A version that read slower against the anchor, timed beside a candidate, than it was
    recorded (docs/engine.md, "The incumbent is checked"): the first such reading, until
    ``avo rescore`` measures the version again. ``event`` is the seq of the ``flagged`` event
    that says so; the figures are its rate over the anchor's, recorded and as read."""

    anchor: str
    recorded: float
    measured: float
    attempt: str
    event: int

    def to_doc(self) -> dict[str, Any]:
        return write_fields(self)


@dataclass(frozen=True)
class LaneState:
    """One lane of the session's runs (docs/engine.md, Lanes), as ``RunState.lanes`` keeps it
    under its number; a run of one operator has one lane, ``1``. What the views show of it
    (its operator, status, base version, plan and spend, summed over every run of the session)
    and what it needs to resume (its candidate in flight, hints, failed steps, memory)."""

    operator: str = ""
    status: str = ""  # running, paused, stopped, finished
    reason: str = ""
    base: str | None = None  # the version its step in hand builds on
    plan: str = ""  # its latest plan, clipped
    steps: int = 0
    commits: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    failed_steps: int = 0  # steps in a row that ended on a fault
    in_flight: InFlight | None = None
    pending_hints: tuple[str, ...] = ()  # received, not yet taken by its operator
    guidance: str | None = None  # its own standing guidance, over the session's
    # Guidance that asked one step only ("try BLOCK_K=16 first") and has had its step: not
    # followed again, a resume included, until guidance is sent again (issue 87).
    spent_guidance: str | None = None
    memory: EngineDoc | None = None  # its own part of the operator's memory (directions)
    # The attempt its last step left promising and never gated, its next step's starting
    # point (StepResult.carry); a rollback, hand edit or approval drops it.
    carry: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return write_fields(self)


@dataclass(frozen=True)
class RunState:
    """The session's ``state`` document. Read it with :meth:`from_doc` (``session.state``);
    the engine writes it field by field with ``Session.set_state``."""

    # The version the next commit builds on; None: no version yet (a target with no seed,
    # whose first version the agent writes: docs/engine.md, "A run without a seed").
    head: str | None = "v0"
    status: str = "unknown"  # new, running, paused, stopped, finished, interrupted, crashed
    reason: str = ""  # why the run has that status
    step: int = 0  # steps done
    updated: float | None = None  # when a field was last set
    budgets: EngineDoc | None = None  # engine.budget.Budgets
    usage: EngineDoc | None = None  # engine.budget.Usage
    noise: EngineDoc | None = None  # engine.gate.NoiseEstimate
    gate_decisions: EngineDoc | None = None  # engine.gate.GateDecisions
    gate_strikes: EngineDoc | None = None  # engine.gate.GateStrikes; none before 2026-11-25
    supervisor: EngineDoc | None = None  # engine.supervisor.Supervisor
    operator_memory: EngineDoc | None = None  # what the operator keeps between steps
    baselines: EngineDoc | None = None  # the evaluator's cached baseline timings
    hardware: EngineDoc | None = None  # the evaluation device's facts, measured (its peak)
    guidance: str | None = None  # the operator's standing guidance
    suspects: Mapping[str, Suspect] = field(default_factory=dict)  # attempt id -> pending
    knowledge: tuple[str, ...] | None = None  # the session's own knowledge folders
    operator: str | None = None  # switched to on a resume; None: the one in meta, it began with
    lanes: Mapping[str, LaneState] = field(default_factory=dict)  # by number: "1", "2" ...
    lane_count: int | None = None  # set on a resume with --lanes; None: the settings' count
    gpus: str | None = None  # set on a resume with --gpus; None: the settings' GPUs
    workers: int | None = None  # set on a resume with --workers; None: the settings' count
    # version id -> its score as avo rescore set it; written only by Session.rescore
    rescored: Mapping[str, Rescored] = field(default_factory=dict)
    # version id -> the reading that flagged it; written by Session.flag, cleared by a rescore
    flagged: Mapping[str, Flagged] = field(default_factory=dict)
    # Not stored: the fields of the document that did not read (their defaults stand in).
    damaged: tuple[str, ...] = field(default=(), compare=False)

    def to_doc(self) -> dict[str, Any]:
        doc = write_fields(self)
        del doc["damaged"]
        return doc | {VERSION_KEY: VERSION}

    @classmethod
    def from_doc(cls, doc: object) -> RunState:
        """Read the state document, of this version or an older one (:func:`normalise`);
        never raises. A field that does not read keeps its default; a pending suspect or a
        lane that does not read is left out. Each is named in ``damaged``."""
        if not isinstance(doc, Mapping):
            return cls(damaged=("state",))
        doc = normalise(doc)
        plain = {k: v for k, v in doc.items()
                 if k not in ("suspects", "lanes", RESCORED, FLAGGED, "damaged", VERSION_KEY)}
        values, problems = read_fields(cls, plain)
        damaged = list(problems)
        suspects = _suspects(doc.get("suspects"), damaged)
        lanes = _entries(LaneState, "lanes", _runnable_lanes(doc.get("lanes"), damaged),
                         damaged)
        if isinstance(count := values.get("lane_count"), int) and count > MOST_LANES:
            values["lane_count"] = MOST_LANES
            damaged.append(f"lane_count ({count:,}, above {MOST_LANES})")
        rescored = rescored_of(doc.get(RESCORED), damaged)
        flagged = _entries(Flagged, FLAGGED, doc.get(FLAGGED), damaged)
        return cls(**values, suspects=suspects, lanes=lanes, rescored=rescored,
                   flagged=flagged, damaged=tuple(sorted(damaged)))

    def lane(self, number: int) -> LaneState:
        """What the session keeps of lane ``number`` (an empty record if nothing yet)."""
        return self.lanes.get(str(number)) or LaneState()

    @property
    def pending_hints(self) -> tuple[str, ...]:
        """Every lane's hints not yet taken, lane by lane."""
        return tuple(hint for _, lane in self._numbered() for hint in lane.pending_hints)

    @property
    def in_flight(self) -> InFlight | None:
        """The candidate in flight that started first, of any lane; None when none is."""
        flying = [lane.in_flight for _, lane in self._numbered() if lane.in_flight]
        return min(flying, key=lambda flight: flight.started) if flying else None

    def _numbered(self) -> list[tuple[int, LaneState]]:
        return sorted((int(k), v) for k, v in self.lanes.items() if k.isdigit())

    def usage_figure(self, name: str) -> float:
        """A figure of the engine's usage (``steps``, ``seconds``, ``cost_usd``, ``tokens``);
        0 when it is missing or not a number."""
        value = (self.usage or {}).get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        return float(value)


class StateUpdate(TypedDict, total=False):
    """The fields of the state document a writer may set (``Session.set_state``), as stored:
    the engine's own documents as plain dicts, lanes as their documents. The head moves only
    with a commit or a rollback."""

    status: str
    reason: str
    step: int
    updated: float
    budgets: EngineDoc
    usage: EngineDoc
    noise: EngineDoc
    gate_decisions: EngineDoc
    gate_strikes: EngineDoc
    supervisor: EngineDoc
    operator_memory: EngineDoc
    baselines: EngineDoc
    hardware: EngineDoc
    guidance: str | None
    knowledge: list[str] | None
    operator: str | None
    lanes: dict[str, Any]
    lane_count: int | None
    gpus: str | None
    workers: int | None


def normalise(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The state document in this version's shape. Version 1 (no ``_v``) kept the first
    lane's candidate in flight, hints and failed-step count in top-level fields, and its
    directions in the shared operator memory; version 2 keeps every lane's in ``lanes``, alike.
    Only whole values move: a damaged one moves as it is and is named when the lane reads."""
    if doc.get(VERSION_KEY) == VERSION:
        return doc
    old = dict(doc)
    lanes = old.get("lanes")
    lanes = dict(lanes) if isinstance(lanes, Mapping) else {}
    first = lanes.get("1")
    first = dict(first) if isinstance(first, Mapping) else {}
    for name in ("in_flight", "pending_hints", "failed_steps"):
        if name in old:
            value = old.pop(name)
            if value not in (None, [], (), 0):
                first[name] = value
    memory = old.get("operator_memory")
    if isinstance(memory, Mapping) and "directions" in memory:
        memory = dict(memory)
        own = first.get("memory")
        first["memory"] = (dict(own) if isinstance(own, Mapping) else {}) | {
            "directions": memory.pop("directions")}
        old["operator_memory"] = memory
    if first:
        lanes["1"] = first
    return old | {"lanes": lanes, VERSION_KEY: VERSION}


def rescored_of(doc: object, damaged: list[str] | None = None) -> dict[str, Rescored]:
    """The state's ``rescored`` entries (None: a session never rescored); one that does not
    read is left out, and named in ``damaged`` where given: that version reads its record's
    score."""
    return _entries(Rescored, RESCORED, doc, [] if damaged is None else damaged)


def _suspects(doc: object, damaged: list[str]) -> dict[str, Suspect]:
    return _entries(Suspect, "suspects", doc, damaged)


def _runnable_lanes(doc: object, damaged: list[str]) -> object:
    """The lanes a run can have, of the state's ``lanes``: those numbered above MOST_LANES
    (no run can take them up) are left unread, and named once in ``damaged``. A state written
    with an absurd lane count then reads as fast as any (issue 53: 100,000 lanes took seconds
    to read), and the next save of the lanes drops them."""
    if not isinstance(doc, Mapping):
        return doc
    kept = {k: v for k, v in doc.items() if not _above_most(str(k))}
    if len(kept) < len(doc):
        damaged.append(f"lanes above {MOST_LANES} ({len(doc) - len(kept):,}, left out)")
    return kept


def _above_most(key: str) -> bool:
    return key.isascii() and key.isdigit() and (len(key) > 3 or int(key) > MOST_LANES)


def _entries(cls: type[T], name: str, doc: object, damaged: list[str]) -> dict[str, T]:
    """The entries of a keyed field read one by one: one that does not read is left out and
    named in ``damaged``, and the others still read."""
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        damaged.append(name)
        return {}
    out = {}
    for key, entry in doc.items():
        try:
            out[str(key)] = read_dataclass(cls, entry)
        except DocError:
            damaged.append(f"{name}.{key}")
    return out
