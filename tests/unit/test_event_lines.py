"""Event lines: the fast plain-text path must read exactly as Rich's markup parser would."""

from __future__ import annotations

import pytest
from rich.text import Text

from avo_tui.store import Event
from avo_tui.views.events import event_line, plain

AWKWARD = r"a[i] = b[j]; [bold]not markup[/bold] \ [/] C:\path\ [dim]"
EVENTS = [
    Event(1, 0.0, "plan", {"text": AWKWARD}),
    Event(2, 0.0, "attempt", {"attempt": "a1", "outcome": "incorrect", "detail": AWKWARD}),
    Event(3, 0.0, "attempt", {"attempt": "a2", "outcome": "committed", "detail": "ok"}),
    Event(4, 0.0, "commit", {"version": "v1", "parent": "v0", "author": "agent",
                             "gmean": 612.5, "message": AWKWARD}),
    Event(5, 0.0, "step", {"step": 3, "summary": AWKWARD, "cost_usd": 0.5, "tokens": 12000}),
    Event(6, 0.0, "tool_call", {"tool": "evaluate", "input": AWKWARD, "result": AWKWARD,
                                "error": True}),
    Event(7, 0.0, "hint", {"action": "received", "text": AWKWARD, "note": AWKWARD}),
    Event(8, 0.0, "supervisor", {"reason": AWKWARD, "action": "redirect",
                                 "proposals": AWKWARD}),
    Event(9, 0.0, "pause", {"reason": AWKWARD}),
    Event(10, 0.0, "rollback", {"from": "v3", "to": "v1"}),
    Event(11, 0.0, "error", {"message": AWKWARD}),
    Event(12, 0.0, "status", {"status": "stopped", "reason": AWKWARD}),
    Event(13, 0.0, "attempt", {"attempt": "a3", "outcome": "suspect", "detail": AWKWARD}),
    Event(14, 0.0, "suspect", {"action": "held", "attempt": "a3", "base": "v0",
                               "author": "tuner", "gmean": 9.5, "unit": "GFLOP/s",
                               "flags": [AWKWARD, AWKWARD]}),
    Event(15, 0.0, "suspect", {"action": "approved", "attempt": "a3", "version": "v2"}),
    Event(16, 0.0, "suspect", {"action": "rejected", "attempt": "a3", "reason": AWKWARD}),
    Event(17, 0.0, "step", {"step": 4, "summary": AWKWARD, "failed": True}),
    Event(18, 0.0, "step_resumed", {"turn": 3, "message": AWKWARD}),
    Event(23, 0.0, "rescore", {"version": "v1", "how": "measured", "was": 1172.0, "now": 101.5,
                               "unit": "GFLOP/s", "beside": "v0", "gain": AWKWARD,
                               "reason": AWKWARD}),
    Event(24, 0.0, "rescore", {"version": "v2", "how": "followed", "was": 1190.0,
                               "now": 103.1, "beside": AWKWARD}),
    Event(25, 0.0, "flagged", {"version": "v3", "anchor": AWKWARD, "recorded": 1.1,
                               "measured": 0.55, "allowed_pct": 2.5, "attempt": "a12"}),
    # what does not read: a generic line, whatever the kind and the data hold
    Event(19, 0.0, "plan", {"txt": AWKWARD}),
    Event(20, 0.0, "commit", {"version": AWKWARD, "gmean": AWKWARD}),
    Event(21, 0.0, AWKWARD, {"n": 1}),
    Event(22, 0.0, "error", [AWKWARD]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("event", EVENTS, ids=[e.kind for e in EVENTS])
def test_plain_reads_as_the_markup_parser_reads(event: Event) -> None:
    markup = event_line(event, "TFLOP/s")
    assert markup is not None
    assert plain(markup) == Text.from_markup(markup).plain


def test_an_event_that_does_not_read_is_one_generic_line() -> None:
    assert event_line(Event(1, 0.0, "plan", {"txt": "x"}), "TFLOP/s") == (
        "[dim]plan     (unreadable event: PlanPayload: no 'text')[/]")
    line = event_line(Event(2, 0.0, "status", {"status": 3}), "TFLOP/s")
    assert line == "[dim]status   (unreadable event: StatusPayload: 'status': 3 is not str)[/]"
    line = event_line(Event(3, 0.0, "lane_started", {"lane": 2}), "TFLOP/s")
    assert line == "[dim]lane_started (unreadable event: a kind this avo does not know)[/]"


def test_events_of_no_interest_have_no_line() -> None:
    assert event_line(Event(1, 0.0, "benchmark", {}), "TFLOP/s") is None
    assert event_line(Event(2, 0.0, "status", {"status": "running"}), "TFLOP/s") is None
