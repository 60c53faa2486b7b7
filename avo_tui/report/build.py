"""A session read for its report, from its journal alone: the records the store keeps
(versions, attempts, events, blobs), nothing of the machine that ran it. So the report of a
session copied from a GPU machine is drawn on a laptop with none."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..engine.run_status import status_text
from ..store import Session, StoreError, Version
from ..views.ratios import session_column
from ..views.scores import score_sheet
from . import figures
from .attempts import hourly
from .journal import JournalFacts, read_journal
from .lineage import branch_points, rows
from .versions import VersionFacts, version_facts


@dataclass
class ReportData:
    name: str
    facts: list[tuple[str, str]]  # the header's (label, value) pairs
    versions: list[VersionFacts]
    figures: dict[str, figures.Figure] = field(default_factory=dict)  # element id -> figure
    notes: list[str] = field(default_factory=list)  # what the report could not draw, and why
    marks: list[tuple[str, str, str]] = field(default_factory=list)  # (time, kind, text)
    head: str | None = None
    best: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "facts": self.facts, "figures": self.figures,
                "versions": {v.id: v.to_doc() for v in self.versions}, "notes": self.notes,
                "marks": self.marks, "head": self.head, "best": self.best}


def collect(session: Session) -> ReportData:
    lineage = list(session.lineage)
    journal = read_journal(session.events())
    column = session_column(session)
    versions = [version_facts(session, v, column, journal.lessons) for v in lineage]
    attempts = hourly(_attempts(session))
    best = session.best()
    state = session.run_state
    unit = next((v.unit for v in versions if v.unit), "")
    baselines = _baselines(session, best)
    ratio = column.named(best.score) if best and best.score else ""
    data = ReportData(session.name, _facts(session, best, ratio), versions, head=state.head,
                      best=best.id if best else None)
    if versions:
        _add_lineage(data, journal, lineage, baselines, unit)
        _add_ratios(data, session, lineage[0], "seed", "ratios-seed")
    else:  # a target with no seed, before the agent's first commit (docs/engine.md)
        data.notes.append("No version yet: the session's first commit will be v0.")
    if best is not None and best.id != lineage[0].id:
        _add_ratios(data, session, best, f"best ({best.id})", "ratios-best")
    if attempts.total:
        data.figures["attempts"] = figures.attempts_per_hour(attempts)
    else:
        data.notes.append("No attempts yet: nothing to count per hour.")
    if any(s.cost_usd or s.tokens for s in journal.spends):
        data.figures["spending"] = figures.spending(journal.spends)
    else:
        data.notes.append("No agent spent anything in this session (the tuner costs nothing): "
                          "no cost to draw.")
    data.marks = [(figures.when(m.ts), m.kind, m.text) for m in journal.marks]
    if journal.unreadable:
        data.notes.append(f"{journal.unreadable} events did not read (written by another avo, "
                          "or damaged) and are left out.")
    return data


def _add_lineage(data: ReportData, journal: JournalFacts, lineage: list[Version],
                 baselines: dict[str, float], unit: str) -> None:
    """The figures of the versions: the score over time and over versions, the tree."""
    versions = data.versions
    end = max(journal.last_ts, versions[-1].created)  # a live run's: its latest event
    data.figures["score-time"] = figures.score_over_time(versions, baselines, journal.marks,
                                                          end, unit)
    data.figures["score-versions"] = figures.score_over_versions(versions, baselines, unit)
    data.figures["lineage"] = figures.lineage(versions, rows(lineage), branch_points(lineage),
                                              journal.rollbacks, data.head, data.best)


def _attempts(session: Session) -> list[Any]:
    """Every attempt that reads; one that does not is left out of the counts."""
    out = []
    for number in range(1, session.attempt_count + 1):
        try:
            out.append(session.attempt(f"a{number}"))
        except (StoreError, TypeError, ValueError):
            continue
    return out


def _baselines(session: Session, best: Version | None) -> dict[str, float]:
    """Each baseline's geometric mean as timed beside the best, on the lineage's scale."""
    sheet = score_sheet(session, best) if best is not None else None
    return sheet.baselines if sheet else {}


def _add_ratios(data: ReportData, session: Session, version: Version, label: str,
                element: str) -> None:
    table = _ratio_table(session, version)
    if table:
        data.figures[element] = figures.ratios(table, f"Ratio to each baseline: {label}")
    else:
        data.notes.append(f"The {label} has no per-configuration ratios to its baselines.")


def _ratio_table(session: Session, version: Version) -> dict[str, dict[str, float]]:
    """{configuration: {baseline: ratio}}: the version's score's own where stored (timed in
    the same evaluation), else from its evaluation's figures."""
    score = version.score
    if score is None:
        return {}
    if score.ratios:
        return {config: dict(row) for config, row in score.ratios.items() if row}
    sheet = score_sheet(session, version)
    if sheet is None:
        return {}
    return {c.name: {name: c.throughput / rate for name, rate in c.baselines.items() if rate}
            for c in sheet.configs if c.baselines and c.throughput}


def _facts(session: Session, best: Version | None, ratio: str) -> list[tuple[str, str]]:
    meta, state, holder = session.meta, session.run_state, session.lock_holder
    host = meta.get("host") or {}
    device = str(host.get("gpu") or host.get("cpu") or host.get("device") or "?")
    score = best.score if best else None
    best_text = (f"{best.id}: {score.gmean:.4g} {score.unit}" + (f", {ratio}" if ratio else "")
                 if best and score else "-")
    spent = state.usage_figure("cost_usd")
    return [
        ("target", str(meta.get("target", "?"))),
        ("operator", str(state.operator or meta.get("operator", "?"))),
        ("status", status_text(state.status, state.reason, session=session.name,
                               writer=holder.where() if holder else None)),
        ("device", device),
        ("versions", f"{len(session.lineage):,}"),
        ("attempts", f"{session.attempt_count:,}"),
        ("best", best_text),
        ("running time", f"{state.usage_figure('seconds') / 3600:.1f} h"),
        ("spent", f"${spent:,.2f}, {int(state.usage_figure('tokens')):,} tokens"),
        ("drawn", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
    ]
