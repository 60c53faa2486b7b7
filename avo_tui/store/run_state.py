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
from typing import Any, TypeVar

from .doc_fields import DocError, read_dataclass, read_fields, write_fields
from .models import Suspect

EngineDoc = dict[str, Any]  # a document the engine owns and types itself
T = TypeVar("T")


@dataclass(frozen=True)
class InFlight:
    """The candidate being evaluated: saved before the evaluation starts, cleared after, so
    a run that died during it can record it as an ``interrupted`` attempt."""

    base: str
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
class LaneState:
    """One lane of a run of several (docs/engine.md, Lanes), as ``RunState.lanes`` keeps it
    under its number: what the views show of it (its operator, status, base version, plan and
    spend, summed over every run of the session) and what lanes 2 and up need to resume.
    Lane 1's own in-flight candidate, hints and failed-step count are the run state's top-level
    fields, so a session run with one lane is what it always was."""

    operator: str = ""
    status: str = ""  # running, paused, stopped, finished
    reason: str = ""
    base: str | None = None  # the version its step in hand builds on
    plan: str = ""  # its latest plan, clipped
    steps: int = 0
    commits: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    failed_steps: int = 0  # lanes 2 and up
    in_flight: InFlight | None = None  # lanes 2 and up
    pending_hints: tuple[str, ...] = ()  # lanes 2 and up
    guidance: str | None = None  # its own standing guidance, over the session's
    memory: EngineDoc | None = None  # its own part of the operator's memory (directions)

    def to_doc(self) -> dict[str, Any]:
        return write_fields(self)


@dataclass(frozen=True)
class RunState:
    """The session's ``state`` document. Read it with :meth:`from_doc` (``session.state``);
    the engine writes it field by field with ``Session.set_state``."""

    head: str = "v0"
    status: str = "unknown"  # new, running, paused, stopped, finished, interrupted, crashed
    reason: str = ""  # why the run has that status
    step: int = 0  # steps done
    failed_steps: int = 0  # steps in a row that ended on a fault
    updated: float | None = None  # when a field was last set
    budgets: EngineDoc | None = None  # engine.budget.Budgets
    usage: EngineDoc | None = None  # engine.budget.Usage
    noise: EngineDoc | None = None  # engine.gate.NoiseEstimate
    gate_decisions: EngineDoc | None = None  # engine.gate.GateDecisions
    supervisor: EngineDoc | None = None  # engine.supervisor.Supervisor
    operator_memory: EngineDoc | None = None  # what the operator keeps between steps
    baselines: EngineDoc | None = None  # the evaluator's cached baseline timings
    hardware: EngineDoc | None = None  # the evaluation device's facts, measured (its peak)
    pending_hints: tuple[str, ...] = ()  # received, not yet taken by the operator
    guidance: str | None = None  # the operator's standing guidance
    in_flight: InFlight | None = None
    suspects: Mapping[str, Suspect] = field(default_factory=dict)  # attempt id -> pending
    knowledge: tuple[str, ...] | None = None  # the session's own knowledge folders
    operator: str | None = None  # switched to on a resume; None: the one in meta, it began with
    lanes: Mapping[str, LaneState] = field(default_factory=dict)  # by number, in a run of several
    lane_count: int | None = None  # set on a resume with --lanes; None: the settings' count
    gpus: str | None = None  # set on a resume with --gpus; None: the settings' GPUs
    workers: int | None = None  # set on a resume with --workers; None: the settings' count
    # Not stored: the fields of the document that did not read (their defaults stand in).
    damaged: tuple[str, ...] = field(default=(), compare=False)

    def to_doc(self) -> dict[str, Any]:
        doc = write_fields(self)
        del doc["damaged"]
        return doc

    @classmethod
    def from_doc(cls, doc: object) -> RunState:
        """Read the state document; never raises. A field that does not read keeps its
        default; a pending suspect that does not read is left out. Both are named in
        ``damaged``."""
        if not isinstance(doc, Mapping):
            return cls(damaged=("state",))
        plain = {k: v for k, v in doc.items() if k not in ("suspects", "lanes", "damaged")}
        values, problems = read_fields(cls, plain)
        damaged = list(problems)
        suspects = _suspects(doc.get("suspects"), damaged)
        lanes = _entries(LaneState, "lanes", doc.get("lanes"), damaged)
        return cls(**values, suspects=suspects, lanes=lanes, damaged=tuple(sorted(damaged)))

    def usage_figure(self, name: str) -> float:
        """A figure of the engine's usage (``steps``, ``seconds``, ``cost_usd``, ``tokens``);
        0 when it is missing or not a number."""
        value = (self.usage or {}).get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        return float(value)


def _suspects(doc: object, damaged: list[str]) -> dict[str, Suspect]:
    return _entries(Suspect, "suspects", doc, damaged)


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
