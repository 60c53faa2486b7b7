"""``avo report``: a session drawn as one self-contained HTML page (docs/report.md): the best
score over time and over versions with each commit's gain and its error, the lineage as a tree
whose versions open their diff and notes, each configuration's ratio to each baseline, the
attempts per hour by outcome, the agent's spending, and the operator's hand on the timeline.

Read from the journal alone (build.py), drawn as plotly figure documents (figures.py) and
written into one page with plotly.js inside it (page.py). No Textual here."""

from __future__ import annotations

from .build import ReportData, collect
from .page import render

__all__ = ["ReportData", "collect", "render"]
