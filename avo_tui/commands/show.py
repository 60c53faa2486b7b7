"""``avo sessions show``: one session as it stands: its run, what it spent, what waits for the
operator (queued commands, suspects) and its versions, each with its ratio to the strongest
baseline the run measured (views/ratios.py), the column named as the app's lineage names it."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..engine.budget import Spending, VersionCosts
from ..engine.inbox import describe, queued
from ..engine.lanes import lane_lines
from ..engine.run_status import name_run_status, status_text
from ..operators.agent.settings import with_provider
from ..store import (
    NO_VERSION_YET,
    RunState,
    Score,
    SessionCatalog,
    StepPayload,
    StoreError,
    Version,
    payload_of,
)
from ..store.session import Session
from ..views.attempts import stamp
from ..views.events import counted, event_line
from ..views.ratios import RatioColumn, session_column
from . import Subcommands, add_command, session_name
from .tables import figure, listing_console, times

STEP_LOOKBACK = 5000  # events searched back from the last for the latest step's cost


def cmd_sessions_show(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    with catalog.open(args.name, writable=False) as session:
        versions = list(session.lineage)
        best = session.best()
        if args.json:
            doc = {
                "name": session.name,
                "meta": session.meta,
                "state": session.state,
                "best": best.id if best else None,
                "suspects": [x.to_doc() for x in session.suspects()],
                "attempts": session.attempt_count,
                "events": session.last_seq,
                "versions": [v.to_doc() for v in versions],
            }
            print(json.dumps(doc, indent=2))
            return 0
        _print_session(session, versions, best, show_all=args.all)
    return 0


def _print_session(
    session: Session, versions: list[Version], best: Version | None, show_all: bool
) -> None:
    console = listing_console()
    meta, state = session.meta, RunState.from_doc(session.state)
    holder = session.lock_holder
    status = status_text(state.status, state.reason, session=session.name,
                         writer=holder.where() if holder else None)
    operator = str(meta.get("operator"))
    if state.operator and state.operator != operator:
        operator = f"{state.operator} (switched from {operator})"
    operator = with_provider(operator, meta)  # prices differ by provider and endpoint
    console.print(
        f"[bold]{escape(session.name)}[/]  target {escape(str(meta.get('target')))}  "
        f"operator {escape(operator)}  status {escape(status)}"
    )
    head = state.head if state.head in session.lineage else "-" if state.head is None else "?"
    best_text = (f"{best.id} ({figure(best.score.gmean, best.score.unit)})"
                 if best and best.score else "-")
    console.print(
        f"head {escape(str(head))}   best {best_text}   {len(versions)} versions   "
        f"{session.attempt_count} attempts   {session.last_seq} events"
    )
    if session.attempt_count:
        console.print(f"[dim]the attempts, failed ones included: avo sessions attempts "
                      f"{escape(session.name)} [--failed][/]")
    _print_run(console, state, holder is not None)
    costs = VersionCosts()
    costs.add(versions)
    _print_cost(console, Spending.of(state, costs, _last_step(session)),
                versions[-1].id if versions else "the start")
    _print_queued(console, session)
    if not versions:  # a target with no seed, before the agent's first commit
        console.print(NO_VERSION_YET)
        _print_suspects(console, session, session_column(session))
        return
    limit = len(versions) if show_all else 50
    shown = versions[-limit:]
    if len(shown) < len(versions):
        console.print(f"[dim]{len(versions) - len(shown)} earlier versions not shown (--all)[/]")
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    ratios = session_column(session)  # to the strongest baseline: x fa4, x best, x cudnn
    columns = ["", "version", "parent", "author", "score", ratios.heading, "+/-", "created"]
    # a heading wider than a ratio (x torch-sdpa-cpu) takes its cells from the message
    wide_heading = max(0, len(ratios.heading) - len("1.000x"))
    cost_width = 0
    if costs.cost_usd > 0:  # what each version cost, once versions carry a cost
        columns.insert(-1, "cost")
        cost_width = 1 + max(len(_cost(v)) for v in shown)
    for column in columns:
        table.add_column(column, no_wrap=True, justify="right" if column == "cost" else "left")
    # The other columns take about 60 cells; the message gets what is left, cut with an ellipsis.
    table.add_column("message", no_wrap=True, overflow="ellipsis",
                     max_width=max(12, console.width - 62 - cost_width - wide_heading))
    for v in shown:
        marks = ("H" if v.id == head else " ") + ("*" if best and v.id == best.id else " ")
        score = v.score
        cells = [marks, v.id, v.parent or "-", v.author, figure(score.gmean if score else None),
                 times(ratios.ratio(score) if score else None),
                 f"+{v.lines_added}/-{v.lines_removed}",
                 stamp(v.created), v.message.splitlines()[0] if v.message else ""]
        if cost_width:
            cells.insert(-2, _cost(v))
        table.add_row(*cells)
    console.print(table)
    console.print("[dim]H = head, * = best[/]")
    _print_rescored(console, session, state)
    _print_flagged(console, session, state)
    _print_suspects(console, session, ratios)


def _cost(version: Version) -> str:
    return f"${version.cost_usd:.2f}" if version.cost_usd else "-"


def _print_run(console: Console, state: RunState, live: bool) -> None:
    """How far the run has got, what it has spent, and what waits for the operator; and which
    state fields did not read (a damaged session), so their defaults are not taken as fact.
    ``live``: a process runs the session now; only then is it "running" (issue 87: a stopped
    session showed "0.08 h running")."""
    tokens = int(state.usage_figure("tokens"))
    spent = f"   ${state.usage_figure('cost_usd'):.2f}, {tokens:,} tokens" if tokens else ""
    hints = f"   {counted(len(state.pending_hints), 'pending hint')}" if state.pending_hints else ""
    hours = state.usage_figure("seconds") / 3600
    name = name_run_status(state.status, state.reason, session="", live=live).name
    shown = f"{hours:.2f}"  # no "new after 0.00 h": a time that rounds to nothing is not said
    ran = (f"{name}, {shown} h of run time so far" if live else
           f"{name} after {shown} h of run time" if float(shown) else name)
    console.print(f"step {state.step}   {ran}{spent}{hints}")
    if state.guidance:
        console.print(f"guidance: {escape(state.guidance)}")
    for line in lane_lines(state):  # a session run in several lanes: each one's share
        console.print(escape(line))
    if state.damaged:
        console.print(f"[yellow]state fields that did not read (shown as their defaults): "
                      f"{escape(', '.join(state.damaged))}[/]")


def _last_step(session: Session) -> StepPayload | None:
    steps = [p for e in session.events(after=max(0, session.last_seq - STEP_LOOKBACK))
             if isinstance(p := payload_of(e), StepPayload)]
    return steps[-1] if steps else None


def _print_cost(console: Console, spent: Spending, last_version: str) -> None:
    """Below the run's total (_print_run): what a step cost (the mean and the latest), what a
    committed version cost, and what no version has taken yet."""
    if not spent.tokens:
        return
    parts = []
    if spent.per_step_usd is not None:
        last = f", ${spent.last_step.cost_usd:.2f} last" if spent.last_step else ""
        parts.append(f"per step ${spent.per_step_usd:.2f} mean{last}")
    if spent.per_version_usd is not None:
        parts.append(f"per version ${spent.per_version_usd:.2f}")  # committed ones
    if spent.since_commit_usd >= 0.005:
        parts.append(f"${spent.since_commit_usd:.2f} since {last_version}")
    if parts:
        console.print("   ".join(parts))


def _print_queued(console: Console, session: Session) -> None:
    """Commands sent while no run was live: the next run starts by applying them."""
    waiting = queued(session.directory)
    if waiting:
        console.print("[yellow]queued for the next run:[/] "
                      + escape("; ".join(describe(q.command) for q in waiting))
                      + f" [dim](avo send {escape(session.name)} drop removes them)[/]")


def _print_rescored(console: Console, session: Session, state: RunState) -> None:
    """The scores ``avo rescore`` put right, each by the event that set it (old -> new, how
    and why): the table above shows the new ones."""
    if not state.rescored:
        return
    console.print(f"scores rescored by the operator (avo rescore), "
                  f"{counted(len(state.rescored), 'version')}:")
    for vid, rescored in sorted(state.rescored.items(), key=lambda item: _number(item[0])):
        events = session.events(after=rescored.event - 1, limit=1)
        line = event_line(events[0], rescored.score.unit) if events else None
        console.print(f"  {line}" if line else f"  rescore  {escape(vid)} -> "
                      f"{figure(rescored.score.gmean, rescored.score.unit)}")


def _print_flagged(console: Console, session: Session, state: RunState) -> None:
    """Versions that read slower against the anchor beside a candidate than they were
    recorded, each by the event that flagged it (both figures): the suspects among the
    versions, until avo rescore measures them again."""
    if not state.flagged:
        return
    console.print(f"[bold red]⚠ {counted(len(state.flagged), 'version')} flagged[/]: slower "
                  f"against the anchor beside a candidate than recorded, or failing beside "
                  f"their successors (avo rescore {escape(session.name)} measures them "
                  "again):")
    for vid, flagged in sorted(state.flagged.items(), key=lambda item: _number(item[0])):
        events = session.events(after=flagged.event - 1, limit=1)
        line = event_line(events[0], "") if events else None
        console.print(f"  {line}" if line else f"  flagged  {escape(vid)}: read "
                      f"{flagged.measured:.4g}x {escape(flagged.anchor)}, recorded at "
                      f"{flagged.recorded:.4g}x")


def _number(vid: str) -> int:
    return int(vid[1:]) if vid[1:].isdigit() else -1


def _print_suspects(console: Console, session: Session, ratios: RatioColumn) -> None:
    """Pending suspects stand out: nothing happens to them until a person decides. Each one's
    ratio is the versions' (``ratios``), named."""
    suspects = session.suspects()
    if not suspects:
        return
    console.print(
        f"[bold yellow]⚠ {len(suspects)} suspect{'s' if len(suspects) > 1 else ''} held for "
        f"your review[/] (flagged as implausible; avo send {session.name} approve|reject ID):"
    )
    for s in suspects:
        score = _suspect_score(session, s.attempt)
        ratio = f" {escape(ratios.named(score))}".rstrip() if score else ""
        message = s.message.splitlines()[0] if s.message else ""
        console.print(
            f"  [bold yellow]{s.attempt}[/] from {s.base} by {s.author}: "
            f"{figure(s.gmean, s.unit)}{ratio}  {escape(message)}"
        )
        for flag in s.flags:
            console.print(f"      flagged: {escape(flag)}")


def _suspect_score(session: Session, attempt: str) -> Score | None:
    """The suspect's score per configuration, from its attempt (the suspect keeps only its
    geometric mean and its ratio to the first baseline); None where it does not read."""
    try:
        return session.attempt(attempt).score
    except StoreError:
        return None


def register(sessions: Subcommands) -> None:
    p = add_command(
        sessions, "show", cmd_sessions_show, "a session's versions and head",
        "Show a session's versions (the latest 50 unless --all) and where the head and the best "
        "version are. Reads without locking, so it works while a run is live.",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--all", action="store_true", help="list every version")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
