"""What a dead or interrupted run left in flight, recorded once as ``interrupted`` attempts.

Before an evaluation starts, the candidate is saved as its lane's ``in_flight``; if the process
dies during the evaluation, the next run records it here.
"""

from __future__ import annotations

import dataclasses

from ..store import Outcome
from .books import RunBooks
from .lanes import label_of


def recover_in_flight(books: RunBooks, why: str) -> None:
    """Record what a dead or interrupted run left unfinished, once: every lane's candidate
    in flight, this run's lanes' and those of lanes it does not run."""
    state = books.session.run_state
    pending = sorted((int(k), entry.in_flight) for k, entry in state.lanes.items()
                     if k.isdigit() and entry.in_flight)
    if not pending:
        return
    several = books.several or any(number > 1 for number in map(int, state.lanes))
    recent = books.session.recent_attempts(2 * len(pending))
    for number, flight in pending:
        assert flight is not None
        label = label_of(number, several)
        files = {name: books.session.blobs.get_text(h) for name, h in flight.files.items()}
        already = any(a.files == dict(flight.files) and a.created >= flight.started
                      and a.lane == label for a in recent)
        if not already:
            books.session.record_attempt(files, lane=label, base=flight.base,
                                         author=flight.author, outcome=Outcome.INTERRUPTED,
                                         detail=why)
    for lane in books.lanes:
        lane.in_flight = None
    books.idle_lanes = {k: dataclasses.replace(v, in_flight=None)
                        for k, v in books.idle_lanes.items()}
    books.save_lanes()
    books.publish()
