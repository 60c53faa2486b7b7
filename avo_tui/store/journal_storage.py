"""A TinyDB storage that keeps the database in memory and makes every write durable cheaply.

TinyDB hands a storage the whole database on every write. Rewriting it each time costs time in
proportion to its size, so this storage instead appends the *change* to a journal and, now and
then, compacts. Three ideas keep every write's cost independent of the session's size:

- **Segmented append-only tables.** Large tables (events, versions, attempts) are split by the
  caller into segments named ``<prefix>.<index:06d>`` of bounded length, so TinyDB's own
  per-table work stays bounded. For these the journal records only the added documents.
- **A checksummed journal.** Each TinyDB write (or each transaction) becomes one line,
  ``<crc32> <json>``, appended and fsynced. After a crash a torn last line is dropped; a bad line
  followed by good ones is reported as damage, never skipped.
- **Sealed segments.** At compaction, full segments are written once to ``segments/`` and never
  change again; the base file keeps only small tables and open segments, so compaction is
  bounded too. Sealed segments leave memory when they are sealed and are read from disk when
  touched, with only the last few kept (``SEALED_KEPT``): a week-long run holds a million
  events, and a process that kept them all would grow by a gigabyte.

Files in a session folder:

- ``session.json``: the base generation (atomic replace), naming the journal sequence it covers;
- ``session.json.bak``: the previous base generation;
- ``session.journal``: records after the base; ``session.journal.prev``: the records between the
  backup and the base, so the backup plus both journals reproduce everything;
- ``segments/<table>.json``: sealed segments.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from . import strict_json
from .atomic import atomic_write, fsync_dir
from .errors import AppendOnlyViolation, DamagedSession, NewerSchema, StoreError, StoreFailed

FORMAT = "avo-store/1"
BASE = "session.json"
BACKUP = "session.json.bak"
JOURNAL = "session.journal"
JOURNAL_PREV = "session.journal.prev"
SEGMENTS = "segments"

DEFAULT_COMPACT_BYTES = 1 << 20
SEALED_KEPT = 8  # sealed segments kept in memory once read, the most recently used

_SEGMENT_RE = re.compile(r"^(?P<prefix>[a-z_]+)\.(?P<index>\d{6})$")

Table = dict[str, Any]
Op = list[Any]


def segment_name(prefix: str, index: int) -> str:
    return f"{prefix}.{index:06d}"


def parse_segment_name(name: str) -> tuple[str, int] | None:
    match = _SEGMENT_RE.match(name)
    return (match["prefix"], int(match["index"])) if match else None


def _repair_hint(directory: Path) -> str:
    return f"Nothing was changed. `avo sessions repair {directory.name}` can recover it"


class _Sealed:
    """Placeholder for a sealed segment that has not been read from disk yet."""

    __slots__ = ()


_SEALED = _Sealed()
_MISSING = object()


class _Tables(dict[str, Any]):
    """The database as TinyDB sees it.

    It loads sealed segments on first access and remembers, for each table TinyDB replaces or
    deletes, what the table was before, so the storage can journal just the change.
    """

    def __init__(self, storage: JournalStorage, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._storage = storage
        self.before: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        value = dict.__getitem__(self, name)
        if value is _SEALED:
            return self._storage._sealed_table(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if dict.__contains__(self, name) else default

    def __setitem__(self, name: str, value: Any) -> None:
        self.before.setdefault(name, dict.get(self, name, _MISSING))
        dict.__setitem__(self, name, value)

    def __delitem__(self, name: str) -> None:
        self.before.setdefault(name, dict.get(self, name, _MISSING))
        dict.__delitem__(self, name)

    def pop(self, name: str, *default: Any) -> Any:
        if name in self:
            self.before.setdefault(name, dict.get(self, name))
        return dict.pop(self, name, *default)


def encode_record(seq: int, ops: list[Op]) -> bytes:
    payload = strict_json.dumps({"s": seq, "ops": ops}, separators=(",", ":"), ensure_ascii=False)
    data = payload.encode()
    return b"%08x " % zlib.crc32(data) + data + b"\n"


def decode_record(line: bytes, reader: strict_json.Reader | None = None) -> dict[str, Any] | None:
    """The record on one journal line, or None if the line is torn or corrupt."""
    if len(line) < 10 or not line.endswith(b"\n") or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        record = (reader or strict_json.Reader()).loads(payload)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("s"), int):
        return None
    return record


# An operation that does more than add records to an event or attempt segment, as
# encode_record writes it. Inside a JSON string every quote is escaped, so no text a record
# holds reads as one; a record's own data may (a list that starts with "set"), which only
# costs a reader the slow path.
_SETS_A_TABLE = re.compile(rb'\["(?:set|drop|reset)"|\["add","(?!(?:events|attempts)\.)')


def adds_only_events(line: bytes) -> bool:
    """Whether a journal line's record only adds events or attempts (read from its bytes, not
    decoded): such records change no session fact but those two logs (summary.py)."""
    return _SETS_A_TABLE.search(line) is None


@dataclass
class JournalScan:
    """The readable records of a journal file, and where its damage (if any) starts."""

    records: list[dict[str, Any]] = field(default_factory=list)
    good_bytes: int = 0
    torn_tail: bool = False
    damage: str | None = None


def scan_journal(path: Path, reader: strict_json.Reader | None = None) -> JournalScan:
    scan = JournalScan()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return scan
    lines = data.splitlines(keepends=True)
    offset = 0
    for number, line in enumerate(lines, start=1):
        record = decode_record(line, reader)
        if record is None:
            later_good = sum(decode_record(rest) is not None for rest in lines[number:])
            if later_good:
                scan.damage = (
                    f"journal line {number} (byte {offset}) is corrupt and {later_good} "
                    "readable records follow it"
                )
            else:
                scan.torn_tail = True
            return scan
        scan.records.append(record)
        offset += len(line)
        scan.good_bytes = offset
    return scan


def read_base(path: Path, reader: strict_json.Reader | None = None) -> dict[str, Any]:
    """Parse a base file; raise DamagedSession naming it when it cannot be used."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DamagedSession(path, "the file is missing", hint=_repair_hint(path.parent)) from None
    try:
        base = (reader or strict_json.Reader()).loads(raw)
    except ValueError as exc:
        reason = f"not valid JSON ({exc}); {len(raw)} bytes"
        raise DamagedSession(path, reason, hint=_repair_hint(path.parent)) from None
    found_format = base.get("format") if isinstance(base, dict) else None
    if isinstance(found_format, str) and found_format.startswith("avo-store/"):
        number = found_format.removeprefix("avo-store/")
        if number.isdigit() and int(number) > int(FORMAT.removeprefix("avo-store/")):
            raise NewerSchema(
                f"{path} is in storage format {found_format}, newer than this avo-tui reads "
                f"({FORMAT}). Upgrade avo-tui to open it."
            )
    if not isinstance(base, dict) or base.get("format") != FORMAT:
        found = base.get("format") if isinstance(base, dict) else type(base).__name__
        raise DamagedSession(
            path, f"not an avo session database (format {found!r})", hint=_repair_hint(path.parent)
        )
    return base


def apply_ops(tables: dict[str, Any], ops: list[Op]) -> None:
    """Apply one journal record's operations to a plain ``{name: table}`` mapping."""
    for op in ops:
        kind = op[0]
        if kind == "add":
            table = tables.get(op[1])
            if table is None:
                table = tables[op[1]] = {}
            table.update(op[2])
        elif kind == "set":
            tables[op[1]] = op[2]
        elif kind == "drop":
            tables.pop(op[1], None)
        elif kind == "reset":
            tables.clear()
        else:
            raise ValueError(f"unknown journal operation {kind!r}")


class JournalStorage(Storage):
    """See the module docstring. One writer per folder; any number of read-only readers."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_capacity: Mapping[str, int] | None = None,
        writable: bool = True,
        create: bool = False,
        compact_bytes: int = DEFAULT_COMPACT_BYTES,
        sync: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.capacity = dict(segment_capacity or {})  # read from the base file once it exists
        self.writable = writable
        self.compact_bytes = compact_bytes
        self.sync = sync
        self.failed: str | None = None
        self.compaction_error: str | None = None
        # A record did more than add events or attempts, or a compaction replaced the files,
        # since the session's summary was last written (summary.py); its writer clears it.
        self.facts_changed = False
        self._pending: list[Op] = []
        self._txn_depth = 0
        self._journal_file: Any = None
        if create:
            self._create()
        self._load()

    # -- files ---------------------------------------------------------------------------------

    @property
    def base_path(self) -> Path:
        return self.directory / BASE

    @property
    def journal_path(self) -> Path:
        return self.directory / JOURNAL

    def sealed_path(self, name: str) -> Path:
        return self.directory / SEGMENTS / f"{name}.json"

    def _create(self) -> None:
        if self.base_path.exists():
            raise StoreError(f"{self.base_path} already exists")
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / SEGMENTS).mkdir(exist_ok=True)
        base = {
            "format": FORMAT,
            "generation": 0,
            "seq": 0,
            "segments": self.capacity,
            "sealed": [],
            "tables": {},
        }
        payload = strict_json.dumps(base).encode()
        # The backup chain (backup + both journals) must be able to rebuild everything from the
        # start, so a base ruined before the first compaction still has a generation to replay.
        atomic_write(self.directory / BACKUP, payload)
        atomic_write(self.base_path, payload)

    def _load(self) -> None:
        """Read base and journal into memory. Readers retry if a compaction raced them."""
        for attempt in range(20):
            try:
                self._load_once()
                return
            except _JournalGap:
                if self.writable or attempt == 19:
                    raise DamagedSession(
                        self.journal_path,
                        "its first record does not follow the base file's sequence number",
                        hint=_repair_hint(self.directory),
                    ) from None
                time.sleep(0.05)

    def _load_once(self) -> None:
        base_stat = self.base_path.stat() if self.base_path.exists() else None
        reader = strict_json.Reader()  # an older avo wrote NaN and Infinity, which are not JSON
        base = read_base(self.base_path, reader)
        tables: dict[str, Any] = dict(base.get("tables", {}))
        self.capacity = dict(base.get("segments", {}))
        self.sealed: set[str] = set(base.get("sealed", []))
        for name in self.sealed:
            if not self.sealed_path(name).exists():
                raise DamagedSession(
                    self.sealed_path(name),
                    "this sealed segment is missing",
                    hint="It holds records that exist nowhere else; restore it from a copy",
                )
            tables[name] = _SEALED
        self.generation: int = base["generation"]
        self.seq: int = base["seq"]

        scan = scan_journal(self.journal_path, reader)
        if scan.damage:
            raise DamagedSession(self.journal_path, scan.damage, hint=_repair_hint(self.directory))
        for record in scan.records:
            if record["s"] <= self.seq:
                continue
            if record["s"] != self.seq + 1:
                raise _JournalGap
            apply_ops(tables, record["ops"])
            self.seq = record["s"]
        if scan.torn_tail and self.writable:
            with open(self.journal_path, "r+b") as f:
                f.truncate(scan.good_bytes)
                os.fsync(f.fileno())
        self._journal_offset = scan.good_bytes
        self._base_stamp = (base_stat.st_ino, base_stat.st_mtime_ns) if base_stat else None
        self._tables = _Tables(self, tables)
        self._sealed_kept: dict[str, Table] = {}
        if self.writable:
            self._open_journal()
            if reader.repaired:  # written back strict: a new generation, a new journal
                self.compact()

    def _open_journal(self) -> None:
        if self._journal_file is not None:
            self._journal_file.close()
        self._journal_file = open(self.journal_path, "ab")  # noqa: SIM115 - kept open
        self._journal_bytes = self._journal_file.tell()
        self._compact_at = self.compact_bytes

    def _sealed_table(self, name: str) -> Table:
        """A sealed segment, from the few kept in memory or else from disk."""
        table = self._sealed_kept.pop(name, None)
        if table is None:
            table = self._read_sealed(name)
        self._sealed_kept[name] = table  # now the most recently used
        while len(self._sealed_kept) > SEALED_KEPT:
            self._sealed_kept.pop(next(iter(self._sealed_kept)))
        return table

    def _read_sealed(self, name: str) -> Table:
        path = self.sealed_path(name)
        try:
            reader = strict_json.Reader()
            table = reader.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DamagedSession(path, f"cannot read sealed segment ({exc})") from None
        if not isinstance(table, dict):
            raise DamagedSession(path, "a sealed segment must hold a JSON object")
        if reader.repaired and self.writable:
            atomic_write(path, strict_json.dumps(table, ensure_ascii=False).encode())
        return table

    # -- TinyDB's interface ----------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        return self._tables

    def write(self, data: dict[str, Any]) -> None:
        if self.failed:
            raise StoreFailed(self.failed)
        if not self.writable:
            raise StoreError(f"{self.directory} is open read-only")
        if data is self._tables:
            ops = self._changes()
        else:  # TinyDB.drop_tables() writes a fresh dict
            ops = [["reset"], *(["set", name, table] for name, table in data.items())]
            self._tables = _Tables(self, data)
            self.sealed = set()
        self._pending.extend(ops)
        if self._txn_depth == 0:
            self._flush()

    def close(self) -> None:
        if self._journal_file is not None:
            self._journal_file.close()
            self._journal_file = None

    # -- journaling ------------------------------------------------------------------------------

    def _changes(self) -> list[Op]:
        ops: list[Op] = []
        before, self._tables.before = self._tables.before, {}
        for name, old in before.items():
            if name in self.sealed:
                raise AppendOnlyViolation(f"table {name} is sealed and cannot change")
            if name not in self._tables:
                ops.append(["drop", name])
                continue
            new = dict.__getitem__(self._tables, name)
            parsed = parse_segment_name(name)
            if parsed is None or parsed[0] not in self.capacity:
                ops.append(["set", name, new])
                continue
            old_table = {} if old is _MISSING else old
            added = {k: v for k, v in new.items() if k not in old_table}
            if len(old_table) + len(added) != len(new):
                raise AppendOnlyViolation(f"a record was removed from append-only table {name}")
            ops.append(["add", name, added])
        return ops

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several TinyDB writes into one journal record: all of them land, or none."""
        self._txn_depth += 1
        try:
            yield
        except BaseException:
            self._txn_depth -= 1
            if self._txn_depth == 0:
                self._pending.clear()
                self._tables.before.clear()
                self.reload()
            raise
        self._txn_depth -= 1
        if self._txn_depth == 0:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        line = encode_record(self.seq + 1, self._pending)
        try:
            self._journal_file.write(line)
            self._journal_file.flush()
            if self.sync:
                os.fsync(self._journal_file.fileno())
        except OSError as exc:
            self.failed = f"could not append to {self.journal_path}: {exc}; reopen the session"
            raise StoreFailed(self.failed) from exc
        self.seq += 1
        self._pending = []
        self._journal_bytes += len(line)
        self.facts_changed |= not adds_only_events(line)
        if self._journal_bytes >= self._compact_at:
            self.compact()

    def reload(self) -> None:
        """Drop the in-memory state and read the files again."""
        self._load()

    # -- compaction --------------------------------------------------------------------------------

    def _full_segments(self) -> list[str]:
        full = []
        for name in dict.keys(self._tables):
            parsed = parse_segment_name(name)
            if not parsed or name in self.sealed or parsed[0] not in self.capacity:
                continue
            if len(dict.__getitem__(self._tables, name)) >= self.capacity[parsed[0]]:
                full.append(name)
        return full

    def compact(self) -> None:
        """Write a new base generation, sealing full segments, and start an empty journal."""
        if not self.writable or self._txn_depth:
            return
        try:
            self._write_generation()
        except OSError as exc:
            # The journal still holds everything; try again after another threshold's worth.
            self.compaction_error = f"compaction of {self.directory} failed: {exc}"
            self._compact_at = self._journal_bytes + self.compact_bytes
            return
        self.compaction_error = None
        self.facts_changed = True
        try:
            self._journal_file.close()
            self._journal_file = None
            os.replace(self.journal_path, self.directory / JOURNAL_PREV)
            self._open_journal()
            fsync_dir(self.directory)
        except OSError as exc:
            self.failed = f"could not start a new journal in {self.directory}: {exc}; reopen it"
            raise StoreFailed(self.failed) from exc
        self._journal_offset = 0

    def _write_generation(self) -> None:
        for name in self._full_segments():
            table = dict.__getitem__(self._tables, name)
            atomic_write(self.sealed_path(name),
                         strict_json.dumps(table, ensure_ascii=False).encode())
            self.sealed.add(name)
            dict.__setitem__(self._tables, name, _SEALED)  # on disk now: out of memory
        open_tables = {
            name: table for name, table in dict.items(self._tables) if name not in self.sealed
        }
        base = {
            "format": FORMAT,
            "generation": self.generation + 1,
            "seq": self.seq,
            "segments": self.capacity,
            "sealed": sorted(self.sealed),
            "tables": open_tables,
        }
        payload = strict_json.dumps(base, separators=(",", ":"), ensure_ascii=False).encode()
        atomic_write(self.base_path, payload, backup=self.directory / BACKUP)
        self.generation += 1
        stat = self.base_path.stat()
        self._base_stamp = (stat.st_ino, stat.st_mtime_ns)

    # -- following another process's writes -----------------------------------------------------

    def refresh(self) -> bool:
        """For readers: take in what the writer appended since the last look. True if changed."""
        if self.writable:
            return False
        try:
            stat = self.base_path.stat()
        except FileNotFoundError:
            return False
        if (stat.st_ino, stat.st_mtime_ns) != self._base_stamp:
            self._load()
            return True
        try:
            with open(self.journal_path, "rb") as f:
                f.seek(self._journal_offset)
                data = f.read()
        except FileNotFoundError:
            return False
        changed = False
        for line in data.splitlines(keepends=True):
            record = decode_record(line)
            if record is None:
                break
            if record["s"] != self.seq + 1:
                self._load()
                return True
            apply_ops(self._tables, record["ops"])
            self.seq = record["s"]
            self._journal_offset += len(line)
            changed = True
        self._tables.before.clear()
        return changed


class _JournalGap(Exception):
    pass
