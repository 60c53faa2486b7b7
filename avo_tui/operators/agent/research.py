"""The research log the harness keeps, so what one step learns reaches the next.

A step starts without the last one's conversation. What carries over is kept here, by the
harness rather than left to the agent's discipline (a commit ends a step at once, so an agent
told to note before it stops rarely does after a success):

- a **record** per step: the ideas it evaluated and their outcomes, the size of its final
  change, the change per shape of its best candidate, the outcome, the agent's last words and
  the lesson it states when asked (the debrief). Each is a ``research`` event (the whole
  history, for people) and, the newest RECORDS_KEPT of them, in the operator's memory (for
  the brief, whose cost must not grow with the session);
- a **running summary** of what worked, what failed and why: the agent rewrites it at each
  step's end (the debrief), the harness keeps it within MAX_SUMMARY_CHARS;
- the supervisor's **directions**, which stand until the agent says they are done or a new
  review replaces them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...store import (
    Attempt,
    Outcome,
    PayloadError,
    ResearchPayload,
    Score,
    StoreError,
    base_label,
    diff_files,
)
from ...store.view import SessionView
from . import changes, report

RECORDS_KEPT = 30
MAX_SUMMARY_CHARS = 6_000
MAX_LESSON_CHARS = 600
MAX_FINAL_CHARS = 600
MAX_IDEA_CHARS = 200
MAX_IDEAS = 12  # in one record: a step rarely evaluates more, and the brief has no room
WHOLE_RECORDS = 3  # the newest records the brief shows whole; older ones take a line each
LINE_CHARS = 240  # of a record in a line
MAX_NEXT = 5  # directions to try next, from one debrief

DEBRIEF = """\
The step has ended: {outcome}. Before the next step starts without this conversation, \
answer in text only (no tools), in this form:

<lesson>One to three sentences: what this step tried, what the measurements said, and why \
(a cause, not just a number).</lesson>
<summary>The running summary of the whole search, rewritten: what worked, what failed and \
why, what is left to try, most useful first. Keep what still holds from the summary in your \
brief, drop what this step disproved. At most {words} words.</summary>
<next>The directions you would try next, one per line, a few words each (at most {next}); \
the harness keeps them in the ledger of directions as pending.</next>
{directions}"""
DIRECTIONS_QUESTION = (
    "<directions>done</directions> if the supervisor's directions in your brief are carried "
    "out or shown not to pay; <directions>open</directions> if they still stand."
)
_TAG = r"<{0}>(.*?)(?:</{0}>|$)"


@dataclass
class StepLog:
    """What the harness sees of a step as it goes: every evaluation and its idea. It is saved
    with the conversation (``to_doc``), so a step resumed after a crash keeps what it tried."""

    base: str | None  # None: the step began with no version (it writes v0)
    tried: list[tuple[str, Attempt]] = field(default_factory=list)  # (idea, attempt)

    def add(self, idea: str, attempt: Attempt) -> None:
        self.tried.append((idea, attempt))

    def best(self) -> Attempt | None:
        """The fastest candidate timed on the full grid, if any (one that was not timed, such
        as a twin of a kernel judged before, has no speed to compare)."""
        scored = [a for _, a in self.tried if a.score is not None and a.score.gmean > 0
                  and a.outcome not in (Outcome.CHECKED, Outcome.UNCHANGED)]
        return max(scored, key=lambda a: a.score.gmean if a.score else 0.0, default=None)

    def twins_of(self) -> tuple[str, ...]:
        """What every candidate of the step was a twin of (engine/twins.py: a version or an
        earlier attempt, named and never timed), in order; () unless all of them were."""
        named = [_twin_label(a) for _, a in self.tried]
        if not named or None in named:
            return ()
        return tuple(dict.fromkeys(n for n in named if n))

    def ideas(self) -> tuple[str, ...]:
        lines = [f"{a.id} {a.outcome}: {report.clip(changes.untagged(idea), MAX_IDEA_CHARS)}"
                 for idea, a in self.tried]
        if len(lines) > MAX_IDEAS:
            lines = [*lines[:MAX_IDEAS - 1], f"... and {len(lines) - MAX_IDEAS + 1} more"]
        return tuple(lines)

    def to_doc(self) -> list[list[str]]:
        return [[idea, attempt.id] for idea, attempt in self.tried]

    @classmethod
    def from_doc(cls, base: str | None, doc: object, session: SessionView) -> StepLog:
        """The log a saved conversation kept; an entry that does not read is left out."""
        log = cls(base)
        for entry in doc if isinstance(doc, list) else []:
            if isinstance(entry, list) and len(entry) == 2 and all(
                    isinstance(e, str) for e in entry):
                try:
                    log.add(entry[0], session.attempt(entry[1]))
                except StoreError:
                    continue
        return log


# How the engine words a twin's record (engine/twins.py Twin.words, engine/trials.py): the
# store keeps no field for it, so the words are the record. tests/functional/test_twins.py
# reads them.
_TWIN = re.compile(r"(?:identical to|compiles to the same kernel as the best,) (v\d+|a\d+)\b")


def _twin_label(attempt: Attempt) -> str | None:
    """The version or attempt an untimed twin ``attempt`` repeats; None for any other."""
    if attempt.outcome != Outcome.UNCHANGED:
        return None
    found = _TWIN.match(attempt.detail)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Debrief:
    lesson: str
    summary: str | None  # None: the reply gave none, the old one stands
    directions_done: bool
    pending: tuple[str, ...] = ()  # directions to try next


def debrief_prompt(outcome: str, *, directions: bool) -> str:
    return DEBRIEF.format(outcome=outcome, words=MAX_SUMMARY_CHARS // 8, next=MAX_NEXT,
                          directions=DIRECTIONS_QUESTION if directions else "").rstrip()


def parse_debrief(text: str) -> Debrief:
    """Read the debrief leniently: a reply without the tags is the lesson."""
    lesson = _tagged("lesson", text)
    summary = _tagged("summary", text)
    directions = (_tagged("directions", text) or "").strip().lower()
    following = [_MARKER.sub("", line).strip()
                 for line in (_tagged("next", text) or "").splitlines()]
    if lesson is None and summary is None:
        lesson = text
    return Debrief(
        lesson=report.clip((lesson or "").strip(), MAX_LESSON_CHARS),
        summary=report.clip(summary.strip(), MAX_SUMMARY_CHARS) if summary else None,
        directions_done=directions.startswith("done"),
        pending=tuple(report.clip(n, MAX_IDEA_CHARS) for n in following if n)[:MAX_NEXT],
    )


def _tagged(tag: str, text: str) -> str | None:
    found = re.search(_TAG.format(tag), text, re.DOTALL)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Review:
    """The supervisor's answer, as the harness reads it: the directions exhausted (each with
    why), those to try (most promising first), and a version to back off to."""

    exhausted: tuple[str, ...] = ()
    to_try: tuple[str, ...] = ()
    back_off: str = ""
    text: str = ""  # the whole answer, when it gave none of the tags

    def directions(self) -> str:
        """The directions as the briefs that follow show them."""
        if not (self.exhausted or self.to_try or self.back_off):
            return self.text
        parts = []
        if self.exhausted:
            parts.append("Exhausted (do not try again without a new reason):\n"
                         + "\n".join(f"- {line}" for line in self.exhausted))
        if self.to_try:
            parts.append("Try, most promising first:\n"
                         + "\n".join(f"{n}. {line}" for n, line in enumerate(self.to_try, 1)))
        if self.back_off:
            parts.append(f"Back off to: {self.back_off}")
        return "\n".join(parts)


MAX_REVIEW_ITEMS = 8
_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")  # a list item's bullet or number
MAX_REVIEW_LINE = 400


def parse_review(text: str) -> Review:
    """Read the supervisor's answer leniently: one without the tags is kept as its text."""
    def items(tag: str) -> tuple[str, ...]:
        lines = [_MARKER.sub("", line).strip() for line in (_tagged(tag, text) or "").splitlines()]
        return tuple(report.clip(line, MAX_REVIEW_LINE) for line in lines if line)[
            :MAX_REVIEW_ITEMS]

    back_off = " ".join((_tagged("back_off", text) or "").split())
    if back_off.lower().rstrip(".") in ("none", "no", "-"):
        back_off = ""
    return Review(items("exhausted"), items("try"), report.clip(back_off, MAX_REVIEW_LINE),
                  text.strip())


def verdict_of(review: str) -> str:
    """The reviewer's verdict, from its first word: approve, reject, or unclear."""
    first = review.strip().split(None, 1)[0].strip("*:.").lower() if review.strip() else ""
    return first if first in ("approve", "reject") else "unclear"


def record(
    log: StepLog, *, step: int, outcome: str, files: dict[str, str], base_files: dict[str, str],
    base_score: Score | None, final: str, lesson: str, summary: str = "",
    notes: tuple[str, ...] = (),
) -> ResearchPayload:
    added, removed = lines_changed(base_files, files)
    best = log.best()
    change = ""
    if best is not None and best.score is not None and base_score is not None:
        change = f"{best.id} against {base_label(log.base)}: " + report.shape_change(
            best.score, base_score)
    return ResearchPayload(
        "record", step, log.base, outcome, ideas=log.ideas(), lines_added=added,
        lines_removed=removed, change=change, final=report.clip(final, MAX_FINAL_CHARS),
        lesson=lesson, summary=summary, notes=notes,
    )


HARNESS_LESSON_ATTEMPTS = 3  # the newest attempts a lesson written by the harness names


def harness_lesson(log: StepLog, outcome: str, why: str) -> str:
    """A short lesson written from the step's record, without a request, for a step that
    could not ask for one (``why``: its cost limit ended it, or left no room for the debrief)."""
    newest = log.tried[-HARNESS_LESSON_ATTEMPTS:]
    said = "; ".join(f"{a.id} {a.outcome} ({report.clip(changes.untagged(idea), 80)}): "
                     f"{report.clip(a.detail, 120)}" for idea, a in newest)
    earlier = len(log.tried) - len(newest)
    if earlier:
        said = f"{earlier} earlier attempt(s), then {said}"
    text = f"[from the record, {why}] {report.clip(outcome, 160)}" + (
        f". Tried {said}" if said else "")
    return report.clip(text, MAX_LESSON_CHARS)


def lines_changed(old: dict[str, str], new: dict[str, str]) -> tuple[int, int]:
    diff = diff_files(old, new, "base", "step")
    return diff.added, diff.removed


# -- memory -----------------------------------------------------------------------------------

def stored_records(memory: dict[str, Any]) -> list[ResearchPayload]:
    """The records kept in the operator's memory; one that does not read (a damaged session,
    another version's shape) is left out."""
    found = []
    for doc in memory.get("research") or []:
        try:
            found.append(ResearchPayload.from_doc(doc))
        except PayloadError:
            continue
    return found


def kept_records(memory: dict[str, Any], new: ResearchPayload) -> list[dict[str, Any]]:
    return [r.to_doc() for r in [*stored_records(memory), new][-RECORDS_KEPT:]]


def stored_summary(memory: dict[str, Any]) -> str:
    summary = memory.get("summary")
    return report.clip(summary, MAX_SUMMARY_CHARS) if isinstance(summary, str) else ""


def record_whole(entry: ResearchPayload) -> str:
    """One record whole, its lesson first: if the brief must cut it, the lesson survives."""
    size = f"+{entry.lines_added}/-{entry.lines_removed} lines"
    lines = [f"step {entry.step} from {base_label(entry.base)}: {entry.outcome} ({size})"]
    if entry.lesson:
        lines.append(f"  lesson: {entry.lesson}")
    lines += [f"  tried {idea}" for idea in entry.ideas]
    if entry.change:
        lines.append(f"  per shape {entry.change}")
    if entry.final and not entry.lesson:
        lines.append(f"  last words: {entry.final}")
    return "\n".join(lines)


def record_line(entry: ResearchPayload) -> str:
    """One record in a line: the step, its outcome and its lesson (or last words)."""
    said = entry.lesson or entry.final
    return report.clip(f"step {entry.step} from {base_label(entry.base)}: {entry.outcome}"
                       + (f"; {said}" if said else ""), LINE_CHARS)


def records_shown(records: list[ResearchPayload], limit: int) -> str:
    """The research log within ``limit`` characters, newest last: the newest WHOLE_RECORDS
    records whole (lesson first), older ones in a line each, and a count of those left out.
    The newest is always there, cut if it must be (after its lesson)."""
    newest_first = list(reversed(records))
    items = [(record_whole(e), record_line(e)) if age < WHOLE_RECORDS else (record_line(e),)
             for age, e in enumerate(newest_first)]
    if items:  # the newest always shows, its lesson first, cut if it must be
        items[0] = (report.clip(items[0][0], max(0, limit - report.LEFT_OUT_CHARS - 1)),)
    shown = report.fitting(items, limit, "({} older records left out for space; "
                                         "search_history finds them)")
    return "\n".join(reversed(shown))
