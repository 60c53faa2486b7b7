"""Compiler and benchmark output: a bounded live tail; the whole history is the session's
output.log, one key away (the log screen)."""

from __future__ import annotations

from typing import Any

from textual.widgets import Log

LIVE_LINES = 2000


class OutputPane(Log):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=LIVE_LINES, highlight=False, auto_scroll=True, **kwargs)
