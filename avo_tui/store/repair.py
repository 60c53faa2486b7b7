"""Recovery of a damaged session from its backup generation and journals.

``plan_repair`` only reads: it tries the base file, then the backup, replays every readable journal
record after each, and keeps whichever reaches furthest. ``apply_repair`` first copies every
original file into ``damaged-<time>/`` in the session folder, so nothing is ever lost by repairing.
"""

from __future__ import annotations

import itertools
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import strict_json
from .atomic import atomic_write, fsync_dir
from .errors import DamagedSession, StoreError
from .journal_storage import (
    BACKUP,
    BASE,
    FORMAT,
    JOURNAL,
    JOURNAL_PREV,
    SEGMENTS,
    apply_ops,
    parse_segment_name,
    read_base,
    scan_journal,
)
from .lock import SessionLock


@dataclass
class RepairPlan:
    directory: Path
    problems: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    source: str = ""
    seq: int = 0
    generation: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    sealed: list[str] = field(default_factory=list)
    segments: dict[str, int] = field(default_factory=dict)

    @property
    def needed(self) -> bool:
        return bool(self.problems)

    @property
    def possible(self) -> bool:
        return bool(self.source)


@dataclass
class _Candidate:
    source: str
    seq: int
    generation: int
    tables: dict[str, Any]
    sealed: list[str]
    segments: dict[str, int]


def _replay(directory: Path, base_name: str, plan: RepairPlan) -> _Candidate | None:
    if base_name == BACKUP and not (directory / BACKUP).exists():
        return None  # sessions created before the backup was written at creation
    try:
        base = read_base(directory / base_name)
    except DamagedSession as exc:
        plan.problems.append(f"{base_name}: {exc.reason}")
        return None
    tables = dict(base.get("tables", {}))
    seq = base["seq"]
    for journal in (JOURNAL_PREV, JOURNAL):
        scan = scan_journal(directory / journal)
        for record in scan.records:
            if record["s"] <= seq:
                continue
            if record["s"] != seq + 1:
                break
            apply_ops(tables, record["ops"])
            seq = record["s"]
        if scan.damage and base_name == BASE:
            plan.problems.append(f"{journal}: {scan.damage}")
    sealed = list(base.get("sealed", []))
    return _Candidate(base_name, seq, base["generation"], tables, sealed, base.get("segments", {}))


def _count(directory: Path, candidate: _Candidate, plan: RepairPlan) -> None:
    for name in candidate.sealed:
        path = directory / SEGMENTS / f"{name}.json"
        try:
            candidate.tables[name] = strict_json.Reader().loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            problem = f"sealed segment {path.name} cannot be read ({exc})"
            plan.problems.append(problem)
            plan.lost.append(f"{problem}: restore it from a copy by hand")
    for name, table in candidate.tables.items():
        parsed = parse_segment_name(name)
        if parsed:
            plan.counts[parsed[0]] = plan.counts.get(parsed[0], 0) + len(table)


def plan_repair(directory: Path) -> RepairPlan:
    plan = RepairPlan(directory)
    if not (directory / BASE).exists() and not (directory / BACKUP).exists():
        raise StoreError(f"{directory} holds neither {BASE} nor {BACKUP}: nothing to recover from")
    candidates = [c for c in (_replay(directory, n, plan) for n in (BASE, BACKUP)) if c]
    if not candidates:
        return plan
    best = max(candidates, key=lambda c: (c.seq, c.source == BASE))
    if best.source != BASE and candidates[0].source == BASE:
        plan.problems.append(f"{BASE} is missing records that the backup chain still has")
    for journal in (JOURNAL_PREV, JOURNAL):
        scan = scan_journal(directory / journal)
        if scan.damage:
            unread = sum(1 for _ in (directory / journal).read_bytes().splitlines()) - len(
                scan.records
            )
            plan.lost.append(f"{unread} unreadable lines of {journal} (kept in the damaged copy)")
    plan.source = best.source
    plan.seq = best.seq
    plan.generation = max(c.generation for c in candidates) + 1
    plan.sealed = best.sealed
    plan.segments = best.segments
    _count(directory, best, plan)
    plan.tables = {n: t for n, t in best.tables.items() if n not in best.sealed}
    return plan


def apply_repair(plan: RepairPlan) -> Path:
    """Rewrite the session from the plan; returns the folder holding copies of the originals."""
    if not plan.possible:
        raise StoreError(f"no readable generation of {plan.directory.name} to recover from")
    lock = SessionLock(plan.directory)
    lock.acquire()
    try:
        keep = _new_folder(plan.directory, time.strftime("damaged-%Y%m%d-%H%M%S"))
        for name in (BASE, BACKUP, JOURNAL, JOURNAL_PREV):
            if (plan.directory / name).exists():
                shutil.copy2(plan.directory / name, keep / name)
        fsync_dir(keep)
        base = {
            "format": FORMAT,
            "generation": plan.generation,
            "seq": plan.seq,
            "segments": plan.segments,
            "sealed": plan.sealed,
            "tables": plan.tables,
        }
        payload = strict_json.dumps(base, separators=(",", ":"), ensure_ascii=False).encode()
        atomic_write(plan.directory / BASE, payload)
        atomic_write(plan.directory / BACKUP, payload)
        atomic_write(plan.directory / JOURNAL_PREV, b"")
        atomic_write(plan.directory / JOURNAL, b"")
        return keep
    finally:
        lock.release()


def _new_folder(directory: Path, name: str) -> Path:
    """A folder of that name, or name-2, name-3...: two repairs in one second keep both."""
    for index in itertools.count(1):
        folder = directory / (name if index == 1 else f"{name}-{index}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")
