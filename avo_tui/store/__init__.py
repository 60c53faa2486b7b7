"""Persistence: the session database on crash-safe storage, and content-addressed blobs.

No Textual here: the store runs in headless processes and on bare GPU machines alike.
"""

from .blobs import BlobStore
from .catalog import SessionCatalog, SessionSummary, resolve_sessions_dir
from .diff import FileChange, VersionDiff, diff_files
from .errors import (
    DamagedSession,
    NewerSchema,
    SessionExists,
    SessionLocked,
    StoreError,
    UnknownSession,
    UnknownVersion,
)
from .lineage import Lineage
from .models import NOT_FAILURES, Attempt, Event, EventKind, Score, Suspect, Version
from .repair import RepairPlan, apply_repair, plan_repair
from .session import SCHEMA_VERSION, Session

__all__ = [
    "NOT_FAILURES",
    "SCHEMA_VERSION",
    "Attempt",
    "BlobStore",
    "DamagedSession",
    "Event",
    "EventKind",
    "FileChange",
    "Lineage",
    "NewerSchema",
    "RepairPlan",
    "Score",
    "Session",
    "SessionCatalog",
    "SessionExists",
    "SessionLocked",
    "SessionSummary",
    "StoreError",
    "Suspect",
    "UnknownSession",
    "UnknownVersion",
    "Version",
    "VersionDiff",
    "apply_repair",
    "diff_files",
    "plan_repair",
    "resolve_sessions_dir",
]
