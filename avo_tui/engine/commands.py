"""Control commands: what an operator (the person) asks of a running engine.

They arrive through the :class:`~avo_tui.engine.inbox.Inbox` from the app, a signal handler or
another process (``avo send``), and are applied at safe points only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# A hint or guidance goes into every brief of the agent and is echoed in the output, the log
# and `avo sessions show`: longer notes belong in a knowledge folder (--knowledge).
MAX_TEXT_CHARS = 4000


def too_long(kind: str, text: str) -> str | None:
    """Why a hint's or guidance's ``text`` is refused (None: it is not)."""
    if len(text) <= MAX_TEXT_CHARS:
        return None
    return (f"a {kind} holds at most {MAX_TEXT_CHARS:,} characters, not {len(text):,}; put "
            "longer notes in a knowledge folder (avo run --knowledge DIR)")


@dataclass(frozen=True)
class Pause:
    lane: int | None = None  # one lane of a run of several (None: every lane)


@dataclass(frozen=True)
class Resume:
    lane: int | None = None


@dataclass(frozen=True)
class Hint:
    """A one-off suggestion: the operator consumes it at its next step (each lane's does,
    when the hint names no lane)."""

    text: str
    lane: int | None = None


@dataclass(frozen=True)
class Guidance:
    """Standing guidance that holds for every step until replaced; None clears it. With a
    lane, that lane's own guidance, over the session's (None: back to the session's)."""

    text: str | None
    lane: int | None = None


@dataclass(frozen=True)
class Rollback:
    version: str


@dataclass(frozen=True)
class OperatorEdit:
    """Kernel files written by hand: evaluated, and committed on top of the head as an
    ``operator`` version if they are correct (a person's edit need not be faster)."""

    files: dict[str, str]
    message: str = "edited by hand"


@dataclass(frozen=True)
class SetBudgets:
    """Raise or set session budgets (keys of :class:`~avo_tui.engine.budget.Budgets`); a run
    paused by a spent budget continues once it has room again and is resumed."""

    limits: dict[str, float]


@dataclass(frozen=True)
class Approve:
    """Commit a pending suspect (a flagged result the gate held, by attempt id) as a version:
    the operator has looked at it and believes it."""

    attempt: str


@dataclass(frozen=True)
class Reject:
    """Drop a pending suspect (by attempt id): it stays an attempt and is never committed."""

    attempt: str


@dataclass(frozen=True)
class Stop:
    reason: str = "stop requested"
    lane: int | None = None  # that lane ends at its next safe point; the others go on


# A run that the app hands to a process of its own (Detach, a hang-up) stops in the app's
# process with this reason and goes on in the other: no stop to alert anyone of (alerts.py).
HANDED_OFF = "handed to a process of its own"


def hand_off(why: str) -> Stop:
    """The stop that hands a run in the app's process to a process of its own."""
    return Stop(f"{HANDED_OFF} ({why})")


def handed_off(reason: str) -> bool:
    """Whether a run that ended with ``reason`` goes on in a process of its own."""
    return reason.startswith(HANDED_OFF)


Command = (
    Pause | Resume | Hint | Guidance | Rollback | OperatorEdit | SetBudgets | Approve | Reject
    | Stop
)

COMMANDS: dict[str, type[Command]] = {
    "pause": Pause,
    "resume": Resume,
    "hint": Hint,
    "guidance": Guidance,
    "rollback": Rollback,
    "edit": OperatorEdit,
    "budget": SetBudgets,
    "approve": Approve,
    "reject": Reject,
    "stop": Stop,
}
_NAMES = {cls: name for name, cls in COMMANDS.items()}


class BadCommand(ValueError):
    pass


def to_doc(command: Command) -> dict[str, Any]:
    """The command as JSON; a command for every lane has no ``lane`` key, as before lanes."""
    doc = {"command": _NAMES[type(command)], **asdict(command)}
    if doc.get("lane", 0) is None:
        del doc["lane"]
    return doc


def lane_of(command: Command) -> int | None:
    """The lane a command is for; None: every lane, or the session as a whole."""
    lane = getattr(command, "lane", None)
    return lane if isinstance(lane, int) else None


def from_doc(doc: dict[str, Any]) -> Command:
    fields: dict[str, Any] = dict(doc)
    name = fields.pop("command", None)
    cls = COMMANDS.get(str(name))
    if cls is None:
        raise BadCommand(f"unknown command {name!r} (one of {', '.join(COMMANDS)})")
    lane = fields.get("lane")
    if lane is not None and (type(lane) is not int or lane < 1):
        raise BadCommand(f"malformed {name} command: lane {lane!r} is not a lane number")
    try:
        return cls(**fields)
    except TypeError as error:
        raise BadCommand(f"malformed {name} command: {error}") from None


__all__ = [
    "COMMANDS",
    "Approve",
    "BadCommand",
    "Command",
    "Guidance",
    "Hint",
    "OperatorEdit",
    "Pause",
    "Reject",
    "Resume",
    "Rollback",
    "SetBudgets",
    "Stop",
    "from_doc",
    "lane_of",
    "to_doc",
]
