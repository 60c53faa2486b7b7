"""How an attempt reads: one line in a listing, and its full record (the evaluation's log and
the diff against the version it was built on). Shared by ``avo sessions attempts`` and the
app's attempt browser, so both tell the same story. The ratio is to the strongest baseline
the run measured, as the lineage's (views/ratios.py); the listing names it once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from rich.markup import escape

from ..evaluation.results import config_label
from ..store import (
    NOT_FAILURES,
    Attempt,
    Outcome,
    Version,
    VersionDiff,
    base_label,
    diff_files,
)
from .ratios import RatioColumn

OUTCOME_STYLES: dict[str, str] = {
    Outcome.COMMITTED: "green", Outcome.PROMISING: "cyan", Outcome.INCONCLUSIVE: "dim",
    Outcome.SLOWER: "dim",
    Outcome.NOT_CONFIRMED: "dim", Outcome.CHECKED: "dim", Outcome.INTERRUPTED: "yellow",
    Outcome.SUSPECT: "bold yellow", Outcome.WITHIN_NOISE: "dim", Outcome.UNDECIDED: "yellow",
    Outcome.REJECTED_UNDECIDED_TWICE: "red"}  # a failure of the kernel's, as FAILED_STYLE
FAILED_STYLE = "red"
SCORE_CELLS = 16  # the score's column in an attempt's line


class _Blobs(Protocol):
    def get_text(self, digest: str) -> str: ...


class AttemptSource(Protocol):
    """What reading attempts needs: a :class:`~avo_tui.store.Session` or a read-only
    :class:`~avo_tui.store.view.SessionView`."""

    @property
    def attempt_count(self) -> int: ...

    @property
    def blobs(self) -> _Blobs: ...

    def attempt(self, attempt_id: str) -> Attempt: ...

    def version(self, ref: str) -> Version: ...

    def read_files(self, version: Version | str) -> dict[str, str]: ...


class AttemptCells(NamedTuple):
    """An attempt's columns as text, in the order a listing shows them."""

    id: str
    base: str
    author: str
    outcome: str
    score: str
    ratio: str
    when: str
    detail: str  # its first line


COLUMNS = AttemptCells._fields


def is_failed(attempt: Attempt) -> bool:
    """The candidate did not work (compile error, incorrect, timeout, crash ...): its outcome
    names a failure kind. Slower, unconfirmed or interrupted candidates are not failures."""
    return attempt.outcome not in NOT_FAILURES


def outcome_style(outcome: str) -> str:
    return OUTCOME_STYLES.get(outcome, FAILED_STYLE)


def stamp(ts: float) -> str:
    """A record's time, short enough for a column: month-day hour:minute."""
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M") if ts else "-"


def attempt_cells(attempt: Attempt, ratios: RatioColumn | None = None) -> AttemptCells:
    """The attempt's cells; its ratio is ``ratios``' (to the strongest baseline), else its
    score's own."""
    score = attempt.score
    ratio = (ratios or RatioColumn()).ratio(score) if score else None
    lines = attempt.detail.splitlines()
    return AttemptCells(
        attempt.id,
        base_label(attempt.base),
        attempt.author,
        attempt.outcome,
        f"{score.gmean:.4g} {score.unit}" if score and score.gmean else "-",
        f"{ratio:.3f}x" if ratio else "-",
        stamp(attempt.created),
        lines[0] if lines else "",
    )


def attempt_line(attempt: Attempt, lanes: bool = False,
                 ratios: RatioColumn | None = None) -> str:
    """Rich markup: the attempt in one line, its outcome coloured (failures red); with
    ``lanes`` (a session run in several), the lane that proposed it after its id (blank for
    none: a hand edit, or a run of one lane); its ratio ``ratios``' (attempt_cells)."""
    c = attempt_cells(attempt, ratios)
    style = outcome_style(c.outcome)
    lane = f"{f'L{attempt.lane}' if attempt.lane is not None else '':<2} " if lanes else ""
    # The lane's cells come out of the score column's spare ones (``412.3 TFLOP/s`` takes
    # 13), so the line keeps its width: at 80 columns its time still fits on its first row.
    score = f"{escape(c.score):>{SCORE_CELLS - len(lane)}}"
    return (f"{escape(c.id):<6} {lane}{escape(c.base):<5} [{style}]{escape(c.outcome):<14}[/] "
            f"{score} {escape(c.ratio):>7}  {c.when}  {escape(c.detail)}")


def select_attempts(
    source: AttemptSource, *, failed: bool = False, limit: int | None = None
) -> list[Attempt]:
    """The session's attempts, oldest first: all of them, or the last ``limit`` (of those
    that failed, with ``failed``). Reads back from the newest, so a listing of a session with
    a hundred thousand attempts costs only the ones it shows (and those it skips)."""
    chosen: list[Attempt] = []
    for number in range(source.attempt_count, 0, -1):
        if limit is not None and len(chosen) >= limit:
            break
        attempt = source.attempt(f"a{number}")
        if not failed or is_failed(attempt):
            chosen.append(attempt)
    chosen.reverse()
    return chosen


def attempt_diff(source: AttemptSource, attempt: Attempt) -> VersionDiff:
    """The attempt's files against those of the version it was built on (against nothing,
    for a candidate built on none: before v0)."""
    base = source.read_files(attempt.base) if attempt.base else {}
    files = {name: source.blobs.get_text(digest) for name, digest in attempt.files.items()}
    return diff_files(base, files, base_label(attempt.base), attempt.id)


def attempt_log(source: AttemptSource, attempt: Attempt) -> str | None:
    """The evaluation's log (the evaluator's result as JSON); None when none was kept (an
    interrupted evaluation, or a gate request answered without measuring)."""
    return source.blobs.get_text(attempt.log) if attempt.log else None


def log_summary(text: str) -> list[str]:
    """What a person reads first in an evaluation's log, as plain lines: why it failed, the
    compiler's output when it did not compile, each configuration's figure and check, the
    flags and notes. A log that is not the evaluator's JSON is its own summary."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text.splitlines()
    if not isinstance(doc, dict):
        return text.splitlines()
    lines: list[str] = []
    failure = _mapping(doc.get("failure"))
    if failure:
        where = f" [{failure['config']}]" if failure.get("config") else ""
        lines.append(f"failure: {failure.get('kind', '?')}{where}: {failure.get('message', '')}")
    compiled = _mapping(doc.get("compile"))
    if compiled and compiled.get("ok") is False and compiled.get("log"):
        lines += ["compiler output:", *(f"  {x}" for x in str(compiled["log"]).splitlines())]
    unit = doc.get("unit", "")
    for config in doc.get("configs") or []:
        c = _mapping(config)
        check = {True: "pass", False: "FAIL", None: "not checked"}.get(c.get("passed"), "?")
        figure = c.get("throughput")
        timed = f"{figure:.4g} {unit}" if isinstance(figure, int | float) and figure else "-"
        label = config_label(str(c.get("name", "?")), bool(c.get("edge")),
                             str(c.get("case") or "normal"))
        lines.append(f"  {label}: {timed}, {check}")
    lines += [f"flag: {flag}" for flag in doc.get("flags") or []]
    lines += [f"note: {note}" for note in doc.get("notes") or []]
    return lines


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
