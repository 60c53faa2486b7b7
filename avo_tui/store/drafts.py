"""Drafts: work in progress that must survive a crash but is not part of the record.

The agent's conversation of the step in flight is the one draft today. It changes after every
turn and is dropped when the step ends (the transcript blob is the record), so it lives as one
small file per name under ``drafts/``, replaced atomically, not in the database, whose writes
must not grow with it, nor in the blob store, which keeps everything forever.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from pathlib import Path
from typing import Any

from .atomic import atomic_write, fsync_dir
from .errors import StoreError

DRAFTS = "drafts"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class Drafts:
    def __init__(self, session_dir: Path) -> None:
        self.root = session_dir / DRAFTS

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise StoreError(f"not a draft name: {name!r}")
        return self.root / f"{name}.json"

    def save(self, name: str, doc: dict[str, Any]) -> None:
        """Replace the draft ``name``; durable when this returns."""
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        self.root.mkdir(exist_ok=True)
        atomic_write(self._path(name), data.encode("utf-8", "surrogatepass"))

    def load(self, name: str) -> dict[str, Any] | None:
        """The draft ``name``, or None when there is none or it cannot be read (a draft is
        a convenience: a damaged one is reported by the caller and dropped, never fatal)."""
        try:
            doc = json.loads(self._path(name).read_bytes().decode("utf-8", "surrogatepass"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def drop(self, name: str) -> None:
        path = self._path(name)
        if path.exists():
            with suppress(FileNotFoundError):
                path.unlink()
            fsync_dir(self.root)
