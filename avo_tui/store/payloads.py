"""One typed, versioned payload per event kind: what an event's ``data`` holds.

Events are the run's story, and every view (the app, the headless console, ``output.log``)
reads them back, sometimes years later and from a session written by another version of avo.
So a reader never indexes ``event.data`` by string: it asks :func:`payload_of` for the typed
payload, and gets an :class:`UnreadablePayload` (never an exception) for a kind it does not
know or data that does not parse, which it shows as a generic line.

Versioning: each payload type has a ``VERSION``, written under the ``_v`` key of its
document. A document without ``_v`` is version 1: every session written before payloads
were versioned. A document from a newer version than the reader's is unreadable (the reader
cannot know what changed); an older one is brought up to date by the type's ``normalise``
before its fields are read. Change a payload's shape by adding a field with a default (no
new version needed: older readers ignore it), or by bumping ``VERSION`` and teaching
``normalise`` the old shape.

Writers build a payload and append it (:func:`append_payload`); the documents have the same
keys as the ``append_event(kind, **data)`` calls that wrote them before, so sessions written
either way read the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, Self

from .doc_fields import KEY, DocError, read_dataclass, write_fields
from .models import Event, EventKind

VERSION_KEY = "_v"


class PayloadError(DocError):
    """An event's data does not parse as its kind's payload (missing or mistyped field,
    unknown action, or written by a newer version)."""


class Payload:
    """Base of the payload types: frozen dataclasses, one per :class:`EventKind`."""

    KIND: ClassVar[EventKind]
    VERSION: ClassVar[int] = 1

    def to_doc(self) -> dict[str, Any]:
        """The stored document: the fields under their keys (None optionals left out) and
        the payload's version."""
        return {**write_fields(self, omit_none=True), VERSION_KEY: self.VERSION}

    @classmethod
    def from_doc(cls, doc: object) -> Self:
        """Read a stored document; PayloadError says what is wrong with it."""
        if not isinstance(doc, Mapping):
            raise PayloadError(f"{cls.KIND} data is not a mapping: {doc!r:.60}")
        version = doc.get(VERSION_KEY, 1)
        if type(version) is not int or version < 1:
            raise PayloadError(f"{cls.KIND} data has a bad version {version!r:.20}")
        if version > cls.VERSION:
            raise PayloadError(f"{cls.KIND} data of version {version}, written by a newer avo "
                               f"(this one reads up to version {cls.VERSION})")
        try:
            return read_dataclass(cls, cls.normalise(doc, version))
        except DocError as error:
            raise PayloadError(str(error)) from None

    @classmethod
    def normalise(cls, doc: Mapping[str, Any], version: int) -> Mapping[str, Any]:
        """The document in this version's shape, ready to be read field by field: one of an
        older ``version`` upgraded (no type has an older version yet)."""
        return doc


# -- the kinds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPayload(Payload):
    """The session was created, or its lock was taken over from a dead writer."""

    KIND = EventKind.SESSION
    action: Literal["created", "lock_taken_over"]
    target: str | None = None  # created
    previous: str | None = None  # lock_taken_over: the writer it replaced
    seed: str | None = None  # created: which seed kernel and why (for the GPU it chose)


@dataclass(frozen=True)
class PlanPayload(Payload):
    """The operator (re)wrote its plan."""

    KIND = EventKind.PLAN
    text: str
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class ToolCallPayload(Payload):
    """One tool call of the agent, its input and result clipped."""

    KIND = EventKind.TOOL_CALL
    tool: str
    input: str = ""
    error: bool = False
    result: str = ""
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class CompilePayload(Payload):
    """Reserved: no writer emits this kind yet (attempts carry the compile result)."""

    KIND = EventKind.COMPILE


@dataclass(frozen=True)
class CorrectnessPayload(Payload):
    """Reserved: no writer emits this kind yet (attempts carry the correctness result)."""

    KIND = EventKind.CORRECTNESS


@dataclass(frozen=True)
class BenchmarkPayload(Payload):
    """Reserved: no writer emits this kind yet (attempts carry the scores)."""

    KIND = EventKind.BENCHMARK


@dataclass(frozen=True)
class AttemptPayload(Payload):
    """A candidate was evaluated and recorded as an attempt (``detail`` clipped)."""

    KIND = EventKind.ATTEMPT
    attempt: str
    outcome: str
    base: str | None = ""  # None: built on no version (there was none yet)
    detail: str = ""
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class CommitPayload(Payload):
    """A version was committed and became the head."""

    KIND = EventKind.COMMIT
    version: str
    parent: str | None  # None: v0 of a target with no seed, written by the agent
    author: str
    gmean: float | None
    message: str = ""
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class HintPayload(Payload):
    """A one-off hint: received from the operator, then used or found unusable (``note``
    says why) by the variation operator."""

    KIND = EventKind.HINT
    action: Literal["received", "used", "unusable"]
    text: str
    note: str | None = None
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class GuidancePayload(Payload):
    """The standing guidance was set, or cleared (``text`` empty or None)."""

    KIND = EventKind.GUIDANCE
    action: Literal["set", "cleared"]
    text: str | None = None
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class PausePayload(Payload):
    """The run paused: by the operator (no reason) or on its own account (a spent budget)."""

    KIND = EventKind.PAUSE
    reason: str = ""
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class ResumePayload(Payload):
    KIND = EventKind.RESUME
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class RollbackPayload(Payload):
    """The head moved back; the next version branches from ``to_version``."""

    KIND = EventKind.ROLLBACK
    from_version: str = field(metadata={KEY: "from"})
    to_version: str = field(metadata={KEY: "to"})


@dataclass(frozen=True)
class SupervisorPayload(Payload):
    """The stall detector fired (``redirect``, naming the attempt that tripped it), or the
    agent's review of the lineage answered it (``review``, with its proposals)."""

    KIND = EventKind.SUPERVISOR
    reason: str
    action: Literal["redirect", "review"]
    attempt: str | None = None  # redirect
    proposals: str | None = None  # review
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class SuspectPayload(Payload):
    """A flagged result was held for the operator's review, then approved (it became
    ``version``) or rejected (with a ``reason``)."""

    KIND = EventKind.SUSPECT
    action: Literal["held", "approved", "rejected"]
    attempt: str
    base: str | None = None  # held: the version it was built on
    author: str | None = None  # held
    gmean: float | None = None  # held
    unit: str | None = None  # held
    flags: tuple[str, ...] | None = None  # held: why it is implausible
    version: str | None = None  # approved
    reason: str | None = None  # rejected
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class StepPayload(Payload):
    """A step of the variation operator ended."""

    KIND = EventKind.STEP
    step: int
    summary: str
    version: str | None = None  # committed by the step
    cost_usd: float = 0.0
    tokens: int = 0
    transcript: str | None = None  # blob hash of the agent's conversation
    failed: bool = False  # ended by a fault (the operator's bug, the API), not by a decision
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class StepResumedPayload(Payload):
    """The agent continued the step a dead run left, after its ``turn`` completed turns."""

    KIND = EventKind.STEP_RESUMED
    turn: int
    message: str = ""
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class StatusPayload(Payload):
    """Announced run-state fields: the run's ``status`` (and why), or, with ``status`` =
    ``budgets``, new budget limits. Any other field the announcement named is in
    ``changes``, stored beside ``status`` as the state change wrote it. With ``lane``, the
    status of one lane of a run of several (``running`` when it starts, ``stopped`` or
    ``finished`` when it ends), while the run goes on."""

    KIND = EventKind.STATUS
    status: str
    reason: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)
    lane: int | None = None  # set: one lane's status (started, stopped, finished), not the run's

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        return {**doc.pop("changes"), **doc}

    @classmethod
    def normalise(cls, doc: Mapping[str, Any], version: int) -> Mapping[str, Any]:
        named = {f.name for f in dataclasses.fields(cls)} | {VERSION_KEY}
        return {**doc, "changes": {k: v for k, v in doc.items() if k not in named}}


@dataclass(frozen=True)
class ErrorPayload(Payload):
    KIND = EventKind.ERROR
    message: str
    traceback: str | None = None  # of an internal error, clipped
    lane: int | None = None  # the lane it came from, in a run of several lanes


@dataclass(frozen=True)
class OperatorPayload(Payload):
    """The operator (the person) switched the session's variation operator on a resume
    (``avo run --session NAME --operator tuner``)."""

    KIND = EventKind.OPERATOR
    from_operator: str = field(metadata={KEY: "from"})
    to_operator: str = field(metadata={KEY: "to"})


@dataclass(frozen=True)
class QueuedPayload(Payload):
    """A run starts with commands that were sent while no run was live (``avo send`` to a
    stopped session): each described in a few words, in the order they apply."""

    KIND = EventKind.QUEUED
    commands: tuple[str, ...]


@dataclass(frozen=True)
class ResearchPayload(Payload):
    """What an agent step tried and learned, kept by the harness (``action`` ``record``, at
    the step's end), or a reviewer's verdict on a kernel before its commit (``review``).

    A record names the ideas the step evaluated (``a12 slower: swap the loops``), the size of
    its final change against its ``base``, the change per shape of its best candidate, the
    outcome, the agent's last words (``final``) and what it says it learned (``lesson``), and,
    so the journal holds the agent's whole memory (search_history reads it), the running
    ``summary`` its debrief wrote and the ``notes`` it kept during the step."""

    KIND = EventKind.RESEARCH
    action: Literal["record", "review"]
    step: int
    base: str | None  # None: the step began with no version yet (and wrote v0, or tried)
    outcome: str
    ideas: tuple[str, ...] = ()
    lines_added: int = 0
    lines_removed: int = 0
    change: str = ""
    final: str = ""
    lesson: str = ""
    lane: int | None = None  # the lane it came from, in a run of several lanes
    summary: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RescorePayload(Payload):
    """A version's score was put right (``avo rescore``, docs/engine.md "Rescores"): either
    ``measured``, the version re-evaluated beside ``beside`` (the version its score is
    chained from; None: on its own), or ``followed``, re-derived from the new score of
    ``beside``, the version it is chained from, its gain over it kept. ``was`` and ``now`` are
    the geometric means before and after; the version's record never changes."""

    KIND = EventKind.RESCORE
    version: str
    how: Literal["measured", "followed"]
    was: float | None
    now: float
    unit: str = ""
    beside: str | None = None
    gain: str | None = None  # measured beside a version: the gain as timed, with its error
    reason: str = ""  # the operator's words (avo rescore --why)


@dataclass(frozen=True)
class FlaggedPayload(Payload):
    """A version, timed beside a candidate as the best, read slower against the anchor than
    it was recorded, past what the measurements' errors and the noise allow (docs/engine.md,
    "The incumbent is checked"): it is the suspect, and ``avo rescore`` measures it again.
    ``recorded`` and ``measured`` are its rate over the anchor's, the geometric mean over the
    configurations timed; ``allowed_pct`` how far below its record it could have read."""

    KIND = EventKind.FLAGGED
    version: str
    anchor: str
    recorded: float
    measured: float
    allowed_pct: float
    attempt: str  # the attempt whose evaluation read it
    # how many times it failed beside its successors, where that flagged it (measured is 0)
    failures: int | None = None


PAYLOAD_TYPES: dict[str, type[Payload]] = {
    cls.KIND.value: cls
    for cls in (
        SessionPayload, PlanPayload, ToolCallPayload, CompilePayload, CorrectnessPayload,
        BenchmarkPayload, AttemptPayload, CommitPayload, HintPayload, GuidancePayload,
        PausePayload, ResumePayload, RollbackPayload, SupervisorPayload, SuspectPayload,
        StepPayload, StepResumedPayload, StatusPayload, ErrorPayload, OperatorPayload,
        QueuedPayload, ResearchPayload, RescorePayload, FlaggedPayload,
    )
}


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnreadablePayload:
    """An event a reader cannot interpret, kept with its raw data: shown as a generic line."""

    kind: str
    doc: object
    problem: str


@dataclass(frozen=True)
class UnknownPayload(UnreadablePayload):
    """An event of a kind this version of avo does not know (written by a newer one)."""


@dataclass(frozen=True)
class MalformedPayload(UnreadablePayload):
    """An event whose data does not parse as its kind's payload (damaged, or another
    version's shape)."""


def payload_of(event: Event) -> Payload | UnreadablePayload:
    """The typed payload of ``event``; never raises."""
    kind = str(event.kind)
    cls = PAYLOAD_TYPES.get(kind)
    if cls is None:
        return UnknownPayload(kind, event.data, "a kind this avo does not know")
    try:
        return cls.from_doc(event.data)
    except PayloadError as error:
        return MalformedPayload(kind, event.data, str(error))


# -- writing ----------------------------------------------------------------------------------


class EventLog(Protocol):
    """What :func:`append_payload` writes to: a :class:`~avo_tui.store.session.Session`."""

    def append_event(self, kind: str, **data: Any) -> Event: ...


def append_payload(log: EventLog, payload: Payload) -> Event:
    """Append ``payload`` as an event of its kind; returns once it is durable.

    The document is read back first, so a payload built with a value of the wrong type (which
    the type checker did not catch) fails here, in the writer, with PayloadError, instead of
    in every reader later."""
    doc = payload.to_doc()
    type(payload).from_doc(doc)
    return log.append_event(payload.KIND, **doc)
