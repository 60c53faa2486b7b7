"""``avo serve``: the app in a browser, for a laptop or a phone, safely (docs/app.md, "In a
browser"). Each page that connects gets its own ``avo attach`` (the same app, keys and live
view as in a terminal), through textual-serve; the run is never this process's, so stopping
the server or closing a page never touches it.

Safe by default: it listens on 127.0.0.1 only (reach it through an SSH tunnel), another
address needs --host and is warned about, and every request needs the token printed once
here (web/guard.py). --read-only serves a view with no key that steers the run."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shlex
import socket
import sys

from ..store import SessionCatalog, StoreError
from . import NumberOption, Subcommands, add_command, session_name

DEFAULT_PORT = 8000
INSTALL = "pip install 'avo-tui[serve]' (scripts/setup installs it)"


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ..web import GuardedServer, new_token
    except ImportError:
        raise StoreError(f"avo serve needs textual-serve, which is not installed: {INSTALL}"
                         ) from None
    catalog = SessionCatalog(args.sessions_dir)
    name = args.name or catalog.latest()
    if name is None:
        raise StoreError(f"no session in {catalog.root} to serve: start one with avo run")
    with catalog.open(name, writable=False):  # exists and reads, or one line says why not
        pass
    if not loopback(args.host):
        print(f"avo serve: warning: --host {args.host} listens beyond this machine: whoever "
              "can reach it and has the token can "
              f"{'watch' if args.read_only else 'steer'} this run, and plain http carries the "
              "token unencrypted. An SSH tunnel to 127.0.0.1 is safer (ssh -L "
              f"{args.port or DEFAULT_PORT}:127.0.0.1:{args.port or DEFAULT_PORT} HOST).",
              file=sys.stderr)
    token = new_token()
    command = [sys.executable, "-m", "avo_tui", "--sessions-dir", str(catalog.root), "attach",
               name, *(["--read-only"] if args.read_only else [])]
    server = GuardedServer(shlex.join(command), args.host, args.port,
                           f"avo · {name}" + (" · read-only" if args.read_only else ""), token)

    def listening(port: int) -> None:
        where = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
        host = f"[{where}]" if ":" in where else where
        print(f"avo serve: {name}{' (read-only)' if args.read_only else ''}, open\n"
              f"  http://{host}:{port}/?token={token}\n"
              "in a browser. The token is printed only here; every request needs it. Each "
              "page is its own view of the run, as avo attach is; Ctrl-C stops serving (the "
              "run goes on).", flush=True)

    try:
        asyncio.run(server.run(listening))
    except OSError as error:
        raise StoreError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
                         " (--port 0 takes any free port)") from None
    return 0


def loopback(host: str) -> bool:
    """``host`` is this machine alone: 127.0.0.0/8, ::1, or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "serve", cmd_serve, "the app in a browser, behind a token",
        "Serve the app in a browser (textual-serve): the same live view and keys as avo "
        "attach, on any session, also one a run is writing now. It listens on 127.0.0.1 "
        "only; from another machine, tunnel to it (ssh -L 8000:127.0.0.1:8000 HOST) or give "
        "--host, which warns. Every request needs the token printed at start (kept nowhere "
        "else); a request without it gets 403. --read-only hides every key that changes the "
        "run. Stopping the server never stops the run.",
        "examples:\n  avo serve mha-1                      then open the address it prints\n"
        "  avo serve mha-1 --read-only          for a colleague: watch, no controls\n"
        "  avo serve mha-1 --host 0.0.0.0      reachable from the network (warned)",
    )
    p.add_argument("name", type=session_name, nargs="?", default=None,
                   help="session name (default: the session written last)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=NumberOption(int, 65535, zero=True), default=DEFAULT_PORT,
                   help=f"the port (default: {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--read-only", action="store_true",
                   help="no key that pauses, hints, guides, rolls back, stops, restarts, forks, "
                   "edits or decides on a suspect")
