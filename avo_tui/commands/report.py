"""``avo report``: a session drawn as one HTML page that opens anywhere, offline (report/)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..store import SessionCatalog, StoreError
from ..store.atomic import atomic_write
from . import Subcommands, add_command, session_name


def cmd_report(args: argparse.Namespace) -> int:
    from ..report import collect, render  # plotly's bundle loads only for a report

    out: Path = args.out if args.out is not None else Path(f"{args.name}.html")
    if out.is_dir():
        raise StoreError(f"--out {out} is a folder; name the file, e.g. {out / args.name}.html")
    started = time.monotonic()
    with SessionCatalog(args.sessions_dir).open(args.name, writable=False) as session:
        print(f"reading {args.name}: {len(session.lineage):,} versions, "
              f"{session.attempt_count:,} attempts, {session.last_seq:,} events",
              file=sys.stderr)
        page = render(collect(session))
    atomic_write(out, page.encode())
    print(f"wrote {out} ({len(page) / 1e6:.1f} MB in {time.monotonic() - started:.1f} s): "
          "one file, it opens in any browser with no network")
    return 0


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "report", cmd_report, "a session as one HTML page, for anyone, offline",
        "Draw a session as one self-contained HTML file: the best score over time and over "
        "versions with each commit's gain and its standard error, the strongest baseline as a "
        "line, the lineage as a tree (click a version for its diff and notes), each "
        "configuration's ratio to each baseline for the seed and the best, the attempts per "
        "hour by outcome, the agent's cost and tokens over time, and the operator's hints, "
        "guidance and rollbacks on the timeline. Everything is inside the file (plotly.js "
        "too): it opens offline, attached to a mail or copied to a laptop. It reads the "
        "session's journal only, so a session copied from a GPU machine is drawn anywhere, "
        "and a live run's session can be drawn while it runs.",
        "examples:\n  avo report mha-1                     writes mha-1.html here\n"
        "  avo report mha-1 --out ~/week1.html",
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.html",
                   help="where to write the page (default: SESSION.html in this folder)")
