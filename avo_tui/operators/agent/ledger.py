"""The ledger of directions: every idea the search tried, kept by the harness, not the model.

A week-long run forgets: the research log keeps the newest records and the running summary is
what the model chooses to rewrite. In a 36-step run the same idea was evaluated in every step.
So the harness keeps one line per direction (GEAK-AVO's strategy file, KernelAgent's avoid and
try lists), in the operator's memory, shared by every lane:

- **tried**: evaluated, nothing decided (a quick check, a promising reading not committed);
- **worked**: it became a version;
- **failed**: every attempt failed or measured no gain, with the latest reason and lesson;
- **pending**: proposed (by the agent's debrief or the supervisor), not tried yet.

An idea joins the direction that is the same experiment (repeats.py: by meaning, and never
across two values of one knob), so "BLOCK_N 176" and "BLOCK_N 176, measured again" are one
direction tried twice, and "BLOCK_N 192" another. Every direction tried stays: the
ledger drops none below LEDGER_KEPT (far more than a week of steps tries), and each entry is
bounded, so it costs at most about LEDGER_KEPT * 700 characters of state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ...store import Attempt, Outcome
from . import changes, repeats, report

Status = Literal["pending", "tried", "worked", "failed"]
STATUSES: tuple[Status, ...] = ("worked", "pending", "tried", "failed")  # as the brief lists
LEDGER_KEPT = 2_000
MAX_IDEA_CHARS = 160
MAX_WHY_CHARS = 300
MAX_IDS = 6  # attempt ids kept per direction, the newest
CLOSE = 0.3  # the share an idea check reports as close
# Words that say nothing of what a candidate computes.
STOP = frozenset(re.findall(r"\w+", """
    a an and the of to in on for with by from at as is it its this that be or not no again
    measured same try retry keep use using more less than then"""))
_WORD = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
# Measured outcomes that say the idea gave nothing: slower, within the noise, refused by the
# gate's measurement.
NO_GAIN = frozenset({Outcome.SLOWER, Outcome.WITHIN_NOISE, Outcome.NOT_CONFIRMED})
# Measured outcomes that leave the idea open: a gain not committed yet, a reading too noisy to
# call, a quick check, a result held for the operator.
OPEN = frozenset({Outcome.PROMISING, Outcome.INCONCLUSIVE, Outcome.CHECKED, Outcome.SUSPECT})


@dataclass(frozen=True)
class Direction:
    idea: str
    status: Status
    first_step: int
    last_step: int
    tries: int = 0
    attempts: tuple[str, ...] = ()
    why: str = ""  # the latest outcome and reason, then the step's lesson
    lane: int | None = None
    # Every step that learned a lesson under it: the lessons are the journal's (its research
    # records), which search_history shows with the direction, all of them.
    learned: tuple[int, ...] = ()
    change: str = ""  # what it changes, as changes.py tags it; '' for an idea without

    def compared(self) -> str:
        """The direction as the repeat check reads it: its change tags, then its idea."""
        return f"{self.change} {self.idea}".strip()

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: object) -> Direction | None:
        """The direction a stored document holds; None when it does not read."""
        if not isinstance(doc, dict):
            return None
        try:
            status: Status = next((s for s in STATUSES if s == doc["status"]), "tried")
            lane = doc.get("lane")
            return cls(report.clip(str(doc["idea"]), MAX_IDEA_CHARS), status,
                       int(doc["first_step"]), int(doc["last_step"]), int(doc.get("tries", 0)),
                       tuple(str(a) for a in doc.get("attempts") or ())[-MAX_IDS:],
                       str(doc.get("why", ""))[:MAX_WHY_CHARS],
                       lane if isinstance(lane, int) else None,
                       tuple(int(s) for s in doc.get("learned") or ()),
                       changes.tags(str(doc.get("change") or "")))
        except (KeyError, TypeError, ValueError):
            return None

    def line(self) -> str:
        """One line of the brief."""
        steps = (f"step {self.first_step}" if self.first_step == self.last_step
                 else f"steps {self.first_step}-{self.last_step}")
        tries = f" x{self.tries}" if self.tries > 1 else ""
        ids = f" ({', '.join(self.attempts[-2:])})" if self.attempts else ""
        why = f": {self.why}" if self.why else ""
        return f"[{self.status}{tries}, {steps}] {self.compared()}{ids}{why}"


def tokens(text: str) -> list[str]:
    """The words of ``text`` that say what a candidate computes, in order, repeats kept."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP]


def words(text: str) -> frozenset[str]:
    return frozenset(tokens(text))


def likeness(a: str, b: str) -> float:
    """The share of words two ideas have in common (Jaccard), 0 to 1."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def stored(memory: dict[str, Any]) -> list[Direction]:
    """The ledger in the operator's memory; an entry that does not read is left out."""
    found = (Direction.from_doc(d) for d in memory.get("ledger") or [])
    return [d for d in found if d is not None]


def _match(ledger: list[Direction], idea: str) -> int | None:
    scored = [(repeats.likeness(d.compared(), idea), i) for i, d in enumerate(ledger)]
    best = max(scored, default=(0.0, -1))
    return best[1] if best[0] >= repeats.SAME else None


def repeated(ledger: list[Direction], idea: str) -> list[Direction]:
    """The failed directions (no gain measured, or called exhausted by the supervisor) that
    ``idea`` repeats, most alike first."""
    scored = sorted(((repeats.likeness(d.compared(), idea), -i, d) for i, d in enumerate(ledger)
                     if d.status == "failed"), key=lambda t: (t[0], t[1]), reverse=True)
    return [d for score, _, d in scored if score >= repeats.SAME]


def _reason(attempt: Attempt) -> str:
    return f"{attempt.id} {attempt.outcome}: {attempt.detail}"


def _status(old: Status | None, attempt: Attempt, committed: bool) -> Status:
    """A direction's state follows what was measured of it: worked once committed; failed
    when its latest measurement gave nothing; tried when it left the idea open. An attempt
    that measured nothing (a twin of a known kernel, a compile error, a wrong result) leaves
    the state as it was: it says nothing of the idea's speed."""
    if committed or attempt.outcome == Outcome.COMMITTED or old == "worked":
        return "worked"
    if attempt.outcome in NO_GAIN:
        return "failed"
    if attempt.outcome in OPEN or old is None or old == "pending":
        return "tried"
    return old


def record_step(
    ledger: list[Direction], tried: Iterable[tuple[str, Attempt]], *, step: int, lesson: str,
    committed: str | None = None, pending: Iterable[str] = (), lane: int | None = None,
) -> list[Direction]:
    """The ledger after a step that evaluated ``tried`` ((idea, attempt) pairs, in order),
    committed the attempt ``committed`` (if any), learned ``lesson`` and proposed ``pending``."""
    ledger = list(ledger)
    for idea, attempt in tried:
        idea = " ".join(idea.split())
        if not idea or idea.startswith("("):  # "(evaluated by commit)": no idea of its own
            continue
        found = _match(ledger, idea)
        old = ledger[found] if found is not None else None
        worked = committed is not None and attempt.id == committed
        why = report.clip(_reason(attempt) + (f"; lesson: {lesson}" if lesson else ""),
                          MAX_WHY_CHARS)
        learned = old.learned if old else ()
        if lesson and step not in learned:
            learned = (*learned, step)
        new = Direction(
            old.idea if old else report.clip(changes.untagged(idea), MAX_IDEA_CHARS),
            _status(old.status if old else None, attempt, worked),
            old.first_step if old and old.status != "pending" else step, step,
            (old.tries if old else 0) + 1,
            ((*old.attempts, attempt.id) if old else (attempt.id,))[-MAX_IDS:], why,
            lane if old is None else old.lane, learned,
            old.change if old else changes.tags(idea))
        if found is not None:
            del ledger[found]
        ledger.append(new)  # the newest last
    for idea in pending:
        idea = " ".join(idea.split())
        if idea and _match(ledger, idea) is None:
            ledger.append(Direction(report.clip(idea, MAX_IDEA_CHARS), "pending", step, step,
                                    lane=lane))
    return ledger[-LEDGER_KEPT:]


def supervised(ledger: list[Direction], exhausted: Iterable[str], to_try: Iterable[str], *,
               step: int) -> list[Direction]:
    """The ledger after the supervisor's review: each direction it calls exhausted is failed
    (the matching one, or a new entry), with its reason; each it proposes is pending."""
    ledger = list(ledger)
    for line in exhausted:
        idea, _, why = line.partition(":")
        found = _match(ledger, idea) if idea.strip() else None
        reason = report.clip(f"the supervisor: {why.strip() or 'exhausted'}", MAX_WHY_CHARS)
        if found is None:
            ledger.append(Direction(report.clip(" ".join(idea.split()), MAX_IDEA_CHARS),
                                    "failed", step, step, why=reason))
        else:
            old = ledger[found]
            ledger[found] = Direction(old.idea, "failed", old.first_step, old.last_step,
                                      old.tries, old.attempts, reason, old.lane, old.learned,
                                      old.change)
    return record_step(ledger, (), step=step, lesson="", pending=to_try)


def near(a: str, b: str) -> float:
    """How close two ideas are, by shared words or by meaning (repeats.py), 0 to 1."""
    return max(likeness(a, b), repeats.likeness(a, b))


def closest(ledger: list[Direction], idea: str, count: int = 3) -> list[Direction]:
    """The directions most like ``idea``, most alike first (none under CLOSE)."""
    scored = sorted(((near(d.compared(), idea), -i, d) for i, d in enumerate(ledger)),
                    key=lambda t: (t[0], t[1]), reverse=True)
    return [d for score, _, d in scored[:count] if score >= CLOSE]


MAX_CURRENT_CHARS = 240


def current(memory: dict[str, Any]) -> dict[int, str]:
    """{lane: what it evaluated last}, in a run of several lanes (``set_current``)."""
    found = memory.get("current")
    if not isinstance(found, dict):
        return {}
    return {int(k): report.clip(v, MAX_CURRENT_CHARS) for k, v in found.items()
            if isinstance(k, str) and k.isdigit() and isinstance(v, str)}


def set_current(memory: dict[str, Any], lane: int, idea: str) -> dict[str, Any]:
    """The memory change that says what ``lane`` evaluates now."""
    return {"current": {**{str(k): v for k, v in current(memory).items()},
                        str(lane): report.clip(idea, MAX_CURRENT_CHARS)}}


TAGS_SHOWN = 12  # stated changes the brief shows, the newest


def stated_tags(ledger: list[Direction]) -> list[str]:
    """The changes the agent stated in the ledger's directions (not the diff's knobs), each
    once, the newest first: the words the brief asks it to reuse."""
    found: list[str] = []
    for direction in reversed(ledger):
        for change in sorted(changes.read(direction.change) or ()):
            tag = change.tag()
            if change.technique not in changes.DIFF_TECHNIQUES and tag not in found:
                found.append(tag)
    return found[:TAGS_SHOWN]


def counts(ledger: list[Direction]) -> str:
    found = {s: sum(d.status == s for d in ledger) for s in STATUSES}
    return ", ".join(f"{n} {s}" for s, n in found.items() if n) or "empty"


def lines(ledger: list[Direction], limit: int) -> str:
    """The ledger within ``limit`` characters: every worked and pending direction first, then
    the tried and failed ones, newest first; what does not fit is counted."""
    if not ledger:
        return ""
    order = sorted(range(len(ledger)),
                   key=lambda i: (STATUSES.index(ledger[i].status), -ledger[i].last_step, -i))
    shown = report.fitting([("- " + report.clip(ledger[i].line(), 240),) for i in order], limit,
                           "({} more directions left out for space; search_history finds "
                           "every one)")
    return "\n".join(shown)

