"""``avo rescore``: put a score right. The named versions (default: the flagged versions and
those built on them, else the best) are re-evaluated beside the anchor and the seed, and so
is every version whose score, from before anchors, is chained through one of them
(engine/rescore.py; docs/engine.md "Rescores")."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape
from rich.table import Table

from ..engine import Evaluator, RunSettings
from ..engine.launch import session_target
from ..engine.rescore import (
    Change,
    Rescorer,
    RescoreReport,
    change_factor,
    flagged_lineage,
    named_versions,
    with_chained,
)
from ..pool import evaluation_pool
from ..store import Score, Session, SessionCatalog, SessionLocked, StoreError, Version
from ..store.lock import SessionLock
from . import Subcommands, add_command, session_name
from .evaluate import StatusLine
from .tables import figure, listing_console

DESCRIPTION = """\
Re-evaluate versions of a session with the evaluator a run uses, each beside the anchor (the
target's primary baseline, else the seed as supplied: a kernel no agent wrote), and store the
score that gives: its rate over the anchor's, on the lineage's scale. Where the seed is the
user's, each is timed beside it as the commit gate times a candidate beside its best, so that
it is read as its record was. No version an agent wrote runs beside it, so a version that
behaves differently beside another has nothing to see. Measured rates and ratios to the
baselines are the new evaluation's.

A version's score is measured against the anchor in the sweeps of the decision that committed
it, and no other version's reading is part of it. Scores stored before anchors were chained
(the score of the version timed beside, times the gain measured there), so one inflated link
was carried into every later score: every version whose score is chained through a named one
is re-evaluated too. Use this when a score is found impossible, or when a version is flagged:
it read slower against the anchor, beside a candidate, than it was recorded.

The versions' records never change: the new scores are kept in the session's run state and
read wherever a version's score is read (the best, the lineage, avo sessions show, the app),
and each changed score is a 'rescore' event saying old -> new and why. Nothing is written
until every evaluation is done; an interrupted rescore changes nothing. The session must not
be run meanwhile: stop its run first.
"""

EPILOG = """\
exit status: 0 when every named version was rescored; 1 when one could not be (its failure is
printed, and its score stands), or on any other error (the session is being run, an unknown
session or version).

examples:
  avo rescore cpu-1                flagged versions and their heirs, else best
  avo rescore cpu-1 v7 --why "v7 read at 1/2 its score beside a candidate"
  avo rescore cpu-1 v7 v12 --dry-run    what would change; nothing is written
"""


def cmd_rescore(args: argparse.Namespace) -> int:
    with _open(SessionCatalog(args.sessions_dir), args.name) as session:
        flagged = [] if args.versions else flagged_lineage(session)
        named = with_chained(session, named_versions(session, args.versions)
                             if args.versions else flagged or named_versions(session, ["best"]))
        target = session_target(session.name, session.meta)
        unit = target.unit
        if not args.versions:
            print(_default_note(named, unit, bool(flagged)))
        settings = RunSettings.from_doc(session.meta.get("settings", {}))
        status = StatusLine(enabled=sys.stderr.isatty())

        def say(line: str) -> None:
            status.clear()
            print(line, flush=True)

        try:
            with evaluation_pool(target) as pool:
                evaluator = Evaluator(target, pool, quick=settings.quick,
                                      timeout_s=settings.timeout_s)
                report = Rescorer(session, evaluator, reason=args.why, say=say,
                                  progress=status, gate_cap_s=settings.gate_cap_s).run(named)
        except KeyboardInterrupt:
            status.clear()
            print("avo: interrupted: nothing was written, every score stands", file=sys.stderr)
            return 130
        status.clear()
        before = _best(session, {})
        after = _best(session, {c.version: c.now for c in report.changes})
        if report.changes and not args.dry_run:
            session.rescore([(c.now, c.payload) for c in report.changes])
        _print_report(report, unit, before, after, args.dry_run)
    return 1 if report.failed else 0


def _open(catalog: SessionCatalog, name: str) -> Session:
    """The session, to write: a run that holds it is named, with what to do."""
    try:
        return catalog.open(name)
    except SessionLocked:
        holder = SessionLock(catalog.path(name)).holder()
        who = holder.describe() if holder else "another process"
        raise StoreError(f"session '{name}' is being run by {who}; a rescore needs it to "
                         f"itself: stop the run first (avo send {name} stop, or quit the app "
                         "that runs it), then rescore") from None


def _default_note(named: list[Version], unit: str, flagged: bool) -> str:
    if flagged:
        return ("no version named: rescoring the flagged versions and those built on them, "
                + ", ".join(v.id for v in named))
    score = named[0].score
    return (f"no version named: rescoring the best, {named[0].id} "
            f"({figure(score.gmean if score else None, unit)})")


def _best(session: Session, scores: dict[str, Score]) -> tuple[str, float] | None:
    """The best version and its score, were ``scores`` the scores of the versions they name."""
    scored = [(s.gmean, v.number, v.id) for v in session.lineage
              if (s := scores.get(v.id, v.score)) is not None]
    if not scored:
        return None
    gmean, _, vid = max(scored, key=lambda t: (t[0], -t[1]))
    return vid, gmean


def _print_report(report: RescoreReport, unit: str, before: tuple[str, float] | None,
                  after: tuple[str, float] | None, dry_run: bool) -> None:
    console = listing_console()
    if not report.changes:
        console.print("no score changed")
        return
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    for column in ("version", "how", f"old ({unit})", f"new ({unit})", "change"):
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("version", "how") else "right")
    for change in report.changes:
        table.add_row(change.version, _how(change), figure(change.was.gmean if change.was
                                                          else None),
                      figure(change.now.gmean), _change_text(change))
    console.print(table)
    if before != after:
        console.print(f"best: {_named(before, unit)} -> {_named(after, unit)}")
    else:
        console.print(f"best: {_named(after, unit)}, as before")
    if dry_run:
        console.print("[yellow]dry run: nothing was written[/]")
    else:
        console.print(f"[dim]{len(report.changes)} rescore events written; "
                      "avo sessions show lists them[/]")


def _how(change: Change) -> str:
    return escape(change.payload.gain or "measured on its own")


def _change_text(change: Change) -> str:
    factor = change_factor(change)
    return "-" if factor is None else f"{100 * (factor - 1):+.2f}%"


def _named(best: tuple[str, float] | None, unit: str) -> str:
    return "-" if best is None else f"{best[0]} ({figure(best[1], unit)})"


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "rescore", cmd_rescore,
        "re-evaluate versions against the anchor, on their own, and store what they score",
        DESCRIPTION, EPILOG,
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("versions", nargs="*", metavar="VERSION",
                   help="versions to re-evaluate: ids, or best, head (default: the flagged "
                        "versions and those built on them, else the best)")
    p.add_argument("--why", default="", metavar="TEXT",
                   help="why, in your words: kept with each rescore event")
    p.add_argument("--dry-run", action="store_true",
                   help="evaluate and print what would change, but write nothing")
