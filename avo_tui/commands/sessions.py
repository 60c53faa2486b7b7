"""``avo sessions``: the folder of sessions: list them, create one from seed files, repair,
rename or delete one. Showing one (show.py) and its attempts (attempts.py) have modules of
their own; this one builds the group's parser with them.

The listing is read from each session's summary (store/summary.py), and this module imports
only what the listing needs: what creating a session needs (the targets, the engine) is
imported when one is created, so that ``avo sessions list`` answers at once."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from ..engine.budget import from_afar
from ..engine.elapsed import age
from ..engine.run_status import name_run_status, status_text
from ..store import SessionCatalog, SessionSummary, StoreError, apply_repair, plan_repair
from . import Subcommands, add_command, session_name
from .tables import FittedTable, figure, listing_console


def cmd_sessions_list(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    now = time.time()
    listed = [_listed(catalog.summary(name), now) for name in catalog.names()]
    if getattr(args, "json", False):
        print(json.dumps(listed, indent=2))
        return 0
    if not listed:
        print(f"no sessions in {catalog.root}")
        return 0
    print(f"sessions in {catalog.root}", file=sys.stderr)  # stdout stays the table alone
    # str(): a damaged session's summary may hold anything where text belongs
    rows = [[s["name"], str(s["target"]), str(s["operator"]), str(s["versions"]),
             figure(s["best"], s["best_unit"]), str(s["status"]), s["budget"] or "-",
             f"~{age(s['eta_s'])}" if s["eta_s"] is not None else "-",
             _ago(s["last_commit"], now), _ago(s["last_activity"], now)]
            for s in listed]
    console = listing_console()
    header = ("session", "target", "operator", "versions", "best", "status", "budget",
              "ends in", "last commit", "last activity")
    fitted = FittedTable(console, header, rows, "status", right=("versions", "best"),
                         droppable=("last activity", "operator", "versions", "budget",
                                    "ends in", "last commit"), least=26)
    for row in rows:
        fitted.add_row(*(escape(cell) for cell in row))
    console.print(fitted.table)
    if any(s["status"] == "killed" for s in listed):
        console.print("[dim]killed: its process died mid-run; avo run --session NAME "
                      "resumes it[/]")
    if any(s["error"] for s in listed):
        console.print("[dim]damaged: avo sessions repair NAME recovers what it can; --json "
                      "has the error[/]")
    return 0


def _listed(summary: SessionSummary, now: float) -> dict[str, Any]:
    """One session as the listing shows it (and --json prints it): the run's status named as
    the app names it (killed, limit-reached ...), and what a glance from afar wants: each
    budget used of its limit, the running time left (while a process runs it) and when the
    last version was committed."""
    name, facts, writer = summary.name, summary.facts, summary.writer
    if facts is None:
        return {"name": name, "target": "?", "operator": "?", "versions": 0, "best": None,
                "best_unit": "", "status": f"damaged: {summary.damaged}", "reason": "",
                "budget": "", "eta_s": None, "last_commit": None,
                "last_activity": summary.last_activity, "error": summary.error}
    afar = from_afar(facts.usage, facts.budgets, facts.last_commit, now)
    named = name_run_status(facts.status, facts.reason, session=name, live=writer is not None)
    return {"name": name, "target": facts.target, "operator": facts.operator,
            "versions": facts.versions, "best": facts.best, "best_unit": facts.best_unit,
            "status": status_text(facts.status, facts.reason, session=name, writer=writer),
            "reason": named.reason, "budget": afar.budget,
            "eta_s": afar.eta_s if writer else None, "last_commit": facts.last_commit,
            "last_activity": summary.last_activity, "error": None}


def _ago(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    seconds = now - ts
    return f"{age(seconds)} ago" if seconds >= 60 else "just now"


def cmd_sessions_new(args: argparse.Namespace) -> int:
    from ..engine.launch import target_file_meta
    from ..evaluation import get_target
    from ..evaluation.targets.spec import is_target_file, shipped_file
    from ..store.session import Session

    catalog = SessionCatalog(args.sessions_dir)
    seeds: dict[str, str] = {}
    for path in args.seed:
        if path.name in seeds:
            raise StoreError(f"two seed files are named {path.name}; a session keeps file names")
        try:
            seeds[path.name] = path.read_text()
        except OSError as exc:
            raise StoreError(f"cannot read seed file {path}: {exc.strerror}") from None
    # A target file is kept by its path (a shipped one by its name) and hash, as avo run
    # keeps it; another name as given.
    found = is_target_file(args.target) or shipped_file(args.target) is not None
    spec = get_target(args.target) if found else None
    session = Session.create(
        catalog.new_path(args.name),
        target=spec.ref if spec else args.target,
        operator=args.operator,
        seed_files=seeds,
        message=args.message,
        target_file=target_file_meta(spec) if spec else None,
    )
    with session:
        print(
            f"created session '{session.name}' in {session.directory} with v0 "
            f"({', '.join(sorted(seeds))})"
        )
    return 0


def cmd_sessions_repair(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    plan = plan_repair(catalog.path(args.name))
    if not plan.needed:
        print(f"session '{args.name}' is healthy: nothing to repair")
        return 0
    print(f"session '{args.name}' is damaged:")
    for problem in plan.problems:
        print(f"  - {problem}")
    if not plan.possible:
        print("no readable generation is left to recover from; the files are untouched")
        return 1
    counts = ", ".join(f"{n} {k}" for k, n in sorted(plan.counts.items()))
    print(
        f"recoverable from {plan.source} plus its journals: {counts} "
        f"(through journal record {plan.seq})"
    )
    for loss in plan.lost:
        print(f"  cannot recover: {loss}")
    if not args.yes and not confirmed(
            "repair now? the originals are kept [y/N] ",
            "re-run with --yes to repair (the originals are kept in a damaged-* folder)"):
        return 1
    kept = apply_repair(plan)
    print(f"repaired; the original files are in {kept}")
    return 0


def confirmed(question: str, without_terminal: str) -> bool:
    """The user's yes at a terminal; without one, ``without_terminal`` is printed (how to say
    yes with a flag) and the answer is no. 'nothing changed' follows a no."""
    if not sys.stdin.isatty():
        print(without_terminal)
        return False
    try:
        answer = input(question)
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing changed")
    return False


def cmd_sessions_rename(args: argparse.Namespace) -> int:
    path = SessionCatalog(args.sessions_dir).rename(args.name, args.new_name)
    print(f"session '{args.name}' is now '{args.new_name}' ({path})")
    return 0


def cmd_sessions_delete(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    facts = catalog.summary(args.name).facts
    known = f"{facts.versions} versions, target {facts.target}, " if facts else ""
    what = f"session '{args.name}': {known}{catalog.path(args.name)}"
    if not args.yes and not confirmed(f"delete {what}, every file of it? [y/N] ",
                                      f"{what}\nre-run with --yes to delete it"):
        return 1
    catalog.delete(args.name)
    print(f"deleted session '{args.name}'")
    return 0


def register(commands: Subcommands, *, listing_only: bool = False) -> None:
    """The group's parser; ``listing_only``: with ``list`` alone, for a command line that
    lists (cli.py), so that the other commands' modules are not imported."""
    sessions = add_command(
        commands, "sessions", cmd_sessions_list,
        "list, inspect, create, repair, rename and delete sessions",
        "List, inspect, create, repair, rename and delete sessions.",
    )
    sessions.set_defaults(json=False)
    sub = sessions.add_subparsers(title="commands", metavar="COMMAND")

    p = add_command(
        sub, "list", cmd_sessions_list, "one line per session",
        "One line per session: target, operator, versions, best score, run status (with the "
        "writing process, if one is live; killed: a run whose process died without ending "
        "it), each budget used of its limit, the running time left until the first is spent "
        "(while a process runs it), the last commit and the last activity.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    if listing_only:
        return
    from . import attempts, show

    show.register(sub)
    attempts.register(sub)

    p = add_command(
        sub, "new", cmd_sessions_new, "create a session from seed files",
        "Create a session whose lineage starts at v0, made of the seed files.",
    )
    p.add_argument("name", type=session_name,
                   help="session name: letters, digits, '.', '_' or '-'")
    p.add_argument("--target", required=True, help="the target the kernel is scored on")
    p.add_argument("--operator", default="tuner", help="variation operator (default: tuner)")
    p.add_argument("--seed", type=Path, action="append", required=True, metavar="FILE",
                   help="a seed kernel source file (repeat for several)")
    p.add_argument("--message", default="seed kernel", help="message of v0")

    p = add_command(
        sub, "repair", cmd_sessions_repair, "recover a damaged session from its backup generation",
        "Check a session's files; if one is damaged, rebuild the session from the newest "
        "readable generation (the base file or its backup, plus the journals). The original "
        "files are copied into a damaged-* folder first, so nothing is lost.",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--yes", action="store_true", help="repair without asking")

    p = add_command(
        sub, "rename", cmd_sessions_rename, "give a session another name",
        "Give a session another name (its folder's). Refused while a run writes it.",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("new_name", type=session_name, metavar="NEW", help="its new name")

    p = add_command(
        sub, "delete", cmd_sessions_delete, "remove a session and every file of it",
        "Remove a session: its lineage, attempts, logs and kernels. Refused while a run "
        "writes it. Asks first at a terminal; elsewhere it needs --yes. `avo export` keeps a "
        "version's kernel first, if you want it.",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--yes", action="store_true", help="delete without asking")
