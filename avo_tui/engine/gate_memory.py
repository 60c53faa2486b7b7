"""What the commit gate remembers, per kernel, across requests and restarts: its decision
against each best (GateDecisions) and the undecided decisions that count against a kernel
(GateStrikes), kept in the session's state (docs/engine.md, "The commit gate").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..evaluation import Failure
from ..store import Version

STRIKE_CHARS = 300  # of a failure's message kept with a strike (the attempt's log has it all)
STRIKES_KEPT = 512  # kernels, the newest; more than the decisions: a strike outlives a new best
DECISIONS_KEPT = 128  # the newest; an older kernel asked again is simply measured again
KERNEL_KEY_CHARS = 24  # of the kernel identity's hex digest: 96 bits, no collisions to fear


@dataclass
class GateDecisions:
    """Which kernels the gate has decided on, against which best: one decision each. Keyed by
    the evaluator's kernel identity (compiled code and launch), so a new comment, a renamed
    local or an unused macro does not buy another try."""

    entries: dict[str, list[str]] = field(default_factory=dict)  # kernel -> [best, attempt]

    def get(self, kernel: str | None, best: Version | None) -> str | None:
        """The attempt that holds the decision on ``kernel`` against ``best``, if any."""
        entry = self.entries.get((kernel or "")[:KERNEL_KEY_CHARS])
        if entry is None or entry[0] != (best.id if best else ""):
            return None
        return entry[1]

    def add(self, kernel: str | None, best: Version | None, attempt: str) -> None:
        if not kernel:
            return
        key = kernel[:KERNEL_KEY_CHARS]
        self.entries.pop(key, None)
        self.entries[key] = [best.id if best else "", attempt]
        for old in list(self.entries)[:-DECISIONS_KEPT]:
            del self.entries[old]

    def to_doc(self) -> dict[str, list[str]]:
        return dict(self.entries)

    @classmethod
    def from_doc(cls, doc: object) -> GateDecisions:
        if not isinstance(doc, dict):
            return cls()
        return cls({str(k): [str(x) for x in v] for k, v in doc.items()
                    if isinstance(v, list) and len(v) == 2})


PHASE_WORDS = {
    "beside the best": "while timed beside the best",
    "time": "while timed beside the baselines",
    "check": "during the correctness check",
    "idle check": "during the idle check",
    "load": "while loading",
}


def failure_words(failure: Failure) -> str:
    """A failure in an attempt's detail: its kind, where in the evaluation it happened (its
    phase, where the evaluator says), the configuration and the message."""
    phase = (f" {PHASE_WORDS.get(failure.phase, f'during {failure.phase}')}"
             if failure.phase else "")
    where = f" [{failure.config}]" if failure.config else ""
    return f"{failure.kind}{phase}{where}: {failure.message}"


def times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


@dataclass
class GateStrikes:
    """Each kernel's undecided gate decisions, whichever best they were against: what each
    failure was, in the order met. Keyed as GateDecisions keys, by the kernel's identity; a
    new best does not clear them (a lesson is the kernel's, not the decision's)."""

    entries: dict[str, list[str]] = field(default_factory=dict)  # kernel -> failures

    def of(self, kernel: str | None) -> list[str]:
        return list(self.entries.get((kernel or "")[:KERNEL_KEY_CHARS], []))

    def attempts(self, kernel: str | None) -> set[str]:
        """The attempts that recorded this kernel's strikes (the last one a rejection's)."""
        return {struck.split(":", 1)[0] for struck in self.of(kernel)}

    def add(self, kernel: str | None, attempt: str, failure: Failure) -> None:
        if not kernel:
            return
        key = kernel[:KERNEL_KEY_CHARS]
        words = " ".join(failure_words(failure).split())
        if len(words) > STRIKE_CHARS:
            words = words[:STRIKE_CHARS - 3] + "..."
        struck = [*self.entries.pop(key, []), f"{attempt}: {words}"]
        self.entries[key] = struck
        for old in list(self.entries)[:-STRIKES_KEPT]:
            del self.entries[old]

    def to_doc(self) -> dict[str, list[str]]:
        return {key: list(struck) for key, struck in self.entries.items()}

    @classmethod
    def from_doc(cls, doc: object) -> GateStrikes:
        """Also a session written before strikes were kept (None: none), or a damaged one."""
        if not isinstance(doc, dict):
            return cls()
        return cls({str(k): [str(x) for x in v] for k, v in doc.items()
                    if isinstance(v, list)})
