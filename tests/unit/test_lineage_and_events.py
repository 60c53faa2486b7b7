"""The session store through its public API: lineage, diffs, attempts and the event log.

Every test works on a real session folder under pytest's ``tmp_path``; nothing is mocked.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from avo_tui.store import (
    Event,
    EventKind,
    RollbackPayload,
    Score,
    Session,
    SessionExists,
    StoreError,
    UnknownVersion,
    payload_of,
)
from avo_tui.store.session import SEGMENT_CAPACITY

SEED = {"kernel.cu": "int a;\nint b;\nint c;\n", "launch.py": "grid = 1\n"}

# A backstop for anything that should happen "at once", so that a failure ends the test; a busy
# machine never takes this long. The tests of a wake-up poll once an hour, far beyond it.
PROMPT_S = 60.0
WAKE_ONLY_POLL_S = 3600.0


def make(
    tmp_path: Path, name: str = "run", seed: dict[str, str] | None = None, **kw: Any
) -> Session:
    return Session.create(
        tmp_path / name, target="gemm_fp16", operator="tuner", seed_files=seed or SEED, **kw
    )


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    s = make(tmp_path)
    yield s
    s.close()


def commit(s: Session, text: str, score: float | None = None, **kw: Any) -> str:
    """Commit ``kernel.cu`` = ``text`` (keeping the other seed file); returns the new id."""
    files = {"kernel.cu": text, "launch.py": SEED["launch.py"]}
    return s.commit(
        files,
        author=kw.pop("author", "agent"),
        message=kw.pop("message", f"kernel {text!r}"),
        score=Score(score) if score is not None else None,
        **kw,
    ).id


def best_id(s: Session) -> str | None:
    best = s.best()
    return best.id if best is not None else None


def blob_text(s: Session, digest: str | None) -> str:
    assert digest is not None
    return s.blobs.get_text(digest)


# -- creating ---------------------------------------------------------------------------------


def test_create_makes_seed_version_v0(tmp_path: Path) -> None:
    with make(tmp_path, message="the seed", score=Score(1.5)) as s:
        v0 = s.version("v0")
        assert v0.id == "v0"
        assert v0.author == "seed"
        assert v0.parent is None
        assert v0.message == "the seed"
        assert v0.score == Score(1.5)
        assert s.version("head").id == "v0"
        assert s.lineage.ids == ["v0"]
        assert s.read_files("v0") == SEED
        assert s.meta["target"] == "gemm_fp16"
        assert s.meta["operator"] == "tuner"
        assert s.writable
    # and it is all on disk
    with Session.open(tmp_path / "run", writable=False) as again:
        assert again.version("head").id == "v0"
        assert again.read_files("v0") == SEED


def test_create_existing_session_raises_session_exists(tmp_path: Path) -> None:
    make(tmp_path).close()
    with pytest.raises(SessionExists, match="already exists"):
        make(tmp_path, seed={"other.cu": "x\n"})
    with Session.open(tmp_path / "run", writable=False) as s:  # the first one is untouched
        assert s.read_files("v0") == SEED
        assert s.lineage.ids == ["v0"]


@pytest.mark.parametrize("name", ["has space", "bad!name", "-leading-dash", ".hidden", "x" * 65])
def test_create_with_invalid_name_raises_store_error(tmp_path: Path, name: str) -> None:
    parent = tmp_path / "sessions"
    parent.mkdir()
    with pytest.raises(StoreError, match="invalid session name"):
        Session.create(parent / name, target="t", operator="tuner", seed_files=SEED)
    assert list(parent.iterdir()) == []


def test_create_without_seed_files_raises(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="seed file"):
        Session.create(tmp_path / "run", target="t", operator="tuner", seed_files={})
    assert not (tmp_path / "run").exists()


# -- commits, ids, rollback -------------------------------------------------------------------


def test_commit_adds_child_of_head_and_moves_head(session: Session) -> None:
    v1 = session.commit(
        {"kernel.cu": "int a;\n"}, author="agent", message="first", score=Score(2.0),
        attempt="a1", cost_usd=0.25,
    )
    assert (v1.id, v1.parent, v1.author, v1.message) == ("v1", "v0", "agent", "first")
    assert v1.attempt == "a1"
    assert v1.cost_usd == 0.25
    assert session.version("head").id == "v1"
    assert session.read_files("v1") == {"kernel.cu": "int a;\n"}

    v2 = session.commit({"kernel.cu": "int z;\n"}, author="tuner", message="second", score=None)
    assert (v2.id, v2.parent) == ("v2", "v1")
    assert session.version("head") == v2
    assert session.lineage.ids == ["v0", "v1", "v2"]
    assert session.read_files("v1") == {"kernel.cu": "int a;\n"}  # earlier versions unchanged


def test_commit_rejects_unknown_author(session: Session) -> None:
    with pytest.raises(StoreError, match="unknown author"):
        session.commit({"kernel.cu": "x\n"}, author="robot", message="m", score=None)
    assert session.lineage.ids == ["v0"]
    assert session.version("head").id == "v0"


def test_ids_are_never_reused_across_rollback_and_reopen(tmp_path: Path) -> None:
    s = make(tmp_path)
    assert commit(s, "1\n") == "v1"
    assert commit(s, "2\n") == "v2"
    s.rollback("v0")
    assert commit(s, "3\n") == "v3"  # not v1 again, although v0 has only one child so far
    s.close()

    s = Session.open(tmp_path / "run")
    assert s.version("head").id == "v3"
    s.rollback("v1")
    assert commit(s, "4\n") == "v4"
    s.close()

    with Session.open(tmp_path / "run") as s:
        assert commit(s, "5\n") == "v5"
        assert s.lineage.ids == ["v0", "v1", "v2", "v3", "v4", "v5"]
        assert [s.version(v).parent for v in s.lineage.ids] == [None, "v0", "v1", "v0", "v1", "v4"]
        assert s.read_files("v2")["kernel.cu"] == "2\n"


def test_rollback_moves_head_and_next_commit_branches(session: Session) -> None:
    commit(session, "1\n")  # v1 <- v0
    commit(session, "2\n")  # v2 <- v1
    target = session.rollback("v1")
    assert target.id == "v1"
    assert session.version("head").id == "v1"
    assert commit(session, "3\n") == "v3"  # a sibling of v2
    session.rollback("v0")
    assert commit(session, "4\n") == "v4"

    lineage = session.lineage
    assert session.version("v3").parent == "v1"
    assert [v.id for v in lineage.children("v0")] == ["v1", "v4"]
    assert [v.id for v in lineage.children("v1")] == ["v2", "v3"]
    assert lineage.children("v2") == []
    assert [v.id for v in lineage.path_to_root("v3")] == ["v3", "v1", "v0"]
    assert [v.id for v in lineage.path_to_root("v2")] == ["v2", "v1", "v0"]
    assert [v.id for v in lineage.path_to_root("v0")] == ["v0"]
    rollbacks = [payload_of(e) for e in session.events() if e.kind == EventKind.ROLLBACK]
    assert rollbacks == [RollbackPayload("v2", "v1"), RollbackPayload("v3", "v0")]


def test_rollback_to_unknown_version_leaves_head(session: Session) -> None:
    commit(session, "1\n")
    seq = session.last_seq
    with pytest.raises(UnknownVersion):
        session.rollback("v7")
    assert session.version("head").id == "v1"
    assert session.last_seq == seq


def test_lineage_tree_survives_reopen(tmp_path: Path) -> None:
    with make(tmp_path) as s:
        commit(s, "1\n")
        commit(s, "2\n")
        s.rollback("v1")
        commit(s, "3\n")
    with Session.open(tmp_path / "run", writable=False) as s:
        assert s.version("head").id == "v3"
        assert [v.id for v in s.lineage.children("v1")] == ["v2", "v3"]
        assert [v.id for v in s.lineage.path_to_root("v3")] == ["v3", "v1", "v0"]


# -- best, ranked, version refs ---------------------------------------------------------------


def test_best_and_ranked_order_by_gmean_earliest_wins_ties(tmp_path: Path) -> None:
    with make(tmp_path, score=Score(1.0)) as s:
        commit(s, "1\n", 3.0)  # v1
        commit(s, "2\n", None)  # v2: unscored
        commit(s, "3\n", 3.0)  # v3: ties v1, later
        commit(s, "4\n", 2.0)  # v4
        assert best_id(s) == "v1"
        assert s.version("best").id == "v1"
        assert [v.id for v in s.lineage.ranked()] == ["v1", "v3", "v4", "v0"]
        assert s.version("head").id == "v4"
        assert s.version("head").id == "v4"
        commit(s, "5\n", 3.5)
        assert best_id(s) == "v5"
        assert [v.id for v in s.lineage.ranked()][:2] == ["v5", "v1"]
    with Session.open(tmp_path / "run", writable=False) as s:  # rebuilt from disk, same answer
        assert best_id(s) == "v5"
        assert [v.id for v in s.lineage.ranked()] == ["v5", "v1", "v3", "v4", "v0"]


def test_tie_with_seed_keeps_the_seed_as_best(tmp_path: Path) -> None:
    with make(tmp_path, score=Score(2.0)) as s:
        commit(s, "1\n", 2.0)
        assert best_id(s) == "v0"


def test_best_is_none_and_version_best_raises_without_scores(session: Session) -> None:
    commit(session, "1\n")
    assert session.best() is None
    assert session.lineage.ranked() == []
    with pytest.raises(UnknownVersion) as info:
        session.version("best")
    message = str(info.value)
    assert "no version has a score" in message
    assert "'head'" in message  # tells what to use instead
    # the head is still available
    assert session.version("head").id == "v1"


def test_unknown_version_lists_close_matches(session: Session) -> None:
    commit(session, "1\n")
    commit(session, "2\n")
    with pytest.raises(UnknownVersion) as info:
        session.version("v12")
    assert info.value.ref == "v12"
    message = str(info.value)
    assert "v12" in message
    assert "did you mean" in message
    suggestions = message.split("did you mean", 1)[1]
    assert "v1" in suggestions or "v2" in suggestions
    with pytest.raises(UnknownVersion):
        session.version("garbage")
    with pytest.raises(UnknownVersion):
        session.read_files("v3")


# -- diffs ------------------------------------------------------------------------------------


def test_diff_counts_match_added_removed_and_modified_files(tmp_path: Path) -> None:
    seed = {"kernel.cu": "x\ny", "old.h": "h1\nh2\n", "same.h": "s\n"}
    with make(tmp_path, seed=seed) as s:
        s.commit(
            {"kernel.cu": "x\nz", "new.h": "n1\nn2\nn3", "same.h": "s\n"},
            author="agent", message="reshape", score=None,
        )
        d = s.diff("v0", "v1")
        assert (d.old, d.new) == ("v0", "v1")
        by_name = {f.name: (f.status, f.added, f.removed) for f in d.files}
        assert by_name == {
            "kernel.cu": ("modified", 1, 1),
            "new.h": ("added", 3, 0),
            "old.h": ("removed", 0, 2),
        }
        assert (d.added, d.removed) == (4, 3)
        text = d.text
        assert "--- a/kernel.cu\n+++ b/kernel.cu\n" in text
        assert "-y\n" in text
        assert "+z\n" in text
        assert "--- /dev/null\n+++ b/new.h\n" in text
        assert "--- a/old.h\n+++ /dev/null\n" in text
        assert "same.h" not in text
        # every +/- line of the text is counted, and nothing else
        body = [ln for ln in text.splitlines() if not ln.startswith(("---", "+++"))]
        assert sum(ln.startswith("+") for ln in body) == d.added
        assert sum(ln.startswith("-") for ln in body) == d.removed

        back = s.diff("v1", "v0")
        assert (back.added, back.removed) == (3, 4)
        assert {f.name: f.status for f in back.files} == {
            "kernel.cu": "modified", "new.h": "removed", "old.h": "added",
        }

        same = s.diff("v1", "v1")
        assert (same.text, same.files, same.added, same.removed) == ("", [], 0, 0)


def test_diff_accepts_head_and_best(session: Session) -> None:
    commit(session, "int a;\nint B;\nint c;\n", 1.0)
    commit(session, "int a;\n", None)
    d = session.diff("best", "head")
    assert (d.old, d.new) == ("v1", "v2")
    assert (d.added, d.removed) == (0, 2)


def test_commit_records_line_counts_against_parent(session: Session) -> None:
    # seed kernel.cu is "int a;\nint b;\nint c;\n"
    v1 = session.commit(
        {"kernel.cu": "int a;\nint B;\nint c;\nint d;\n", "launch.py": SEED["launch.py"]},
        author="agent", message="m", score=None,
    )
    assert (v1.lines_added, v1.lines_removed) == (2, 1)
    d = session.diff("v0", "v1")
    assert (v1.lines_added, v1.lines_removed) == (d.added, d.removed)

    v2 = session.commit({"kernel.cu": "int a;\n"}, author="agent", message="m", score=None)
    assert (v2.lines_added, v2.lines_removed) == (0, 4)  # 3 kernel lines and launch.py's one

    session.rollback("v0")  # the next commit is counted against v0, not v2
    v3 = session.commit(
        {"kernel.cu": SEED["kernel.cu"] + "int e;\n", "launch.py": SEED["launch.py"]},
        author="operator", message="m", score=None,
    )
    assert v3.parent == "v0"
    assert (v3.lines_added, v3.lines_removed) == (1, 0)
    assert session.version("v0").lines_added == session.version("v0").lines_removed == 0


# -- attempts ---------------------------------------------------------------------------------


def test_record_attempt_whatever_the_outcome(tmp_path: Path) -> None:
    s = make(tmp_path)
    log1 = "nvcc: error: expected ';'\n" * 3
    a1 = s.record_attempt(
        {"kernel.cu": "broken"}, base="v0", author="agent", outcome="compile_error",
        detail="syntax", log=log1, transcript="agent said things",
    )
    a2 = s.record_attempt(
        {"kernel.cu": "slow\n"}, base="v0", author="tuner", outcome="slower",
        score=Score(0.5), log="bench log",
    )
    v1 = commit(s, "fast\n", 2.0, attempt="a3")
    a3 = s.record_attempt(
        {"kernel.cu": "fast\n"}, base="v0", author="agent", outcome="committed",
        score=Score(2.0), version=v1,
    )
    assert [a1.id, a2.id, a3.id] == ["a1", "a2", "a3"]
    assert s.attempt_count == 3
    assert blob_text(s, a1.log) == log1
    assert blob_text(s, a1.transcript) == "agent said things"
    assert blob_text(s, a2.log) == "bench log"
    assert a3.log is None and a3.transcript is None
    assert s.attempt("a1") == a1
    assert s.attempt("a2").score == Score(0.5)
    assert s.attempt("a3").version == "v1"
    assert s.blobs.get_text(s.attempt("a1").files["kernel.cu"]) == "broken"
    outcomes = [e.data["outcome"] for e in s.events() if e.kind == EventKind.ATTEMPT]
    assert outcomes == ["compile_error", "slower", "committed"]
    s.close()

    with Session.open(tmp_path / "run") as s:  # numbering continues after a reopen
        assert s.attempt("a1") == a1
        a4 = s.record_attempt({"kernel.cu": "x"}, base="v1", author="agent", outcome="timeout")
        assert a4.id == "a4"
        assert blob_text(s, s.attempt("a2").log) == "bench log"


def test_recent_attempts_newest_first(session: Session) -> None:
    for i in range(5):
        session.record_attempt({"k": str(i)}, base="v0", author="agent", outcome=f"o{i}")
    assert [a.id for a in session.recent_attempts()] == ["a5", "a4", "a3", "a2", "a1"]
    assert [a.id for a in session.recent_attempts(limit=2)] == ["a5", "a4"]
    assert [a.outcome for a in session.recent_attempts(limit=3)] == ["o4", "o3", "o2"]


def test_unknown_attempt_raises(session: Session) -> None:
    assert session.recent_attempts() == []
    with pytest.raises(StoreError, match="a99"):
        session.attempt("a99")
    session.record_attempt({"k": "x"}, base="v0", author="agent", outcome="incorrect")
    for bad in ("a99", "a2", "a0", "v1", "a", "", "a-1"):
        with pytest.raises(StoreError):
            session.attempt(bad)
    assert session.attempt("a1").outcome == "incorrect"


def test_record_attempt_on_unknown_base_raises(session: Session) -> None:
    with pytest.raises(UnknownVersion):
        session.record_attempt({"k": "x"}, base="v5", author="agent", outcome="crashed")
    assert session.attempt_count == 0


# -- events -----------------------------------------------------------------------------------


def seqs(events: Iterable[Event]) -> list[int]:
    return [e.seq for e in events]


def test_event_seq_starts_at_one_and_has_no_gaps(session: Session) -> None:
    first = session.events()
    assert seqs(first) == [1]
    assert first[0].kind == EventKind.SESSION
    assert first[0].data == {"action": "created", "target": "gemm_fp16", "_v": 1}

    e = session.append_event(EventKind.HINT, text="try tiling")
    assert (e.seq, e.kind, e.data) == (2, "hint", {"text": "try tiling"})
    commit(session, "1\n", 1.0)
    session.record_attempt({"k": "x"}, base="v0", author="agent", outcome="slower")
    session.rollback("v0")
    session.set_state(status="running", step=3)
    session.append_event(EventKind.ERROR, message="boom")

    events = session.events()
    assert seqs(events) == list(range(1, len(events) + 1))
    assert session.last_seq == len(events) == 7
    assert [ev.kind for ev in events] == [
        "session", "hint", "commit", "attempt", "rollback", "status", "error",
    ]
    times = [ev.ts for ev in events]
    assert times == sorted(times)
    assert session.state["status"] == "running"


def test_events_after_and_limit(session: Session) -> None:
    for i in range(10):
        session.append_event(EventKind.TOOL_CALL, n=i)  # seqs 2..11
    assert seqs(session.events(after=5)) == list(range(6, 12))
    assert session.events(after=5)[0].data == {"n": 4}
    assert seqs(session.events(after=0, limit=3)) == [1, 2, 3]
    assert seqs(session.events(after=4, limit=3)) == [5, 6, 7]
    assert seqs(session.events(after=9, limit=100)) == [10, 11]
    assert session.events(after=11) == []
    assert session.events(after=50) == []
    assert session.events(after=3, limit=0) == []


@pytest.mark.parametrize("compacting", [False, True], ids=["journal", "sealed-segments"])
def test_events_span_segments_and_read_back_after_reopen(
    tmp_path: Path, compacting: bool
) -> None:
    capacity = SEGMENT_CAPACITY["events"]
    total = 2 * capacity + 52  # three segments
    # sync=False only skips fsync, to keep this fast. A small compaction threshold makes the
    # storage seal full segments into their own files; the other variant keeps all in the journal.
    options: dict[str, Any] = {"sync": False, **({"compact_bytes": 4096} if compacting else {})}
    s = make(tmp_path, **options)
    reader = Session.open(tmp_path / "run", writable=False)  # opened before the events exist
    appended = [s.append_event(EventKind.TOOL_CALL, n=i) for i in range(1, total)]
    assert s.last_seq == total
    assert seqs(appended) == list(range(2, total + 1))
    if compacting:
        sealed = sorted(p.name for p in (tmp_path / "run" / "segments").glob("events.*"))
        assert "events.000000.json" in sealed

    def check(sess: Session) -> None:
        events = sess.events()
        assert seqs(events) == list(range(1, total + 1))
        assert events[1:] == appended
        # windows across the segment boundaries
        assert seqs(sess.events(after=capacity - 3, limit=6)) == list(
            range(capacity - 2, capacity + 4)
        )
        across = sess.events(after=2 * capacity - 1, limit=2)
        assert [e.data["n"] for e in across] == [2 * capacity - 1, 2 * capacity]
        assert seqs(sess.events(after=total - 2)) == [total - 1, total]

    check(s)
    assert reader.refresh()
    assert reader.last_seq == total
    check(reader)
    reader.close()
    s.close()

    with Session.open(tmp_path / "run") as again:
        assert again.last_seq == total
        check(again)
        assert again.append_event(EventKind.HINT).seq == total + 1
        assert seqs(again.events(after=total - 1)) == [total, total + 1]


def test_follow_in_writer_yields_appends_from_another_thread_live(session: Session) -> None:
    backlog = session.append_event(EventKind.PLAN, step=0)
    received: queue.Queue[Event] = queue.Queue()
    stop = threading.Event()
    # Events can only arrive before the backstop if an append wakes the follower.
    poll_s = WAKE_ONLY_POLL_S

    def consume() -> None:
        for event in session.follow(after=1, stop=stop, poll_s=poll_s):
            received.put(event)

    follower = threading.Thread(target=consume, daemon=True)
    follower.start()
    assert received.get(timeout=PROMPT_S) == backlog  # what was there already comes first
    try:
        for i in range(1, 6):
            appended = session.append_event(EventKind.PLAN, step=i)
            assert received.get(timeout=PROMPT_S) == appended
        v1 = session.commit({"kernel.cu": "x\n"}, author="agent", message="m", score=None)
        event = received.get(timeout=PROMPT_S)
        assert (event.kind, event.data["version"]) == ("commit", v1.id)
    finally:
        stop.set()
        session.append_event(EventKind.PLAN, step="wake")  # ends the current wait
        follower.join(timeout=PROMPT_S)
    assert not follower.is_alive()


def test_follow_ends_when_session_closes(tmp_path: Path) -> None:
    s = make(tmp_path)
    done = threading.Event()

    def consume() -> None:
        for _ in s.follow(after=s.last_seq, poll_s=WAKE_ONLY_POLL_S):
            pass
        done.set()

    follower = threading.Thread(target=consume, daemon=True)
    follower.start()
    s.close()
    assert done.wait(PROMPT_S)
    follower.join(timeout=PROMPT_S)


def test_reader_sees_writer_events_after_refresh(tmp_path: Path) -> None:
    writer = make(tmp_path)
    reader = Session.open(tmp_path / "run", writable=False)
    try:
        assert not reader.writable
        assert reader.refresh() is False  # nothing new yet
        seen = reader.last_seq
        hint = writer.append_event(EventKind.HINT, text="unroll")
        v1 = commit(writer, "1\n", 4.0)
        writer.record_attempt({"k": "x"}, base="v0", author="agent", outcome="slower", log="L")

        assert reader.last_seq == seen  # a reader only moves on refresh
        assert reader.events(after=seen) == []
        assert "v1" not in reader.lineage

        assert reader.refresh() is True
        assert reader.last_seq == writer.last_seq
        assert reader.events(after=seen) == writer.events(after=seen)
        assert reader.events(after=seen)[0] == hint
        assert reader.version("head").id == v1
        assert best_id(reader) == v1
        assert reader.attempt_count == 1
        assert blob_text(reader, reader.attempt("a1").log) == "L"
        assert reader.refresh() is False
    finally:
        reader.close()
        writer.close()


def test_reader_follow_polls_for_writer_events(tmp_path: Path) -> None:
    writer = make(tmp_path)
    reader = Session.open(tmp_path / "run", writable=False)
    received: queue.Queue[Event] = queue.Queue()
    stop = threading.Event()

    def consume() -> None:
        for event in reader.follow(after=reader.last_seq, stop=stop, poll_s=0.01):
            received.put(event)

    follower = threading.Thread(target=consume, daemon=True)
    follower.start()
    try:
        for i in range(3):
            appended = writer.append_event(EventKind.BENCHMARK, run=i)
            assert received.get(timeout=PROMPT_S) == appended
        v1 = commit(writer, "1\n")
        event = received.get(timeout=PROMPT_S)
        assert (event.kind, event.data["version"]) == ("commit", v1)
        assert reader.version("head").id == v1  # refresh took in the state too
    finally:
        stop.set()
        follower.join(timeout=PROMPT_S)
        alive = follower.is_alive()
        reader.close()
        writer.close()
    assert not alive
    assert received.empty()


# -- read-only sessions -----------------------------------------------------------------------


def test_read_only_session_refuses_writes(tmp_path: Path) -> None:
    make(tmp_path).close()
    reader = Session.open(tmp_path / "run", writable=False)
    writes: dict[str, Callable[[], object]] = {
        "append_event": lambda: reader.append_event(EventKind.HINT, text="x"),
        "commit": lambda: reader.commit(SEED, author="agent", message="m", score=None),
        "record_attempt": lambda: reader.record_attempt(
            SEED, base="v0", author="agent", outcome="slower"
        ),
        "rollback": lambda: reader.rollback("v0"),
        "set_state": lambda: reader.set_state(status="running"),
    }
    for name, write in writes.items():
        with pytest.raises(StoreError):
            write()
        # the reader's own view is unchanged after each refusal
        assert (reader.last_seq, reader.lineage.ids, reader.attempt_count) == (1, ["v0"], 0), name
        assert reader.state["status"] == "new", name
    reader.close()
    with Session.open(tmp_path / "run") as s:  # and nothing reached the files
        assert s.last_seq == 1
        assert s.lineage.ids == ["v0"]
        assert s.attempt_count == 0
        assert s.state == {"head": "v0", "status": "new", "_v": 2}


def test_read_only_session_does_not_take_the_lock(tmp_path: Path) -> None:
    make(tmp_path).close()
    with Session.open(tmp_path / "run", writable=False) as reader:
        assert reader.lock_holder is None
        with Session.open(tmp_path / "run") as writer:  # a writer can still open it
            assert writer.lock_holder is not None
            writer.append_event(EventKind.HINT)
        assert reader.refresh()
        assert reader.last_seq == 2


def test_read_only_session_writes_no_files(tmp_path: Path) -> None:
    make(tmp_path).close()
    folder = tmp_path / "run"
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with Session.open(folder, writable=False) as reader:
        with pytest.raises(StoreError):
            reader.commit({"new.cu": "never stored\n"}, author="agent", message="m", score=None)
        with pytest.raises(StoreError):
            reader.record_attempt(
                {"k": "x"}, base="v0", author="agent", outcome="slower", log="never stored"
            )
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_diff_splits_lines_only_at_newlines(session: Session) -> None:
    # Form feeds, \r and U+2028 are not line ends for a unified diff (unidiff re-reads it so).
    base = "int a;\n\x0cint b;\r\nint c; // \u2028\n"
    session.commit({"kernel.cu": base}, author="agent", message="odd bytes", score=None)
    v2 = session.commit(
        {"kernel.cu": base.replace("int b", "int B")}, author="agent", message="m", score=None
    )
    assert (v2.lines_added, v2.lines_removed) == (1, 1)
    assert (session.diff("v1", "v2").added, session.diff("v1", "v2").removed) == (1, 1)


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.cu", "a/../../b.cu", "", "a//b.cu"])
def test_kernel_file_names_must_stay_inside_their_folder(session: Session, name: str) -> None:
    with pytest.raises(StoreError, match="invalid kernel file name"):
        session.commit({name: "x\n"}, author="agent", message="m", score=None)
    assert session.version("head").id == "v0"
