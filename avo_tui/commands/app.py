"""``avo`` (no command): open the app on the last session, or start a new one with sensible
defaults; ``avo attach NAME``: open the app on a session another process runs."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..engine.client import RunClient
from ..store import SessionCatalog
from ..store.lock import SessionLock
from . import Subcommands, add_command, session_name
from .run import cmd_run, headless_restart, in_browser, require_terminal, run_app, run_args


def has_cuda_gpu() -> bool:
    """A cheap look for an NVIDIA GPU: its device node or its tool (torch is not loaded)."""
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def default_target() -> str:
    return "mha" if has_cuda_gpu() else "cpu-attention"


def new_session_name(catalog: SessionCatalog, target: str) -> str:
    taken = set(catalog.names())
    n = 1
    while f"{target}-{n}" in taken:
        n += 1
    return f"{target}-{n}"


def cmd_default(args: argparse.Namespace) -> int:
    """Resume the most recently active session (attach if another process runs it), or start
    a new one: target mha on a CUDA machine, cpu-attention otherwise."""
    require_terminal()
    catalog = SessionCatalog(args.sessions_dir)
    last = catalog.latest()
    if last is not None:
        if SessionLock(catalog.path(last)).holder() is not None:
            return _attach(catalog, last)
        print(f"resuming session '{last}' (avo run --session NAME opens another)")
        return cmd_run(run_args(last, sessions_dir=args.sessions_dir))
    target = default_target()
    name = new_session_name(catalog, target)
    print(f"starting session '{name}' on {target}")
    return cmd_run(run_args(name, sessions_dir=args.sessions_dir, target=target))


def cmd_attach(args: argparse.Namespace) -> int:
    require_terminal()
    return _attach(SessionCatalog(args.sessions_dir), args.name, args.read_only)


def _attach(catalog: SessionCatalog, name: str, read_only: bool = False) -> int:
    reason = run_app(RunClient(catalog.path(name), restart=headless_restart(catalog.root, name)),
                     read_only)
    if in_browser():  # standard output is the page's channel, not a terminal, until the end
        return 0
    holder = SessionLock(catalog.path(name)).holder()
    print(f"left '{name}'" + (f"; its run goes on in pid {holder.pid}" if holder and
                              reason == "detached" else ""))
    return 0


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "attach", cmd_attach, "open the app on a session another process runs",
        "Open the app on a session that avo run --headless is running (on this machine, e.g. "
        "over SSH). The controls reach that run; quitting asks whether to detach (the run "
        "goes on) or stop it. Several viewers may attach at once. A session no process runs "
        "opens for browsing; commands sent then apply when it runs again, and R starts its "
        "run (avo run --session NAME --headless, which goes on after you leave).",
        "example:\n  avo run --session long-1 --target mha --headless &\n  avo attach long-1",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--read-only", action="store_true",
                   help="watch only: no key that pauses, hints, guides, rolls back, stops, "
                   "restarts, forks, edits or decides on a suspect; q only leaves")
