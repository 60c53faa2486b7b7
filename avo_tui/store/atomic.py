"""Crash-safe file primitives: whole-file atomic replacement and directory fsync."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, backup: Path | None = None,
                 sync: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    Writes a temp file beside it, fsyncs it, renames it over ``path`` and fsyncs the directory.
    With ``backup``, the file being replaced is first copied to that name, so the previous
    generation survives next to the new one. A copy, not a hard link: a crash between the two
    renames would otherwise leave one file under both names, and damage to it would take the
    backup along. ``sync=False`` skips the fsyncs (a store opened without them, for speed):
    the rename is still atomic, but a power cut may leave the file old or empty.
    """
    if backup is not None and path.exists():
        atomic_write(backup, path.read_bytes())
    # One temp name per thread: lanes write from threads of one process.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync:
        fsync_dir(path.parent)
