"""A view that cannot change the run (``avo attach --read-only``, ``avo serve --read-only``):
for a colleague, a phone, a screen on the wall. Every key that steers is gone from it: not
shown in the footer, the help or the command palette, and refused if called (Textual asks
``check_action`` before any action runs, from a key or from the palette). What is left
browses: the lineage, diffs, details, attempts, scores, the log. ``q`` only leaves."""

from __future__ import annotations

# The actions that send a command to the run, start it, or write a session (controls.py).
STEERING = frozenset({
    "pause", "hint", "guidance", "stop", "lane", "rollback", "restart", "fork", "edit",
    "suspects",
})
