"""What the report takes from the journal, read once from the first event to the last: the
operator's hand on the run (hints, guidance, rollbacks, pauses, stops, edits, decisions on
suspects), what each agent step spent, and the lesson of the step that made each version.

Every event is read through its typed payload (store/payloads.py); one that does not parse,
written by another avo or damaged, is counted and otherwise left out, so the report of any
session is drawn whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..store import (
    PAYLOAD_TYPES,
    CommitPayload,
    Event,
    GuidancePayload,
    HintPayload,
    OperatorPayload,
    PausePayload,
    RescorePayload,
    ResearchPayload,
    ResumePayload,
    RollbackPayload,
    StatusPayload,
    StepPayload,
    SuspectPayload,
    UnreadablePayload,
    payload_of,
)

# A run's end the operator asked for, as the engine words it (engine/control.py, the app, Ctrl-C)
STOPPED = "stopped"
# The kinds read here. The others (tool calls, attempts, plans: most of a week's journal) are
# not parsed at all: at 18,000 events, parsing them was half of the report's time.
READ = frozenset({"hint", "guidance", "rollback", "pause", "resume", "status", "commit",
                  "suspect", "operator", "rescore", "step", "research"})


@dataclass(frozen=True)
class Mark:
    """One thing the operator did, at ``ts``: ``kind`` names it (hint, guidance, rollback,
    pause, resume, stop, edit, approve, reject, operator, rescore), ``text`` says it whole."""

    ts: float
    kind: str
    text: str


@dataclass(frozen=True)
class Spend:
    """What one step of the variation operator spent (the agent's; the tuner's cost nothing)."""

    ts: float
    step: int
    cost_usd: float
    tokens: int


@dataclass(frozen=True)
class Rollback:
    ts: float
    from_version: str
    to_version: str


@dataclass
class JournalFacts:
    marks: list[Mark] = field(default_factory=list)
    spends: list[Spend] = field(default_factory=list)
    rollbacks: list[Rollback] = field(default_factory=list)
    lessons: dict[str, str] = field(default_factory=dict)  # version id -> its step's lesson
    unreadable: int = 0  # events of a kind unknown here, or read here and not parsing
    last_ts: float = 0.0  # when the newest event was written


def read_journal(events: Iterable[Event]) -> JournalFacts:
    facts = JournalFacts()
    made: dict[tuple[int | None, int], str] = {}  # (lane, step) -> the version it committed
    learned: dict[tuple[int | None, int], str] = {}  # (lane, step) -> its research lesson
    for event in events:
        facts.last_ts = max(facts.last_ts, event.ts)
        if event.kind not in READ:
            facts.unreadable += event.kind not in PAYLOAD_TYPES  # a kind this avo does not know
            continue
        payload = payload_of(event)
        if isinstance(payload, UnreadablePayload):
            facts.unreadable += 1
            continue
        mark = _mark(payload)
        if mark is not None:
            facts.marks.append(Mark(event.ts, *mark))
        match payload:
            case RollbackPayload(from_version=old, to_version=new):
                facts.rollbacks.append(Rollback(event.ts, old, new))
            case StepPayload(step=step, version=version, lane=lane):
                facts.spends.append(Spend(event.ts, step, payload.cost_usd, payload.tokens))
                if version:
                    made[(lane, step)] = version
            case ResearchPayload(action="record", step=step, lane=lane, lesson=lesson) if lesson:
                learned[(lane, step)] = lesson
    facts.lessons = {version: learned[key] for key, version in made.items() if key in learned}
    return facts


def _mark(payload: object) -> tuple[str, str] | None:
    """(kind, text) where the payload is the operator's doing; None for the rest."""
    lane = getattr(payload, "lane", None)
    to = f" (lane {lane})" if isinstance(lane, int) else ""
    match payload:
        case HintPayload(action="received", text=text):
            return "hint", f"hint{to}: {text}"
        case GuidancePayload(action="set", text=str(text)) if text:
            return "guidance", f"guidance{to}: {text}"
        case GuidancePayload():
            return "guidance", f"guidance cleared{to}"
        case RollbackPayload(from_version=old, to_version=new):
            return "rollback", f"rollback from {old} to {new}"
        case PausePayload(reason=reason):
            return "pause", f"paused{to}: {reason}" if reason else f"paused{to}"
        case ResumePayload():
            return "resume", f"resumed{to}"
        case StatusPayload(status=status, reason=reason) if status == STOPPED:
            return "stop", f"stopped{to}: {reason}" if reason else f"stopped{to}"
        case CommitPayload(author="operator", version=version, message=message):
            return "edit", f"{version} by hand: {message}"
        case SuspectPayload(action="approved", attempt=attempt, version=version):
            return "approve", f"{attempt} approved as {version}"
        case SuspectPayload(action="rejected", attempt=attempt):
            return "reject", f"{attempt} rejected"
        case OperatorPayload(from_operator=old, to_operator=new):
            return "operator", f"operator switched from {old} to {new}"
        case RescorePayload(how="measured", version=version, now=now, unit=unit):
            return "rescore", f"{version} rescored to {now:.4g} {unit}".rstrip()
    return None
