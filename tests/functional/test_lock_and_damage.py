"""One writer at a time; damaged or newer sessions are refused with a clear message and
repaired from the backup generation without losing anything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_session

from avo_tui.cli import main
from avo_tui.store import DamagedSession, NewerSchema, Score, Session, SessionLocked
from avo_tui.store.journal_storage import BACKUP, BASE, JOURNAL, JOURNAL_PREV
from avo_tui.store.repair import apply_repair, plan_repair

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from avo_tui.store import Session
    session = Session.open(Path(sys.argv[1]))
    print("holding", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def other_writer(session_dir: Path) -> Iterator[subprocess.Popen[str]]:
    make_session(session_dir).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(session_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_naming_the_holder(
    session_dir: Path, other_writer: subprocess.Popen[str]
) -> None:
    with pytest.raises(SessionLocked) as excinfo:
        Session.open(session_dir)
    message = str(excinfo.value)
    assert f"pid {other_writer.pid}" in message
    assert socket.gethostname() in message
    assert " since 20" in message  # an ISO date


def test_readers_work_while_a_writer_holds_the_session(
    session_dir: Path, other_writer: subprocess.Popen[str]
) -> None:
    with Session.open(session_dir, writable=False) as reader:
        assert reader.version("head").id == "v0"
        holder = reader.lock_holder
        assert holder is not None and holder.pid == other_writer.pid


def test_a_stale_lock_of_a_killed_writer_is_taken_over(
    session_dir: Path, other_writer: subprocess.Popen[str]
) -> None:
    os.kill(other_writer.pid, signal.SIGKILL)
    other_writer.wait()
    with Session.open(session_dir) as session:
        takeover = session.events()[-1]
        assert takeover.data["action"] == "lock_taken_over"
        assert f"pid {other_writer.pid}" in takeover.data["previous"]


def test_the_same_process_cannot_open_two_writers(session_dir: Path) -> None:
    with make_session(session_dir), pytest.raises(SessionLocked, match=f"pid {os.getpid()}"):
        Session.open(session_dir)


def test_a_closed_session_releases_its_lock(session_dir: Path) -> None:
    make_session(session_dir).close()
    with Session.open(session_dir) as session:
        session.commit({"kernel.c": "// v1\n"}, author="operator", message="m", score=None)
    with Session.open(session_dir) as session:
        assert session.version("head").id == "v1"


def build_history(session_dir: Path) -> list[str]:
    """A session that has been through several compactions: backup and journals all in use."""
    session = make_session(session_dir, compact_bytes=2048)
    ids = []
    for n in range(1, 40):
        version = session.commit(
            {"kernel.c": f"// version {n}\n"}, author="tuner", message=f"m{n}", score=Score(n)
        )
        ids.append(version.id)
        session.append_event("benchmark", n=n, table="x" * 50)
    session.close()
    return ids


def test_a_corrupt_database_is_named_never_replaced_by_an_empty_session(
    session_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_history(session_dir)
    (session_dir / BASE).write_bytes((session_dir / BASE).read_bytes()[:100])
    with pytest.raises(DamagedSession, match=BASE):
        Session.open(session_dir)
    root = ["--sessions-dir", str(session_dir.parent)]
    assert main([*root, "sessions", "show", "demo"]) == 1
    err = capsys.readouterr().err
    assert BASE in err and "avo sessions repair demo" in err
    assert len(err.strip().splitlines()) == 1
    main([*root, "sessions", "list"])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("demo"))
    assert "damaged: not valid JSON" in row
    assert len((session_dir / BASE).read_bytes()) == 100  # nothing was rewritten


def test_repair_recovers_every_version_from_the_backup_generation(
    session_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build_history(session_dir)
    damaged = (session_dir / BASE).read_bytes()[:100]
    (session_dir / BASE).write_bytes(damaged)
    root = ["--sessions-dir", str(session_dir.parent)]

    assert main([*root, "sessions", "repair", "demo"]) == 1  # no terminal, no --yes: asks
    out = capsys.readouterr().out
    assert "session.json" in out and "--yes" in out
    assert (session_dir / BASE).read_bytes() == damaged

    assert main([*root, "sessions", "repair", "demo", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "40 versions" in out
    kept = list(session_dir.glob("damaged-*"))
    assert len(kept) == 1 and (kept[0] / BASE).read_bytes() == damaged
    with Session.open(session_dir) as session:
        assert session.lineage.ids == ["v0", *ids]
        assert session.version("head").id == ids[-1]
        assert session.read_files(ids[-1]) == {"kernel.c": f"// version {len(ids)}\n"}
    assert main([*root, "sessions", "repair", "demo"]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_two_repairs_in_one_second_keep_both_sets_of_originals(
    session_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_session(session_dir).close()
    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "damaged-20261123-112019")
    ruined = []
    for n in range(2):
        ruined.append(b'{"format": "avo-st' + str(n).encode())
        (session_dir / BASE).write_bytes(ruined[-1])
        apply_repair(plan_repair(session_dir))
    kept = sorted(session_dir.glob("damaged-*"))
    assert [k.name for k in kept] == ["damaged-20261123-112019", "damaged-20261123-112019-2"]
    assert [(k / BASE).read_bytes() for k in kept] == ruined


def test_a_base_ruined_before_any_compaction_is_rebuilt_from_the_creation_backup(
    session_dir: Path,
) -> None:
    session = make_session(session_dir)
    for n in range(1, 4):
        session.commit({"kernel.c": f"// {n}\n"}, author="tuner", message="m", score=None)
    session.close()
    assert not (session_dir / JOURNAL_PREV).exists()  # never compacted
    (session_dir / BASE).write_bytes(b'{"format": "avo-st')
    apply_repair(plan_repair(session_dir))
    with Session.open(session_dir) as session:
        assert session.lineage.ids == ["v0", "v1", "v2", "v3"]
        assert session.read_files("v3") == {"kernel.c": "// 3\n"}


def test_a_crash_inside_a_compaction_never_leaves_the_backup_as_the_base_file(
    session_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill between keeping the backup and renaming the new base in place must leave two
    separate files: ruining the base then still leaves the backup chain to rebuild from."""
    session = make_session(session_dir, compact_bytes=1 << 30)
    for n in range(1, 4):
        session.commit({"kernel.c": f"// {n}\n"}, author="tuner", message="m", score=None)
    real_replace = os.replace

    def crash_before_the_new_base(src: object, dst: object) -> None:
        if Path(str(dst)).name == BASE:
            raise KeyboardInterrupt("killed between the two renames")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", crash_before_the_new_base)
    with pytest.raises(KeyboardInterrupt):
        session._storage.compact()
    monkeypatch.undo()
    session._storage.close()
    assert session._lock is not None
    session._lock.release()
    assert not os.path.samefile(session_dir / BASE, session_dir / BACKUP)
    (session_dir / BASE).write_bytes(b'{"format": "avo-st')  # in place, as a disk might
    apply_repair(plan_repair(session_dir))
    with Session.open(session_dir) as session:
        assert session.lineage.ids == ["v0", "v1", "v2", "v3"]


def test_repair_keeps_records_before_a_corrupt_journal_line(session_dir: Path) -> None:
    session = make_session(session_dir)
    for n in range(1, 6):
        session.commit({"kernel.c": f"// {n}\n"}, author="tuner", message="m", score=None)
    session.close()
    lines = (session_dir / JOURNAL).read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"v3", b"v9")  # breaks the checksum of the commit of v3
    (session_dir / JOURNAL).write_bytes(b"".join(lines))
    with pytest.raises(DamagedSession, match="line 4"):
        Session.open(session_dir)
    root = ["--sessions-dir", str(session_dir.parent)]
    assert main([*root, "sessions", "repair", "demo", "--yes"]) == 0
    with Session.open(session_dir) as session:
        assert session.lineage.ids == ["v0", "v1", "v2"]


def test_a_session_from_a_newer_schema_is_refused(session_dir: Path) -> None:
    session = make_session(session_dir)
    session._db.table("meta").update({"schema": 99}, doc_ids=[1])
    session.close()
    with pytest.raises(NewerSchema, match="schema 99"):
        Session.open(session_dir)
    with pytest.raises(NewerSchema):
        Session.open(session_dir, writable=False)
