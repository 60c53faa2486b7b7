"""A promising candidate a step leaves ungated, carried to its lane's next step.

Nothing promising is dropped (issue 72). Where a bound or a fault ends a step, its best
ungated promising reading goes to the gate (Toolbox.gate_left_over). Where the agent ends
its turn without committing one it evaluated, or the operator stops the run, gating it there
is wrong: a first reading flattered by noise would become a version that no one chose (a
200-step run gated its noise into versions). So it is carried instead (StepResult.carry): the
next step's workspace starts from its files, not the best's, and the brief says so (its
attempt, its reading, that the gate never judged it, and what the agent may do with it). A
stop keeps it in the run state for when the session runs again; a rollback, a hand edit or an
approval drops it (the engine's Control: the operator's choice wins). It is carried once:
the step given it commits it, or a bound takes it to the gate with the step's own, or a stop
keeps it again; a step the agent ends without committing it drops it (the agent saw it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...store import Attempt, Version
from ...store.merge import merge_files
from ...store.view import SessionView
from ..protocol import LineageContext
from . import report

DETAIL_CHARS = 300  # of the carried reading's detail, in the brief
# How the engine words the gate's record of a first reading (engine/trials.py): the store keeps
# no field for which attempt a re-evaluation judged, so the words are the record.
_JUDGED = re.compile(r"\bre-evaluation of (a\d+)\b")


@dataclass(frozen=True)
class Carried:
    """The candidate a step starts from: its attempt and the files the workspace holds."""

    attempt: Attempt
    files: dict[str, str]
    onto: str | None = None  # the version it was merged onto, where built on another
    conflicts: tuple[str, ...] = ()  # files left as ``onto`` has them (both changed them)


def carried_start(ctx: LineageContext, head: Version) -> Carried | None:
    """What the lane's last step left for this one to start from, on ``head``; None: none."""
    attempt = ctx.carried()
    if attempt is None:
        return None
    session = ctx.session
    files = {name: session.blobs.get_text(digest) for name, digest in attempt.files.items()}
    if attempt.base == head.id:
        return Carried(attempt, files)
    # Another lane's commit moved the lane's starting version: the change goes onto it.
    old = session.read_files(attempt.base) if attempt.base else {}
    merged = merge_files(old, files, session.read_files(head))
    return Carried(attempt, merged.files, head.id, tuple(merged.conflicts))


def opening(carried: Carried, head: Version) -> str:
    """The brief's first lines for a step that starts from ``carried``."""
    attempt = carried.attempt
    where = f"built on {head.id} (the head)"
    if carried.onto:
        where = (f"built on {attempt.base or 'no version'} and carried onto {head.id} (the "
                 "head) by a three-way merge")
        if carried.conflicts:
            where += (f", except in {', '.join(carried.conflicts)}, where {head.id} changed "
                      f"the same lines: those files are {head.id}'s")
    return (
        f"The workspace holds {attempt.id}, a candidate the last step left uncommitted, "
        f"{where}. Its first reading was {attempt.outcome}: "
        f"{report.clip(attempt.detail, DETAIL_CHARS)}. The gate never judged it. It is your "
        f"starting point: evaluate it (its reading stands; it is not timed again) and commit "
        f"it if it holds, the gate re-evaluating it beside the best; or drop it (view "
        f"{head.id} with show_version and write its files back) and work from {head.id}. "
        "Left uncommitted at the end of this step, it is dropped.")


def judged_since(session: SessionView, first: int) -> set[str]:
    """The attempts from ``a<first>`` on that the gate has re-evaluated (its records since)."""
    count = session.attempt_count
    recent = session.recent_attempts(count - first + 1) if count >= first else []
    return {found.group(1) for a in recent if (found := _JUDGED.search(a.detail))}
