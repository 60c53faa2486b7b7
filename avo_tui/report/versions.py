"""Each version as the report shows it: its score and ratio, the gain the commit gate measured
for it with that gain's standard error, its cost, its notes (message, the gate's words, the
lesson of the step that made it) and its diff against its parent.

The gain and its error come from the gate's own evaluation log (``incumbent_gain`` and
``incumbent_gain_se``: the version against the best it was timed beside). A version with no
such log (the seed, a session of an older avo, a log that does not read) shows the ratio of
its score to the score it is chained from (a score from before anchors), where it has one,
and no error bar: nothing is invented."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..store import Session, StoreError, Version, diff_files
from ..views.ratios import RatioColumn
from ..views.scores import gate_attempt, gate_log


@dataclass(frozen=True)
class VersionFacts:
    id: str
    number: int
    parent: str | None
    author: str
    lane: int | None
    created: float
    gmean: float | None
    unit: str
    ratio: float | None  # to the strongest baseline (the app's lineage column)
    gain: float | None  # how many times the version it was timed beside, at the gate
    gain_se: float | None  # standard error of log(gain)
    beside: str | None  # the version it was timed beside at the gate
    message: str
    gate: str  # the gate's words on it, from its attempt's detail
    lesson: str  # what the agent step that made it says it learned
    cost_usd: float
    tokens: int
    added: int
    removed: int
    diff: str

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def version_facts(session: Session, version: Version, column: RatioColumn,
                  lessons: dict[str, str]) -> VersionFacts:
    score = version.score
    gain, se = _gain(session, version)
    attempt = gate_attempt(session, version)
    return VersionFacts(
        id=version.id, number=version.number, parent=version.parent, author=version.author,
        lane=version.lane, created=version.created, gmean=score.gmean if score else None,
        unit=score.unit if score else "", ratio=column.ratio(score) if score else None,
        gain=gain, gain_se=se, beside=(score.beside or score.chained_from) if score else None,
        message=version.message, gate=attempt.detail if attempt else "",
        lesson=lessons.get(version.id, ""), cost_usd=version.cost_usd, tokens=version.tokens,
        added=version.lines_added, removed=version.lines_removed, diff=_diff(session, version),
    )


def _gain(session: Session, version: Version) -> tuple[float | None, float | None]:
    log = gate_log(session, version)
    gain = _finite(log.get("incumbent_gain")) if log else None
    se = _finite(log.get("incumbent_gain_se")) if log else None
    if gain is not None:
        return gain, se
    score = version.score
    if score is None or score.chained_from is None or score.chained_from not in session.lineage:
        return None, None
    beside = session.lineage.get(score.chained_from).score
    return (score.gmean / beside.gmean if beside and beside.gmean else None), None


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _diff(session: Session, version: Version) -> str:
    """The version against its parent; the seed's files whole, as a diff from nothing. A blob
    that does not read is said in the diff's place, never a failed report."""
    try:
        files = session.read_files(version)
        parent = session.read_files(version.parent) if version.parent else {}
    except (StoreError, OSError) as error:
        return f"(the files of {version.id} or its parent do not read: {error})"
    return diff_files(parent, files, version.parent or "", version.id).text
