"""A new session from a version of this one, from the app (``f``): its files become the new
session's seed, as ``avo sessions new NAME --target T --seed ...`` makes it. Made in a process
of its own, as the CLI makes it, so the app holds no second session's writer; nothing runs on
the new session until the user says so (``avo run --session NAME``): a second run would
share this one's GPUs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..store import Session
from .messages import Forked

FORK_TIMEOUT_S = 120.0


def fork_session(session: Session, vid: str, name: str) -> Forked:
    """Session ``name`` made from ``session``'s version ``vid``; what became of it."""
    files = session.read_files(vid)
    folder = Path(tempfile.mkdtemp(prefix="avo-fork-"))
    try:
        seeds: list[str] = []
        for file_name, text in files.items():
            path = folder / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            seeds += ["--seed", str(path)]
        argv = [sys.executable, "-m", "avo_tui", "--sessions-dir", str(session.directory.parent),
                "sessions", "new", name, "--target", str(session.meta.get("target")),
                "--message", f"forked from {session.name}:{vid}", *seeds]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=FORK_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Forked(f"cannot fork {vid}: no answer within {FORK_TIMEOUT_S:.0f} s", False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode:
        said = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["?"]
        return Forked(f"cannot fork {vid}: {said[0].removeprefix('avo: ')}", False)
    return Forked(f"session {name} made from {session.name}'s {vid}; avo run --session {name} "
                  "runs it", True)
