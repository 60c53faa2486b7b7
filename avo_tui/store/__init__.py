"""Persistence: the session database on crash-safe storage, and content-addressed blobs.

No Textual here: the store runs in headless processes and on bare GPU machines alike.

The names below are imported when first used, not with the package: ``avo sessions list``
reads each session's summary (summary.py) and needs neither the session's records nor the
payloads' types.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .blobs import BlobStore
    from .catalog import SessionCatalog, SessionSummary, resolve_sessions_dir
    from .diff import FileChange, VersionDiff, diff_files
    from .doc_fields import DocError
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
    from .models import (
        NO_VERSION_YET,
        NOT_FAILURES,
        TO_THE_GATE,
        Attempt,
        Event,
        EventKind,
        Outcome,
        Score,
        Suspect,
        Version,
        base_label,
    )
    from .payloads import (
        PAYLOAD_TYPES,
        AttemptPayload,
        BenchmarkPayload,
        CommitPayload,
        CompilePayload,
        CorrectnessPayload,
        ErrorPayload,
        FlaggedPayload,
        GuidancePayload,
        HintPayload,
        MalformedPayload,
        OperatorPayload,
        PausePayload,
        Payload,
        PayloadError,
        PlanPayload,
        QueuedPayload,
        RescorePayload,
        ResearchPayload,
        ResumePayload,
        RollbackPayload,
        SessionPayload,
        StatusPayload,
        StepPayload,
        StepResumedPayload,
        SupervisorPayload,
        SuspectPayload,
        ToolCallPayload,
        UnknownPayload,
        UnreadablePayload,
        append_payload,
        payload_of,
    )
    from .repair import RepairPlan, apply_repair, plan_repair
    from .run_state import MOST_LANES, InFlight, RunState
    from .session import SCHEMA_VERSION, Session

_WHERE = {
    "BlobStore": "blobs",
    **dict.fromkeys(("SessionCatalog", "SessionSummary", "resolve_sessions_dir"), "catalog"),
    **dict.fromkeys(("FileChange", "VersionDiff", "diff_files"), "diff"),
    "DocError": "doc_fields",
    **dict.fromkeys((
        "DamagedSession", "NewerSchema", "SessionExists", "SessionLocked", "StoreError",
        "UnknownSession", "UnknownVersion",
    ), "errors"),
    "Lineage": "lineage",
    **dict.fromkeys((
        "NO_VERSION_YET", "NOT_FAILURES", "TO_THE_GATE", "Attempt", "Event", "EventKind",
        "Outcome", "Score", "Suspect", "Version", "base_label",
    ), "models"),
    **dict.fromkeys((
        "PAYLOAD_TYPES", "AttemptPayload", "BenchmarkPayload", "CommitPayload", "CompilePayload",
        "CorrectnessPayload", "ErrorPayload", "FlaggedPayload", "GuidancePayload", "HintPayload",
        "MalformedPayload", "OperatorPayload", "PausePayload", "Payload", "PayloadError",
        "PlanPayload", "QueuedPayload", "RescorePayload", "ResearchPayload", "ResumePayload",
        "RollbackPayload", "SessionPayload", "StatusPayload", "StepPayload", "StepResumedPayload",
        "SupervisorPayload", "SuspectPayload", "ToolCallPayload", "UnknownPayload",
        "UnreadablePayload", "append_payload", "payload_of",
    ), "payloads"),
    **dict.fromkeys(("RepairPlan", "apply_repair", "plan_repair"), "repair"),
    **dict.fromkeys(("MOST_LANES", "InFlight", "RunState"), "run_state"),
    **dict.fromkeys(("SCHEMA_VERSION", "Session"), "session"),
}

if not TYPE_CHECKING:  # mypy reads the imports above, and so still checks every name

    def __getattr__(name: str) -> Any:
        where = _WHERE.get(name)
        if where is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{where}", __name__), name)


__all__ = [
    "MOST_LANES",
    "NOT_FAILURES",
    "NO_VERSION_YET",
    "PAYLOAD_TYPES",
    "SCHEMA_VERSION",
    "TO_THE_GATE",
    "Attempt",
    "AttemptPayload",
    "BenchmarkPayload",
    "BlobStore",
    "CommitPayload",
    "CompilePayload",
    "CorrectnessPayload",
    "DamagedSession",
    "DocError",
    "ErrorPayload",
    "Event",
    "EventKind",
    "FileChange",
    "FlaggedPayload",
    "GuidancePayload",
    "HintPayload",
    "InFlight",
    "Lineage",
    "MalformedPayload",
    "NewerSchema",
    "OperatorPayload",
    "Outcome",
    "PausePayload",
    "Payload",
    "PayloadError",
    "PlanPayload",
    "QueuedPayload",
    "RepairPlan",
    "RescorePayload",
    "ResearchPayload",
    "ResumePayload",
    "RollbackPayload",
    "RunState",
    "Score",
    "Session",
    "SessionCatalog",
    "SessionExists",
    "SessionLocked",
    "SessionPayload",
    "SessionSummary",
    "StatusPayload",
    "StepPayload",
    "StepResumedPayload",
    "StoreError",
    "SupervisorPayload",
    "Suspect",
    "SuspectPayload",
    "ToolCallPayload",
    "UnknownPayload",
    "UnknownSession",
    "UnknownVersion",
    "UnreadablePayload",
    "Version",
    "VersionDiff",
    "append_payload",
    "apply_repair",
    "base_label",
    "diff_files",
    "payload_of",
    "plan_repair",
    "resolve_sessions_dir",
]
