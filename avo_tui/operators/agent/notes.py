"""The agent's notes, kept across steps in the operator's memory (persisted in the session
state on every note, shown in every brief as far as they fit, and searched by search_history):
the newest NOTES_KEPT, and fewer while they exceed MAX_NOTES_CHARS."""

from __future__ import annotations

from typing import Any

from . import report

MAX_NOTE_CHARS = 2_000
NOTES_KEPT = 40
MAX_NOTES_CHARS = 24_000


def stored_notes(memory: dict[str, Any]) -> list[str]:
    """The notes in the operator's memory, each cut to MAX_NOTE_CHARS: a session written
    before the limits, or damaged, may hold anything under ``notes``."""
    notes = memory.get("notes")
    if not isinstance(notes, list):
        return []
    return [report.clip(n, MAX_NOTE_CHARS) for n in notes if isinstance(n, str)]


def kept_notes(notes: list[str]) -> list[str]:
    """The newest NOTES_KEPT notes, then the oldest dropped while together they pass
    MAX_NOTES_CHARS; the newest is always kept."""
    kept = notes[-NOTES_KEPT:]
    while len(kept) > 1 and sum(map(len, kept)) > MAX_NOTES_CHARS:
        kept = kept[1:]
    return kept
