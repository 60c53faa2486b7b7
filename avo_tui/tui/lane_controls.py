"""Which lanes the controls act on, in a run of several lanes: every lane (None) or one, and
how the app says so. With one lane the controls act on it, and the app says nothing of lanes."""

from __future__ import annotations


def next_lane(lane: int | None, count: int) -> int | None:
    """The selection after ``lane`` (key l): every lane, lane 1, 2 ... ``count``, every lane."""
    if count < 2:
        return None
    if lane is None:
        return 1
    return lane + 1 if lane < count else None


def scope(lane: int | None, count: int) -> str:
    """``lane 2`` or ``every lane`` (``the run`` with one lane)."""
    if lane is not None:
        return f"lane {lane}"
    return "every lane" if count > 1 else "the run"


def lane_choice(lane: int | None, count: int) -> str:
    """What a notification or a dialog adds to say which lanes it is for: `` for lane 2``,
    `` for every lane``, or nothing with one lane."""
    return f" for {scope(lane, count)}" if count > 1 or lane is not None else ""
