"""A search over the whole history of a session, for the agent's ``search_history`` tool: the
ledger of directions (every idea tried), the attempts (idea, outcome, reason), the research
records kept in memory, and the notes. The brief shows the newest of each; this finds the rest.

Ranking is by shared words (ledger.words), the rarer words across the history counting more,
newer entries first among equals. The attempts searched are the newest MAX_ATTEMPTS, so one
search costs the same in a session of a million attempts.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ...store.view import SessionView
from . import ledger, report, research
from .notes import stored_notes

MAX_ATTEMPTS = 5_000
HIT_CHARS = 300


def entries(session: SessionView, memory: dict[str, Any]) -> list[str]:
    """Everything searched, one text each, oldest first within each kind."""
    found = [f"direction {d.line()}" for d in ledger.stored(memory)]
    found += [f"research {research.record_line(r)}" for r in research.stored_records(memory)]
    found += [f"note: {n}" for n in stored_notes(memory)]
    found += [f"attempt {a.id} from {a.base} {a.outcome}: "
              + (f"idea: {a.idea} | " if a.idea else "") + a.detail
              for a in reversed(session.recent_attempts(MAX_ATTEMPTS))]
    return found


def search(session: SessionView, memory: dict[str, Any], query: str, limit: int) -> list[str]:
    """The ``limit`` entries that best match ``query``, best first, each cut to HIT_CHARS."""
    wanted = ledger.words(query)
    if not wanted:
        return []
    texts = entries(session, memory)
    bags = [ledger.words(t) for t in texts]
    frequency = Counter(w for bag in bags for w in bag & wanted)
    weight = {w: math.log(1 + len(texts) / (1 + frequency[w])) for w in wanted}
    scored = [(sum(weight[w] for w in bag & wanted), i) for i, bag in enumerate(bags)]
    best = sorted((s for s in scored if s[0] > 0), reverse=True)[:limit]
    return [report.clip(texts[i], HIT_CHARS) for _, i in best]
