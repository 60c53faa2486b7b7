"""The names a session and its kernel files may have: checked where a name comes in (the
command line, a session's creation, a kernel's files), by one rule each."""

from __future__ import annotations

import re

from .errors import StoreError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_file_name(name: str) -> str:
    """Kernel file names are relative paths that stay inside the folder they are exported to."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StoreError(f"invalid kernel file name {name!r}: use a relative path without '..'")
    return name


def check_session_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise StoreError(
            f"invalid session name {name!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name
