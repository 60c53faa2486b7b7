"""``avo sessions attempts``: every candidate a session evaluated, committed or not, and one
attempt in full (its evaluation's log and its diff against the version it was built on). The
ratio is to the strongest baseline the run measured, named as the lineage names it (``x fa4``;
views/ratios.py)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape

from ..store import Attempt, Session, SessionCatalog, StoreError, base_label
from ..views.attempts import (
    COLUMNS,
    attempt_cells,
    attempt_diff,
    attempt_log,
    log_summary,
    outcome_style,
    select_attempts,
)
from ..views.ratios import RatioColumn, session_column
from . import MOST_SHOWN, Subcommands, add_command, bounded_int, session_name
from .tables import FittedTable, listing_console

SHOWN = 50
DIFF_COLOURS = {"+": "green", "-": "red", "@": "cyan"}

EPILOG = """\
Outcomes: committed (it became a version), promising (a gain that may clear the commit
threshold; the gate's re-evaluation decides), inconclusive (no gain, but too noisy to rule one
out; the gate decides too), within_noise (above the best by less than the measured noise),
slower, not_confirmed (the re-evaluation did not bear it out), undecided (the machine was
too rough for the gate to tell; asked again, it is measured again), suspect (held for your
review), interrupted, checked (quick grid only), and the failures (--failed lists only
those): a failure's kind (compile, incorrect, crash, hang, timeout and the like), or
rejected_undecided_twice (the gate's decisions on the kernel ended undecided twice).

examples:
  avo sessions attempts cpu-1                  the latest 50
  avo sessions attempts cpu-1 --failed --all   every failed candidate
  avo sessions attempts cpu-1 a12              a12 in full: its log, its diff
  avo sessions attempts cpu-1 a12 --log        a12's log as written (JSON)
"""


def cmd_attempts(args: argparse.Namespace) -> int:
    with SessionCatalog(args.sessions_dir).open(args.name, writable=False) as session:
        if args.id:
            return _show(session, session.attempt(args.id), args)
        limit = None if args.all else args.limit
        attempts = select_attempts(session, failed=args.failed, limit=limit)
        if args.json:
            print(json.dumps([a.to_doc() for a in attempts], indent=2))
            return 0
        _print_list(session, attempts, args)
    return 0


def _print_list(session: Session, attempts: list[Attempt], args: argparse.Namespace) -> None:
    console = listing_console()
    which = "failed attempts" if args.failed else "attempts"
    total = session.attempt_count
    if not attempts:
        console.print(f"'{escape(session.name)}' has no {which} (of {total} attempts)")
        return
    latest = "" if args.all or len(attempts) < args.limit else "the latest "
    more = " (--all for every one)" if latest else ""
    console.print(f"'{escape(session.name)}': {latest}{len(attempts)} {which} of {total}, "
                  f"oldest first{more}")
    ratios = session_column(session)
    columns, rows = _columns(attempts, ratios)
    # on a narrow terminal the detail needs the room more than the author and the time do
    fitted = FittedTable(console, columns, rows, "detail", right=("score", ratios.heading),
                         droppable=("author", "when"), least=30)
    outcome = columns.index("outcome")
    for row in rows:
        cells = [escape(c) for c in row]
        cells[outcome] = f"[{outcome_style(row[outcome])}]{cells[outcome]}[/]"
        fitted.add_row(*cells)
    console.print(fitted.table)
    console.print(f"[dim]one in full: avo sessions attempts {escape(session.name)} ID[/]")


def _columns(attempts: list[Attempt], ratios: RatioColumn) -> tuple[list[str], list[list[str]]]:
    """The listing's header, the ratio's named (``x fa4``), and rows; a session run in lanes
    gets a lane column after the id (blank for an attempt of no lane: a hand edit)."""
    rows = [list(attempt_cells(a, ratios)) for a in attempts]
    header = [ratios.heading if name == "ratio" else name for name in COLUMNS]
    if all(a.lane is None for a in attempts):
        return header, rows
    for attempt, row in zip(attempts, rows, strict=True):
        row.insert(1, f"L{attempt.lane}" if attempt.lane is not None else "")
    return [header[0], "lane", *header[1:]], rows


NO_LOG = "no log was kept: the evaluation was interrupted, or answered without measuring"


def _show(session: Session, attempt: Attempt, args: argparse.Namespace) -> int:
    try:
        log, why = attempt_log(session, attempt), NO_LOG
    except StoreError as error:
        log, why = None, f"cannot read the log: {error}"
    if args.log:
        if log is None:
            raise StoreError(f"{attempt.id}: {why}")
        print(log)
        return 0
    diff = attempt_diff(session, attempt)
    if args.json:
        print(json.dumps({"attempt": attempt.to_doc(), "log": log, "diff": diff.text}, indent=2))
        return 0
    console = Console(highlight=False, soft_wrap=True)
    _print_record(console, attempt, session_column(session))
    console.print(f"\n[bold]diff against {escape(base_label(attempt.base))}[/] "
                  f"(+{diff.added}/-{diff.removed})")
    for line in diff.text.splitlines() or ["(the same files as its base)"]:
        colour = "bold" if line.startswith(("+++", "---")) else DIFF_COLOURS.get(line[:1])
        console.print(f"[{colour}]{escape(line)}[/]" if colour else escape(line))
    if log is None:
        console.print(f"\n[bold]log[/]\n[dim]{escape(why)}[/]")
        return 0
    console.print(f"\n[bold]log[/] (in full: avo sessions attempts {escape(session.name)} "
                  f"{attempt.id} --log)")
    for line in log_summary(log):
        console.print(escape(line))
    return 0


def _print_record(console: Console, attempt: Attempt, ratios: RatioColumn) -> None:
    cells = attempt_cells(attempt, ratios)
    ratio = (ratios.named(attempt.score) if attempt.score else "") or "-"
    became = f" -> {attempt.version}" if attempt.version else ""
    lane = f" in lane {attempt.lane}" if attempt.lane is not None else ""
    console.print(f"[bold]{cells.id}[/] [{outcome_style(cells.outcome)}]{escape(cells.outcome)}"
                  f"[/]{became}   from {escape(cells.base)} by {escape(cells.author)}{lane}   "
                  f"{cells.when}   {escape(cells.score)}   {escape(ratio)}")
    if attempt.detail:
        console.print(escape(attempt.detail))


def register(sessions: Subcommands) -> None:
    p = add_command(
        sessions, "attempts", cmd_attempts, "a session's attempts, or one in full",
        "List the candidates a session evaluated, committed or not (the latest 50 unless "
        "--all), with the version each was built on, its outcome, score and what happened; "
        "or, given an attempt's id, that attempt in full: its evaluation's log and its diff "
        "against the version it was built on. Reads without locking, so it works while a run "
        "is live.",
        EPILOG,
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("id", nargs="?", metavar="ID", help="an attempt's id (a12): show it in full")
    p.add_argument("--failed", action="store_true",
                   help="only the attempts that failed (did not compile, incorrect, timed out, "
                   "crashed ...)")
    p.add_argument("--all", action="store_true", help=f"list every one, not the latest {SHOWN}")
    p.add_argument("--limit", type=bounded_int(MOST_SHOWN), default=SHOWN, metavar="N",
                   help=f"list the latest N (default {SHOWN})")
    p.add_argument("--log", action="store_true",
                   help="with ID: print the evaluation's log as the evaluator wrote it (JSON)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
