"""Operators read the lineage through a read-only view: the reads they use work, and no public
attribute of the view leads to a write (commit, state, events, blobs, the lineage index) or to
the writable Session itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from avo_tui.operators import Tuner
from avo_tui.operators.protocol import StepContext
from avo_tui.store import BlobStore, Lineage, Score, Session
from avo_tui.store.view import BlobReader, LineageView, SessionView

KNOB = "#define TILE 64   // avo:knob 32 64 128\n"
FILES = {"kernel.c": KNOB + "int main_loop;\n"}
# Every method of Session, Lineage and BlobStore that changes something.
WRITES = {"commit", "set_state", "append_event", "rollback", "store_files", "record_attempt",
          "hold_suspect", "approve_suspect", "reject_suspect", "close", "refresh", "follow",
          "save_draft", "drop_draft", "add", "put"}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.create(tmp_path / "s", target="cpu-attention", operator="tuner",
                        seed_files=FILES, score=Score(1.0), sync=False) as s:
        s.commit({"kernel.c": FILES["kernel.c"].replace("64", "128")}, author="tuner",
                 message="TILE 64->128", score=Score(2.0))
        s.record_attempt(FILES, base="v0", author="tuner", outcome="slower", detail="no gain")
        yield s


def public(obj: object) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in dir(obj) if not name.startswith("_")}


def test_no_public_attribute_of_the_view_writes_or_leads_to_the_session(
    session: Session,
) -> None:
    view = SessionView(session)
    reached = [view, view.lineage, view.blobs]
    for obj in reached:
        attributes = public(obj)
        assert not WRITES & set(attributes), type(obj).__name__
        for name, value in attributes.items():
            assert not isinstance(value, Session | Lineage | BlobStore), f"{name} leaks {value!r}"
    assert isinstance(view.lineage, LineageView) and isinstance(view.blobs, BlobReader)


def test_an_operator_holding_the_view_cannot_commit_set_state_or_append_events(
    session: Session,
) -> None:
    view = cast(Any, SessionView(session))
    attempts: list[Callable[[], object]] = [
        lambda: view.commit(FILES, author="agent", message="past the gate", score=Score(9.0)),
        lambda: view.set_state(status="done"),
        lambda: view.append_event("commit", version="v9"),
        lambda: view.rollback("v0"),
        lambda: view.store_files(FILES),
        lambda: view.record_attempt(FILES, base="v0", author="agent", outcome="promising"),
        lambda: view.lineage.add(session.version("head")),
        lambda: view.blobs.put("text"),
        lambda: view.session,
        lambda: view._session,
    ]
    for attempt in attempts:
        with pytest.raises(AttributeError):
            attempt()
    with pytest.raises(AttributeError):
        view.directory = Path("/")  # a read-only property
    with pytest.raises(AttributeError):
        view.extra = session  # no room for new attributes (slots)
    assert len(session.lineage) == 2 and session.version("head").id == "v1"
    assert session.attempt_count == 1


def test_the_view_reads_what_operators_read(session: Session) -> None:
    view = SessionView(session)
    assert view.name == "s" and view.directory == session.directory
    assert (view.directory / "workspace").parent == session.directory  # the agent's workspace
    assert view.meta["target"] == "cpu-attention" and view.state["head"] == "v1"
    assert view.version("head").id == "v1" and view.best() == session.version("v1")
    assert view.version("best").id == "v1" and view.version("v0").parent is None
    assert view.read_files("v1") == session.read_files("v1")
    assert "+#define TILE 128" in view.diff("v0", "v1").text
    assert view.attempt_count == 1 and view.attempt("a1").detail == "no gain"
    assert [a.id for a in view.recent_attempts(5)] == ["a1"]
    assert view.suspects() == []
    digest = view.attempt("a1").files["kernel.c"]
    assert view.blobs.exists(digest) and view.blobs.get_text(digest) == FILES["kernel.c"]
    lineage = view.lineage
    assert len(lineage) == 2 and "v1" in lineage and [v.id for v in lineage] == ["v0", "v1"]
    assert lineage.ids == ["v0", "v1"] and lineage.last is not None and lineage.last.id == "v1"
    assert lineage.get("v1").parent == "v0" and lineage.root() == session.version("v0")
    assert [v.id for v in lineage.children("v0")] == ["v1"] and lineage.line("v0") == ["v0", "v1"]
    assert [v.id for v in lineage.path_to_root("v1")] == ["v1", "v0"]
    assert [v.id for v in lineage.ranked()] == ["v1", "v0"] and lineage.best() == view.best()


def test_the_view_reads_the_journal_one_kind_of_payload_at_a_time(session: Session) -> None:
    """search_history's source: the journal read onwards, a kind's payloads only (frozen);
    one that does not parse is left out, and the seq read so far says where to go on."""
    from avo_tui.store import ResearchPayload

    view = SessionView(session)
    start = session.last_seq
    session.append_event("tool_call", tool="note", input="{}")
    session.append(ResearchPayload("record", 1, "v0", "no commit", lesson="L1",
                                   notes=("a note",), summary="S1"))
    session.append_event("research", action="record", step="not a number")
    session.append(ResearchPayload("record", 2, "v1", "no commit", lesson="L2"))
    found, seq = view.payloads_of(ResearchPayload, start, 3)
    assert [(r.lesson, r.notes, r.summary) for r in found] == [("L1", ("a note",), "S1")]
    assert seq == start + 3
    found, seq = view.payloads_of(ResearchPayload, seq, 100)
    assert [r.lesson for r in found] == ["L2"] and seq == session.last_seq
    assert view.payloads_of(ResearchPayload, seq, 100) == ([], seq)


def test_the_view_follows_the_session(session: Session) -> None:
    """The engine keeps committing under an operator's view; the view sees it at once."""
    view = SessionView(session)
    session.commit(FILES, author="tuner", message="back to 64", score=Score(3.0))
    head = view.version("head")
    assert head.id == "v2" and len(view.lineage) == 3 and view.best() == head


def test_the_tuner_reads_the_session_through_the_view(session: Session) -> None:
    """The tuner takes in every version and attempt, knobs read from their blobs."""
    tuner = Tuner(seed=1)
    tuner._catch_up(cast(StepContext, SimpleNamespace(session=SessionView(session))))
    assert sorted(i.knobs["TILE"] for i in tuner.population) == ["128", "64", "64"]
    assert len(tuner.seen) == 2


def test_the_engine_hands_operators_the_view(session: Session) -> None:
    from avo_tui.engine import Evaluator
    from avo_tui.engine.engine import Engine

    engine = Engine(session, Tuner(seed=1), cast(Evaluator, SimpleNamespace(
        target=SimpleNamespace(gate_cap_s=60.0), baselines={}, quick=False)))
    ctx = engine.context(engine.lanes[0])
    assert isinstance(ctx.session, SessionView)
    ctx.remember(notes=["kept"])  # the context still writes the operator's memory itself
    assert ctx.memory()["notes"] == ["kept"]
