"""The ``avo`` command."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .commands import (
    ArgumentParser,
    HelpFormatter,
    add_command,
    attempts,
    evaluate,
    kb,
    run,
    send,
    session_name,
)
from .commands import app as app_command
from .commands.tables import FittedTable
from .engine.budget import Spending, VersionCosts
from .engine.inbox import age, describe, queued
from .engine.lanes import lane_lines
from .evaluation import (
    CandidateError,
    ContractError,
    ToolchainUnavailable,
    UnknownTarget,
    WorkerError,
)
from .knowledge import KnowledgeError
from .operators import OperatorUnavailable
from .operators.agent.settings import with_provider
from .settings_file import SettingsFileError
from .store import (
    RunState,
    SessionCatalog,
    StepPayload,
    StoreError,
    Version,
    apply_repair,
    payload_of,
    plan_repair,
    resolve_sessions_dir,
)
from .store.catalog import run_status
from .store.session import Session
from .views.events import counted

EXPORT_SUMMARY = "avo-version.json"
STEP_LOOKBACK = 5000  # events searched back from the last for the latest step's cost

DESCRIPTION = """\
avo-tui: supervised agentic evolution of GPU kernels.

A session evolves one kernel for one target: a variation operator (a Claude agent, or the
classical tuner) proposes versions, an isolated evaluator scores them, and every version,
attempt and event is kept in the session's folder so a run can be paused, rolled back,
browsed and resumed after a crash.
"""

EPILOG = """\
avo with no command opens the app: on the session written last (attaching to it if another
process runs it), or on a new session (target mha where a CUDA GPU is present, else
cpu-attention; the agent operator where ANTHROPIC_API_KEY is set, else the tuner).

sessions live in --sessions-dir, else $AVO_SESSIONS_DIR, else sessions/ of the checkout
(or ~/.local/share/avo-tui/sessions when installed elsewhere).

examples:
  avo
  avo run --target mha --session mha-1            the app, on a new session
  avo attach long-1                               watch and steer a headless run
  avo run --target cpu-attention --session cpu-1 --headless --max-steps 30
  avo sessions list
  avo sessions show my-run
  avo export my-run --version best --out ./best-kernel
  avo kb search "give the consumer warpgroups more registers"
"""


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _ago(ts: float) -> str:
    if not ts:
        return "-"
    seconds = time.time() - ts
    return f"{age(seconds)} ago" if seconds >= 60 else "just now"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M")


def _score(version: Version) -> str:
    return f"{version.score.gmean:.4g}" if version.score else "-"


def _ratio(version: Version) -> str:
    if version.score is None or version.score.ratio is None:
        return "-"
    return f"{version.score.ratio:.3f}x"


# -- commands ---------------------------------------------------------------------------------


def cmd_sessions_list(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    summaries = [catalog.summary(name) for name in catalog.names()]
    if getattr(args, "json", False):
        print(json.dumps([s.__dict__ for s in summaries], indent=2))
        return 0
    if not summaries:
        print(f"no sessions in {catalog.root}")
        return 0
    print(f"sessions in {catalog.root}", file=sys.stderr)  # stdout stays the table alone
    # str(): a damaged session's summary may hold anything where text belongs
    rows = [[s.name, str(s.target), str(s.operator), str(s.versions),
             f"{s.best:.4g} {s.best_unit}" if s.best is not None else "-", str(s.status),
             _ago(s.last_activity)] for s in summaries]
    console = _console()
    header = ("session", "target", "operator", "versions", "best", "status", "last activity")
    fitted = FittedTable(console, header, rows, "status", right=("versions", "best"),
                         droppable=("last activity", "operator", "versions"), least=26)
    for row in rows:
        fitted.add_row(*(escape(cell) for cell in row))
    console.print(fitted.table)
    if any(s.error for s in summaries):
        console.print("[dim]damaged: avo sessions repair NAME recovers what it can; --json "
                      "has the error[/]")
    return 0


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
    console = _console()
    meta, state = session.meta, RunState.from_doc(session.state)
    status = run_status(state.status, session.lock_holder)
    operator = str(meta.get("operator"))
    if state.operator and state.operator != operator:
        operator = f"{state.operator} (switched from {operator})"
    operator = with_provider(operator, meta)  # prices differ by provider and endpoint
    console.print(
        f"[bold]{escape(session.name)}[/]  target {escape(str(meta.get('target')))}  "
        f"operator {escape(operator)}  status {escape(status)}"
    )
    head = state.head if state.head in session.lineage else "?"
    best_text = f"{best.id} ({_score(best)} {best.score.unit})" if best and best.score else "-"
    console.print(
        f"head {escape(head)}   best {best_text}   {len(versions)} versions   "
        f"{session.attempt_count} attempts   {session.last_seq} events"
    )
    if session.attempt_count:
        console.print(f"[dim]the attempts, failed ones included: avo sessions attempts "
                      f"{escape(session.name)} [--failed][/]")
    _print_run(console, state)
    costs = VersionCosts()
    costs.add(versions)
    _print_cost(console, Spending.of(state, costs, _last_step(session)), versions[-1].id)
    _print_queued(console, session)
    limit = len(versions) if show_all else 50
    shown = versions[-limit:]
    if len(shown) < len(versions):
        console.print(f"[dim]{len(versions) - len(shown)} earlier versions not shown (--all)[/]")
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    columns = ["", "version", "parent", "author", "score", "ratio", "+/-", "created"]
    cost_width = 0
    if costs.cost_usd > 0:  # what each version cost, once versions carry a cost
        columns.insert(-1, "cost")
        cost_width = 1 + max(len(_cost(v)) for v in shown)
    for column in columns:
        table.add_column(column, no_wrap=True, justify="right" if column == "cost" else "left")
    # The other columns take about 60 cells; the message gets what is left, cut with an ellipsis.
    table.add_column("message", no_wrap=True, overflow="ellipsis",
                     max_width=max(12, console.width - 62 - cost_width))
    for v in shown:
        marks = ("H" if v.id == head else " ") + ("*" if best and v.id == best.id else " ")
        cells = [marks, v.id, v.parent or "-", v.author, _score(v), _ratio(v),
                 f"+{v.lines_added}/-{v.lines_removed}", _when(v.created),
                 v.message.splitlines()[0] if v.message else ""]
        if cost_width:
            cells.insert(-2, _cost(v))
        table.add_row(*cells)
    console.print(table)
    console.print("[dim]H = head, * = best[/]")
    _print_suspects(console, session)


def _cost(version: Version) -> str:
    return f"${version.cost_usd:.2f}" if version.cost_usd else "-"


def _print_run(console: Console, state: RunState) -> None:
    """How far the run has got, what it has spent, and what waits for the operator; and which
    state fields did not read (a damaged session), so their defaults are not taken as fact."""
    tokens = int(state.usage_figure("tokens"))
    spent = f"   ${state.usage_figure('cost_usd'):.2f}, {tokens:,} tokens" if tokens else ""
    hints = f"   {counted(len(state.pending_hints), 'pending hint')}" if state.pending_hints else ""
    console.print(f"step {state.step}   {state.usage_figure('seconds') / 3600:.2f} h running"
                  f"{spent}{hints}")
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


def _print_suspects(console: Console, session: Session) -> None:
    """Pending suspects stand out: nothing happens to them until a person decides."""
    suspects = session.suspects()
    if not suspects:
        return
    console.print(
        f"[bold yellow]⚠ {len(suspects)} suspect{'s' if len(suspects) > 1 else ''} held for "
        f"your review[/] (flagged as implausible; avo send {session.name} approve|reject ID):"
    )
    for s in suspects:
        ratio = f" {s.ratio:.3f}x" if s.ratio else ""
        message = s.message.splitlines()[0] if s.message else ""
        console.print(
            f"  [bold yellow]{s.attempt}[/] from {s.base} by {s.author}: "
            f"{s.gmean:.4g} {s.unit}{ratio}  {escape(message)}"
        )
        for flag in s.flags:
            console.print(f"      flagged: {escape(flag)}")


def cmd_sessions_new(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    seeds: dict[str, str] = {}
    for path in args.seed:
        if path.name in seeds:
            raise StoreError(f"two seed files are named {path.name}; a session keeps file names")
        try:
            seeds[path.name] = path.read_text()
        except OSError as exc:
            raise StoreError(f"cannot read seed file {path}: {exc.strerror}") from None
    session = Session.create(
        catalog.new_path(args.name),
        target=args.target,
        operator=args.operator,
        seed_files=seeds,
        message=args.message,
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
    summary = catalog.summary(args.name)
    what = (f"session '{args.name}': {summary.versions} versions, target {summary.target}, "
            f"{catalog.path(args.name)}")
    if not args.yes and not confirmed(f"delete {what}, every file of it? [y/N] ",
                                      f"{what}\nre-run with --yes to delete it"):
        return 1
    catalog.delete(args.name)
    print(f"deleted session '{args.name}'")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    with catalog.open(args.name, writable=False) as session:
        version = session.version(args.version)
        files = session.read_files(version)
        out: Path = args.out
        if out.exists() and not out.is_dir():
            raise StoreError(f"--out {out} is a file; export writes a folder (the kernel files "
                             f"and {EXPORT_SUMMARY}): name a folder")
        targets = [out / name for name in files] + [out / EXPORT_SUMMARY]
        clashes = [str(p) for p in targets if p.exists()]
        if clashes and not args.force:
            raise StoreError(f"would overwrite {', '.join(clashes)}; use --force or another --out")
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text)
        summary = {
            "session": session.name,
            "target": session.meta.get("target"),
            "version": version.to_doc(),
            "path_to_root": [
                {
                    "id": v.id,
                    "author": v.author,
                    "message": v.message,
                    "gmean": v.score.gmean if v.score else None,
                    "created": v.created,
                }
                for v in session.lineage.path_to_root(version.id)
            ],
        }
        (out / EXPORT_SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"exported {version.id} of '{args.name}' to {out}: {', '.join(sorted(files))}, "
        f"{EXPORT_SUMMARY}"
    )
    return 0


USER_ERRORS = (
    StoreError,
    OperatorUnavailable,
    CandidateError,
    ContractError,
    UnknownTarget,
    ToolchainUnavailable,
    WorkerError,
    KnowledgeError,
    SettingsFileError,
)

# -- parser -----------------------------------------------------------------------------------


class _VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print avo-tui's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from . import __version__

        print(f"avo-tui {__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = ArgumentParser(
        prog="avo",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--sessions-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding the session folders (default: see below)",
    )
    parser.set_defaults(func=app_command.cmd_default)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

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
        "writing process, if one is live) and last activity.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = add_command(
        sub, "show", cmd_sessions_show, "a session's versions and head",
        "Show a session's versions (the latest 50 unless --all) and where the head and the best "
        "version are. Reads without locking, so it works while a run is live.",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--all", action="store_true", help="list every version")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

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

    p = add_command(
        commands, "export", cmd_export,
        "write a version's kernel files and a JSON summary to a folder",
        "Write the kernel source files of one version, plus avo-version.json: the version's "
        "record and its path back to the seed.",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--version", dest="version", default="best", metavar="V",
                   help="version id (v0, v1, ...), 'best' (default) or 'head'")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="destination folder")
    p.add_argument("--force", action="store_true", help="overwrite files already in DIR")

    run.register(commands)
    app_command.register(commands)
    send.register(commands)
    evaluate.register(commands)
    kb.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        # inside the try: a session name is checked as the arguments are read
        args = build_parser().parse_args(argv)
        args.sessions_dir = resolve_sessions_dir(args.sessions_dir)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except OSError as exc:
        print(f"avo: error: {os_error_text(exc)}", file=sys.stderr)
        return 1
    except USER_ERRORS as exc:
        print(f"avo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avo: interrupted", file=sys.stderr)
        return 130


def os_error_text(exc: OSError) -> str:
    """``/x/y: permission denied`` rather than ``[Errno 13] Permission denied: '/x/y'``."""
    if exc.strerror is None:
        return str(exc)
    reason = exc.strerror[:1].lower() + exc.strerror[1:]
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason

if __name__ == "__main__":
    sys.exit(main())
