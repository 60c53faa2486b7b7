"""A search over the whole history of a session, for the agent's ``search_history`` tool.

The journal is the source, so nothing is out of reach for its age: every step's research
record (its lesson, the ideas it evaluated and their outcomes, the measured change, the running
summary the debrief rewrote, the notes kept in the step), every attempt (idea, outcome, reason)
and the ledger of directions, each direction with every lesson learned under it. The brief
shows the newest of each; this finds the rest.

Ranking is by the query's words an entry holds, each weighed by its rarity across the history
(an idea's own mark, "BLOCK_N 176", outweighs the words every idea shares), then by BM25 among
entries that hold the same ones (a long text does not win by its length), newer entries first
among equals. A hit shows
its lesson whole, with its step, the version it started from and the measured effect.

The index (:class:`HistoryIndex`) lives as long as the operator and reads only what the
journal added since its last search (events after the last sequence number it read, attempts
after the last id), so a search costs about the same at step 20 and at step 2,000
(benchmarks/history_search.py).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...store import ResearchPayload, StoreError, base_label
from ...store.view import SessionView
from . import ledger, report
from .notes import stored_notes

# What one search returns, at most: within a turn's tool output (settings.max_tool_output,
# 16,000) with room to spare, as a turn may make several calls.
MAX_RESULT_CHARS = 8_000
ATTEMPT_CHARS = 500  # an attempt's hit: its idea and reason
TRIED_CHARS = 900  # a record's ideas, after its whole lesson
SUMMARY_CHARS = 1_500  # a running summary's hit (it is rewritten each step: the whole is long)
LEFT_OUT_CHARS = 100  # room for the line that counts the matches left out
EVENTS_READ = 5_000  # events read from the journal at a time
K1, B = 1.2, 0.75  # BM25's usual constants


@dataclass(frozen=True)
class Entry:
    """One searchable text and what a hit shows of it; an attempt's hit also shows the step
    that evaluated it and that step's lesson, once its record is in the journal."""

    shown: str
    step: int | None = None
    attempt: str | None = None


class HistoryIndex:
    """The words of every entry of the history, kept up to date from the journal."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._reset()

    def _reset(self) -> None:
        self.entries: list[Entry] = []
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)  # word: (id, tf)
        self._lengths: list[int] = []
        self._seq = 0
        self._attempts = 0
        self.step_of: dict[str, int] = {}  # attempt id: the step that evaluated it
        self.lessons: dict[int, list[str]] = defaultdict(list)  # step: its lessons, shown
        self._ledger: dict[object, tuple[Entry, Counter[str], int]] = {}  # a direction's
        self._journaled: set[str] = set()  # the notes the journal's records hold

    def refresh(self, session: SessionView) -> None:
        """Read what the journal added since the last look (all of it, the first time)."""
        if self._directory != session.directory:
            self._directory = session.directory
            self._reset()
        while True:
            records, seq = session.payloads_of(ResearchPayload, self._seq, EVENTS_READ)
            for record in records:
                self._add_record(record)
            if seq - self._seq < EVENTS_READ:
                self._seq = seq
                break
            self._seq = seq
        count = session.attempt_count
        for number in range(self._attempts + 1, count + 1):
            try:
                attempt = session.attempt(f"a{number}")
            except StoreError:  # a damaged record hides nothing else
                continue
            text = (f"{attempt.id} from {base_label(attempt.base)} {attempt.outcome}: "
                    + (f"idea: {attempt.idea} | " if attempt.idea else "") + attempt.detail)
            self._add(Entry(report.clip(text, ATTEMPT_CHARS), attempt=attempt.id), text)
        self._attempts = count

    def _add_record(self, record: ResearchPayload) -> None:
        if record.action != "record":
            return
        step, lane = record.step, f" (lane {record.lane})" if record.lane else ""
        for idea in record.ideas:  # "a12 slower: the idea"
            self.step_of.setdefault(idea.split(" ", 1)[0], step)
        base = base_label(record.base)
        head = f"step {step}{lane} from {base}: {record.outcome}"
        measured = record.change or "nothing timed against its base"
        lines = [head]
        if record.lesson:
            lines.append(f"  lesson: {record.lesson}")
            self.lessons[step].append(f"step {step} from {base}: {record.lesson} "
                                      f"(measured: {measured})")
        elif record.final:
            lines.append(f"  last words: {record.final}")
        lines.append(f"  measured: {measured}")
        if record.ideas:
            lines.append(report.clip("  tried " + "; ".join(record.ideas), TRIED_CHARS))
        self._add(Entry("\n".join(lines), step),
                  " ".join([head, record.lesson, record.final, record.change, *record.ideas]))
        if record.summary:
            self._add(Entry(report.clip(f"step {step}{lane} summary: {record.summary}",
                                        SUMMARY_CHARS), step), record.summary)
        for note in record.notes:
            self._add(Entry(f"step {step}{lane} note: {note}", step), note)
            self._journaled.add(note)

    def _add(self, entry: Entry, text: str) -> None:
        number = len(self.entries)
        self.entries.append(entry)
        counts = Counter(ledger.tokens(text))
        self._lengths.append(sum(counts.values()))
        for word, tf in counts.items():
            self._postings[word].append((number, tf))

    def search(self, session: SessionView, memory: dict[str, Any], query: str,
               limit: int) -> list[str]:
        """The ``limit`` entries that best match ``query``, best first: the journal's, the
        ledger's directions (each with every lesson learned under it) and the notes kept in
        ``memory`` that no record holds yet."""
        self.refresh(session)
        wanted = set(ledger.tokens(query))
        if not wanted:
            return []
        # The memory's own: the ledger, and the notes of a step whose record is still to come.
        extra = self._directions(memory) + [
            (Entry(f"note (in memory, in no step's record yet): {note}"), counts,
             sum(counts.values()))
            for note in stored_notes(memory) if note not in self._journaled
            for counts in [Counter(ledger.tokens(note))]]
        total = len(self.entries) + len(extra)
        lengths = self._lengths + [length for _, _, length in extra]
        average = sum(lengths) / total if total else 1.0
        matched: dict[int, float] = defaultdict(float)  # the idf of each query word it has
        scores: dict[int, float] = defaultdict(float)  # BM25, among entries matched alike
        for word in wanted:
            postings = list(self._postings.get(word, ()))
            postings += [(len(self.entries) + i, counts[word])
                         for i, (_, counts, _) in enumerate(extra) if word in counts]
            if not postings:
                continue
            idf = math.log(1 + (total - len(postings) + 0.5) / (len(postings) + 0.5))
            for number, tf in postings:
                norm = tf + K1 * (1 - B + B * lengths[number] / average)
                matched[number] += idf
                scores[number] += idf * tf * (K1 + 1) / norm
        ranked = heapq.nlargest(limit, scores, key=lambda n: (round(matched[n], 6), scores[n], n))
        return [self._shown(self.entries[n]) if n < len(self.entries)
                else extra[n - len(self.entries)][0].shown for n in ranked]

    def _shown(self, entry: Entry) -> str:
        if entry.attempt is None:
            return entry.shown
        step = self.step_of.get(entry.attempt)
        if step is None:
            return f"attempt {entry.shown}"
        return f"attempt {entry.shown}\n  evaluated in step {step}" + "".join(
            f"\n  lesson at {lesson}" for lesson in self.lessons.get(step, ()))

    def _directions(self, memory: dict[str, Any]) -> list[tuple[Entry, Counter[str], int]]:
        """The ledger's directions as entries, each with every lesson learned under it (from
        the journal), their words counted; a direction unchanged since the last search is not
        read again (a week's ledger holds thousands)."""
        found = []
        cache: dict[object, tuple[Entry, Counter[str], int]] = {}
        for doc in memory.get("ledger") or []:
            if not isinstance(doc, dict):
                continue
            key = (doc.get("idea"), doc.get("status"), doc.get("last_step"), doc.get("tries"),
                   doc.get("why"), str(doc.get("learned")))
            entry = self._ledger.get(key)
            if entry is None:
                direction = ledger.Direction.from_doc(doc)
                if direction is None:
                    continue
                lessons = [lesson for step in direction.learned
                           for lesson in self.lessons.get(step, ())]
                shown = f"direction {direction.line()}" + "".join(
                    f"\n  lesson at {lesson}" for lesson in lessons)
                counts = Counter(ledger.tokens(f"{direction.idea} {direction.why}"))
                entry = (Entry(shown, direction.last_step), counts, sum(counts.values()))
            cache[key] = entry
            found.append(entry)
        self._ledger = cache
        return found


def answer(hits: list[str], query: str) -> str:
    """The tool's text: the hits, best first, as many as fit MAX_RESULT_CHARS (the first
    always, its lesson whole), then how many more matched."""
    if not hits:
        return f"nothing in the history matches {query!r}"
    shown: list[str] = []
    size = 0
    for hit in hits:
        hit = report.clip(hit, MAX_RESULT_CHARS - LEFT_OUT_CHARS)
        if shown and size + len(hit) + 2 > MAX_RESULT_CHARS - LEFT_OUT_CHARS:
            break
        shown.append(hit)
        size += len(hit) + 2
    left = len(hits) - len(shown)
    if left:
        shown.append(f"({left} more matches left out for space: ask for fewer or narrow the "
                     "query)")
    return "\n\n".join(shown)
