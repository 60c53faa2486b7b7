"""Errors the store raises. Each message is meant to be shown to a person as it is."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class StoreError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class DamagedSession(StoreError):
    """A session file cannot be read back. Nothing was modified."""

    def __init__(self, path: object, reason: str, *, hint: str = "") -> None:
        self.path = path
        self.reason = reason
        message = f"damaged session file {path}: {reason}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class NewerSchema(StoreError):
    """The session was written by a newer avo-tui than this one."""


class SessionLocked(StoreError):
    """Another live process is writing this session."""


class StoreFailed(StoreError):
    """A write failed half-way; the in-memory state can no longer be trusted."""


class AppendOnlyViolation(StoreError):
    """Something tried to remove or rewrite a record of an append-only table."""


def _close_matches(wanted: str, known: Iterable[str]) -> str:
    names = sorted(known)
    matches = difflib.get_close_matches(wanted, names, n=4, cutoff=0.5)
    if not matches:
        matches = [n for n in names if wanted.lower() in n.lower()][:4]
    return f" (did you mean: {', '.join(matches)}?)" if matches else ""


class UnknownSession(StoreError):
    def __init__(self, name: str, known: Iterable[str], where: object) -> None:
        self.name = name
        super().__init__(f"no session named '{name}' in {where}{_close_matches(name, known)}")


class UnknownVersion(StoreError):
    def __init__(self, ref: str, known: Iterable[str], reason: str = "") -> None:
        self.ref = ref
        message = reason or f"no version '{ref}' in this session{_close_matches(ref, known)}"
        super().__init__(message)


class SessionExists(StoreError):
    pass
