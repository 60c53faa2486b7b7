"""The journaled TinyDB storage: durability, bounded write cost, compaction, damage detection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB
from tinydb.table import Document

from avo_tui.store.errors import AppendOnlyViolation, DamagedSession, NewerSchema
from avo_tui.store.journal_storage import (
    BACKUP,
    BASE,
    JOURNAL,
    JOURNAL_PREV,
    SEALED_KEPT,
    SEGMENTS,
    JournalStorage,
    decode_record,
)

CAPACITY = {"events": 4}


def open_db(directory: Path, **options: object) -> TinyDB:
    return TinyDB(directory, storage=JournalStorage, **options)


def create_db(directory: Path, **options: object) -> TinyDB:
    options.setdefault("segment_capacity", CAPACITY)
    return open_db(directory, create=True, **options)


def journal_records(directory: Path) -> list[dict[str, Any] | None]:
    """The journal's records, None for a line that does not decode."""
    lines = (directory / JOURNAL).read_bytes().splitlines(keepends=True)
    return [decode_record(line) for line in lines]


def fingerprint(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def append_event(db: TinyDB, seq: int) -> None:
    table = f"events.{(seq - 1) // CAPACITY['events']:06d}"
    db.table(table).insert(Document({"seq": seq, "text": f"event {seq}"}, doc_id=seq))


def test_every_write_survives_reopen(tmp_path: Path) -> None:
    db = create_db(tmp_path)
    state = db.table("state")
    state.insert({"head": "v0"})
    state.update({"head": "v3"}, doc_ids=[1])
    db.table("scratch").insert({"x": 1})
    db.drop_table("scratch")
    for seq in range(1, 11):
        append_event(db, seq)
    db.close()

    again = open_db(tmp_path)
    assert again.table("state").get(doc_id=1) == {"head": "v3"}
    assert "scratch" not in again.tables()
    events = [d["seq"] for name in sorted(again.tables()) if name.startswith("events.")
              for d in again.table(name).all()]
    assert events == list(range(1, 11))


def test_appending_to_a_segment_journals_only_the_new_document(tmp_path: Path) -> None:
    db = create_db(tmp_path, segment_capacity={"events": 1000})
    for seq in range(1, 501):
        db.table("events.000000").insert(Document({"seq": seq, "pad": "x" * 100}, doc_id=seq))
    record = journal_records(tmp_path)[-1]
    assert record is not None
    assert record["ops"] == [["add", "events.000000", {"500": {"seq": 500, "pad": "x" * 100}}]]
    # The 500th append costs as many journal bytes as the 100th (same digit counts).
    sizes = [len(line) for line in (tmp_path / JOURNAL).read_bytes().splitlines()]
    assert sizes[-1] == sizes[99]


def test_removing_from_an_append_only_segment_is_refused(tmp_path: Path) -> None:
    db = create_db(tmp_path)
    append_event(db, 1)
    with pytest.raises(AppendOnlyViolation):
        db.table("events.000000").remove(doc_ids=[1])


def test_compaction_seals_full_segments_and_keeps_the_previous_generation(tmp_path: Path) -> None:
    db = create_db(tmp_path, compact_bytes=600)
    for seq in range(1, 31):
        append_event(db, seq)
    db.table("state").insert({"head": "v1"})
    storage: JournalStorage = db.storage  # type: ignore[assignment]
    assert storage.generation >= 2
    assert (tmp_path / BACKUP).exists() and (tmp_path / JOURNAL_PREV).exists()
    base = json.loads((tmp_path / BASE).read_bytes())
    assert "events.000000" in base["sealed"]
    assert "events.000000" not in base["tables"]  # a sealed segment is not rewritten
    sealed = json.loads((tmp_path / SEGMENTS / "events.000000.json").read_bytes())
    assert [d["seq"] for d in sealed.values()] == [1, 2, 3, 4]
    db.close()

    again = open_db(tmp_path)
    reopened: JournalStorage = again.storage  # type: ignore[assignment]
    # Sealed segments are read from disk only when first used.
    assert dict.__getitem__(reopened.read(), "events.000000") is not None
    assert not isinstance(dict.__getitem__(reopened.read(), "events.000000"), dict)
    assert [d["seq"] for d in again.table("events.000000").all()] == [1, 2, 3, 4]
    all_seqs = sorted(d["seq"] for n in again.tables() if n.startswith("events.")
                      for d in again.table(n).all())
    assert all_seqs == list(range(1, 31))
    assert again.table("state").get(doc_id=1) == {"head": "v1"}
    with pytest.raises(AppendOnlyViolation):
        again.table("events.000000").insert(Document({"seq": 99}, doc_id=99))


def test_the_writer_keeps_only_a_few_sealed_segments_in_memory(tmp_path: Path) -> None:
    """A week-long run writes a million events: the writer must not hold them all."""
    db = create_db(tmp_path, compact_bytes=600)
    for seq in range(1, 201):
        append_event(db, seq)
    storage: JournalStorage = db.storage  # type: ignore[assignment]
    tables = storage.read()
    sealed = sorted(storage.sealed)
    assert len(sealed) >= 40
    loaded = [n for n in sealed if isinstance(dict.__getitem__(tables, n), dict)]
    assert loaded == []  # sealing wrote them out and let them go
    seqs = sorted(d["seq"] for n in sealed for d in db.table(n).all())  # every one is read
    assert seqs == list(range(1, 4 * len(sealed) + 1))
    assert len(storage._sealed_kept) == SEALED_KEPT  # of those, only the last few stay
    assert [n for n in sealed if isinstance(dict.__getitem__(tables, n), dict)] == []


def test_a_transaction_lands_whole_or_not_at_all(tmp_path: Path) -> None:
    db = create_db(tmp_path)
    storage: JournalStorage = db.storage  # type: ignore[assignment]
    with storage.transaction():
        db.table("state").insert({"head": "v0"})
        append_event(db, 1)
    assert len(journal_records(tmp_path)) == 1

    with pytest.raises(RuntimeError), storage.transaction():
        db.table("state").update({"head": "v9"}, doc_ids=[1])
        append_event(db, 2)
        raise RuntimeError("evaluation crashed mid-commit")
    assert db.table("state").get(doc_id=1) == {"head": "v0"}  # memory rolled back too
    assert len(journal_records(tmp_path)) == 1
    db.close()
    assert open_db(tmp_path).table("state").get(doc_id=1) == {"head": "v0"}


def test_a_torn_last_record_is_dropped_by_the_writer(tmp_path: Path) -> None:
    db = create_db(tmp_path)
    append_event(db, 1)
    append_event(db, 2)
    db.close()
    with open(tmp_path / JOURNAL, "ab") as f:
        f.write(b'1234abcd {"s":3,"ops":[["add","events.000')  # killed mid-write
    reader = open_db(tmp_path, writable=False)
    assert len(reader.table("events.000000")) == 2
    assert (tmp_path / JOURNAL).read_bytes().endswith(b'events.000')  # a reader changes nothing

    writer = open_db(tmp_path)
    assert len(writer.table("events.000000")) == 2
    assert (tmp_path / JOURNAL).read_bytes().endswith(b"\n")
    append_event(writer, 3)
    writer.close()
    assert len(open_db(tmp_path).table("events.000000")) == 3


def test_corruption_inside_the_journal_is_reported_not_skipped(tmp_path: Path) -> None:
    db = create_db(tmp_path)
    for seq in range(1, 6):
        append_event(db, seq)
    db.close()
    data = bytearray((tmp_path / JOURNAL).read_bytes())
    second_line = data.index(b"\n") + 1
    data[second_line + 20] ^= 0x01
    (tmp_path / JOURNAL).write_bytes(bytes(data))
    before = fingerprint(tmp_path)

    with pytest.raises(DamagedSession) as excinfo:
        open_db(tmp_path)
    assert str(excinfo.value.path).endswith(JOURNAL)
    assert "line 2" in str(excinfo.value) and "repair" in str(excinfo.value)
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize("damage", [b"", b'{"format": "avo-store/1", "gen', b"\x00" * 64])
def test_a_damaged_base_file_is_named_and_left_alone(tmp_path: Path, damage: bytes) -> None:
    db = create_db(tmp_path)
    append_event(db, 1)
    db.close()
    (tmp_path / BASE).write_bytes(damage)
    before = fingerprint(tmp_path)
    with pytest.raises(DamagedSession) as excinfo:
        open_db(tmp_path)
    assert Path(str(excinfo.value.path)).name == BASE
    assert f"avo sessions repair {tmp_path.name}" in str(excinfo.value)
    assert fingerprint(tmp_path) == before


def test_a_missing_sealed_segment_is_named(tmp_path: Path) -> None:
    db = create_db(tmp_path, compact_bytes=300)
    for seq in range(1, 12):
        append_event(db, seq)
    db.close()
    (tmp_path / SEGMENTS / "events.000000.json").unlink()
    with pytest.raises(DamagedSession, match=r"events\.000000\.json"):
        open_db(tmp_path)


def test_a_newer_storage_format_is_refused(tmp_path: Path) -> None:
    create_db(tmp_path).close()
    base = json.loads((tmp_path / BASE).read_bytes())
    base["format"] = "avo-store/7"
    (tmp_path / BASE).write_text(json.dumps(base))
    with pytest.raises(NewerSchema, match="avo-store/7"):
        open_db(tmp_path)


def test_a_reader_follows_the_writer_across_compactions(tmp_path: Path) -> None:
    writer = create_db(tmp_path, compact_bytes=500)
    append_event(writer, 1)
    reader = open_db(tmp_path, writable=False)
    reader_storage: JournalStorage = reader.storage  # type: ignore[assignment]
    for seq in range(2, 40):
        append_event(writer, seq)
        assert reader_storage.refresh()
        seqs = sorted(d["seq"] for n in reader.tables() if n.startswith("events.")
                      for d in reader.table(n).all())
        assert seqs == list(range(1, seq + 1))
    assert not reader_storage.refresh()
