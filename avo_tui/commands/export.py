"""``avo export``: a version's kernel files and a JSON summary of it, written to a folder
(--out); or a pip-installable package registering it as a PyTorch operator (--torch, a
session's version or a target's seed: torch_package.py); or that package checked where it runs
(--check: check_package.py, in a fresh process)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..engine.launch import choose_seed, session_target
from ..evaluation import get_target
from ..store import SessionCatalog, StoreError
from . import Subcommands, add_command, bounded_int, session_name
from .torch_package import build_spec, check_name, default_name, write_package

EXPORT_SUMMARY = "avo-version.json"
MOST_ROUNDS = 100  # --check's timing rounds: minutes each on a GPU


def cmd_export(args: argparse.Namespace) -> int:
    if args.check is not None:
        from .export_check import run_check

        return run_check(args.check, quick=args.quick, json_out=args.json, rounds=args.rounds)
    if args.torch is not None:
        return export_torch(args)
    if args.name is None or args.out is None:
        raise StoreError("name a session and --out DIR (its files), or --torch DIR (a PyTorch "
                         "operator, of a session's version or of --target T's seed), or "
                         "--check DIR")
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


def export_torch(args: argparse.Namespace) -> int:
    """The package of a session's version, or of a target's seed (no session)."""
    provenance: dict[str, object]
    if args.name is not None:
        with SessionCatalog(args.sessions_dir).open(args.name, writable=False) as session:
            version = session.version(args.version)
            files = session.read_files(version)
            target = session_target(session.name, session.meta)
            score = version.score
            provenance = {"session": session.name, "version": version.id,
                          "scored": {"gmean": score.gmean if score else None,
                                     "per_config": dict(score.per_config) if score else {},
                                     "unit": target.unit}}
    elif args.target is not None:
        target = get_target(args.target)
        choice = choose_seed(target, args.arch)
        files = choice.files
        provenance = {"session": None, "version": "seed", "seed": choice.seed.kernel,
                      "seed_knobs": dict(choice.seed.knobs)}
    else:
        raise StoreError("--torch exports a session's version (name the session) or a "
                         "target's seed (--target T)")
    name = check_name(args.package or default_name(target))
    spec = build_spec(target, files, name, provenance)
    written = write_package(args.torch, spec, files, target.description, args.force)
    what = (f"{provenance['version']} of '{args.name}'" if args.name
            else f"the seed of {target.name}")
    print(f"exported {what} as the package {name} in {args.torch} ({len(written)} files): "
          f"pip install {args.torch}, then import {name}; torch.ops.{name}.fwd")
    print(f"check it on this machine: avo export --check {args.torch}")
    return 0


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "export", cmd_export,
        "write a version's kernel files, or a PyTorch operator package, to a folder",
        "Write the kernel source files of one version, plus avo-version.json: the version's "
        "record and its path back to the seed (--out). With --torch, write a pip-installable "
        "package that registers torch.ops.NAME.fwd over the kernel exactly as it was scored "
        "(its sources, defines, build and launch), of a session's version or of a target's "
        "seed (--target, no session). --check imports such a package in a fresh process and "
        "checks it against the reference and the evaluator's timing (docs/export.md).",
    )
    p.add_argument("name", type=session_name, nargs="?", help="session name")
    p.add_argument("--version", dest="version", default="best", metavar="V",
                   help="version id (v0, v1, ...), 'best' (default) or 'head'")
    p.add_argument("--out", type=Path, metavar="DIR", help="destination folder")
    p.add_argument("--torch", type=Path, metavar="DIR",
                   help="write a PyTorch operator package to DIR instead")
    p.add_argument("--target", metavar="T", help="with --torch and no session: the seed of "
                   "target T")
    p.add_argument("--arch", metavar="SM", help="with --target: the seed chosen for this GPU "
                   "architecture (sm_90a, sm_80 ...); default the target's first")
    p.add_argument("--name", dest="package", metavar="PKG",
                   help="the package's name (default avo_ and the target's name)")
    p.add_argument("--check", type=Path, metavar="DIR",
                   help="check the package in DIR where it runs: correctness, torch.compile, "
                   "CUDA graphs, the fallback, and its speed beside the evaluator's")
    p.add_argument("--quick", action="store_true", help="with --check: the quick grid")
    p.add_argument("--json", type=Path, metavar="FILE", help="with --check: the figures too")
    p.add_argument("--rounds", type=bounded_int(MOST_ROUNDS), default=1, metavar="N",
                   help="with --check: timing rounds, alternating the op and the evaluator")
    p.add_argument("--force", action="store_true", help="overwrite files already in DIR")
