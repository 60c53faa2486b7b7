"""``avo export``: a version's kernel files and a JSON summary of it, written to a folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..store import SessionCatalog, StoreError
from . import Subcommands, add_command, session_name

EXPORT_SUMMARY = "avo-version.json"


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


def register(commands: Subcommands) -> None:
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
