"""``avo sessions list`` from afar (issue 53): what it says of each session is right, whether it
was read from the session's summary (store/summary.py) or from the session itself; a summary
that no longer matches the session's files is never believed; a run marked running whose
process is gone reads as killed, as in the app; and the listing imports only what it needs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import avo_tui.engine
import avo_tui.store
from avo_tui.cli import main
from avo_tui.engine.budget import RUN_LIMIT
from avo_tui.store import Score, Session
from avo_tui.store.journal_storage import JournalStorage
from avo_tui.store.summary import SUMMARY, SessionFacts, read_summary

SEED = {"k.c": "int x;\n"}


def listed(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert main(["--sessions-dir", str(root), "sessions", "list", "--json"]) == 0
    return {s["name"]: s for s in json.loads(capsys.readouterr().out)}


def facts_read_whole(path: Path) -> SessionFacts:
    with Session.open(path, writable=False) as session:
        return SessionFacts.of(session)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """``budgeted``: 3 versions (best v1), 4 steps of a 10-step, $2 budget in an hour, marked
    running; ``limited``: ended at its run's own --max-steps; ``seed-only``: just created."""
    root = tmp_path / "sessions"
    with Session.create(root / "budgeted", target="cpu-attention", operator="tuner",
                        seed_files=SEED, score=Score(1.0)) as s:
        s.commit({"k.c": "int x = 1;\n"}, author="tuner", message="a", score=Score(4.0))
        s.commit({"k.c": "int x = 2;\n"}, author="tuner", message="b", score=Score(3.0))
        s.set_state(status="running", budgets={"max_steps": 10, "max_cost_usd": 2.0},
                    usage={"steps": 4, "seconds": 3600.0, "cost_usd": 0.5, "tokens": 1000})
    with Session.create(root / "limited", target="mha", operator="agent", seed_files=SEED) as s:
        s.set_state(status="finished", reason=f"{RUN_LIMIT}: 3 of 3 steps this run (--max-steps)")
    Session.create(root / "seed-only", target="mha", operator="tuner", seed_files=SEED).close()
    return root


def test_the_listing_says_what_each_session_holds(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(root / "budgeted", writable=False) as s:
        newest = s.lineage.get("v2").created
    rows = listed(root, capsys)
    budgeted = rows["budgeted"]
    assert {k: budgeted[k] for k in ("target", "operator", "versions", "best", "best_unit")} == {
        "target": "cpu-attention", "operator": "tuner", "versions": 3, "best": 4.0,
        "best_unit": "TFLOP/s"}
    assert budgeted["status"] == "killed"  # marked running, and no process writes it
    assert "resume with avo run --session budgeted" in budgeted["reason"]
    assert budgeted["budget"] == "step 4/10 · $0.50/$2"
    assert budgeted["eta_s"] is None  # no process runs it: nothing ends
    assert budgeted["last_commit"] == newest
    assert rows["limited"]["status"] == "limit-reached"
    assert rows["seed-only"]["status"] == "new" and rows["seed-only"]["last_commit"] is None
    assert rows["seed-only"]["budget"] == ""


def test_a_live_run_is_named_with_its_process_and_has_an_eta(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(root / "budgeted") as writer:
        writer.commit({"k.c": "int x = 3;\n"}, author="tuner", message="c", score=Score(5.0))
        writer.set_state(usage={"steps": 5, "seconds": 3600.0, "cost_usd": 1.0, "tokens": 0})
        row = listed(root, capsys)["budgeted"]
    assert row["status"].startswith("running (pid ")
    assert row["versions"] == 4 and row["best"] == 5.0
    assert row["budget"] == "step 5/10 · $1.00/$2"
    assert row["eta_s"] == 3600.0  # $1 an hour with $1 left runs out before 5 steps more


def test_the_table_names_a_killed_run_and_how_to_resume_it(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--sessions-dir", str(root), "sessions", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[5:] == ["status", "budget", "ends", "in", "last", "commit", "last",
                                    "activity"]
    row = next(line for line in lines if line.startswith("budgeted"))
    assert " killed " in row and "step 4/10 · $0.50/$2" in row and "interrupted" not in row
    assert lines[-1] == "killed: its process died mid-run; avo run --session NAME resumes it"
    monkeypatch.setenv("COLUMNS", "80")  # over SSH: the columns from afar leave first
    assert main(["--sessions-dir", str(root), "sessions", "list"]) == 0
    narrow = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in narrow) and " killed " in narrow[1]


def test_the_summary_follows_every_write_and_matches_the_session_read_whole(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = root / "budgeted"
    with Session.open(path) as s:
        s.commit({"k.c": "int x = 9;\n"}, author="tuner", message="d", score=Score(9.0))
        s.rollback("v1")
        s.set_state(status="paused", reason="cost budget reached ($2.00 of $2.00)")
        for n in range(30):  # events alone change no fact: the summary is not rewritten
            s.append_event("tool_call", tool="evaluate", n=n)
    assert read_summary(path) == facts_read_whole(path)
    assert read_summary(path) == SessionFacts(
        "cpu-attention", "tuner", 4, 9.0, "TFLOP/s", "paused",
        "cost budget reached ($2.00 of $2.00)",
        {"steps": 4, "seconds": 3600.0, "cost_usd": 0.5, "tokens": 1000},
        {"max_steps": 10, "max_cost_usd": 2.0}, facts_read_whole(path).last_commit)
    assert listed(root, capsys)["budgeted"]["status"] == "budget-reached"


def test_a_summary_the_files_moved_past_is_not_believed(
    root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A crash between a write and its summary's, or a writer that keeps none (an older
    avo): the listing reads the session itself."""
    path = root / "budgeted"
    stale = tmp_path / "stale-summary.json"
    shutil.copy(path / SUMMARY, stale)
    with Session.open(path) as s:
        s.commit({"k.c": "int x = 7;\n"}, author="tuner", message="e", score=Score(7.0))
    shutil.copy(stale, path / SUMMARY)  # as if the process died before the summary's write
    assert read_summary(path) is None
    row = listed(root, capsys)["budgeted"]
    assert row["versions"] == 4 and row["best"] == 7.0

    # a writer that knows no summary sets the state: its record is in the journal alone
    storage = JournalStorage(path)
    try:
        state = dict(storage.read()["state"])
        state["1"] = {**state["1"], "status": "stopped", "reason": "by hand"}
        storage.read()["state"] = state
        storage.write(storage.read())
    finally:
        storage.close()
    assert read_summary(path) is None
    assert listed(root, capsys)["budgeted"]["status"] == "stopped"


def test_a_session_without_a_summary_is_read_whole_once_then_from_its_summary(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = root / "budgeted"
    (path / SUMMARY).unlink()  # as an older avo left it
    assert read_summary(path) is None
    before = listed(root, capsys)["budgeted"]
    assert before["versions"] == 3 and before["best"] == 4.0
    assert read_summary(path) == facts_read_whole(path)  # kept by the listing
    assert listed(root, capsys)["budgeted"] == before


def test_a_compaction_keeps_the_summary_trusted(tmp_path: Path) -> None:
    path = tmp_path / "small"
    with Session.create(path, target="mha", operator="tuner", seed_files=SEED,
                        compact_bytes=4096) as s:
        for n in range(60):
            s.append_event("tool_call", tool="evaluate", detail="x" * 200, n=n)
        generation = s._storage.generation
    assert generation > 0  # it compacted, after records that add events alone
    assert read_summary(path) == facts_read_whole(path)


def test_the_listing_imports_neither_the_engine_nor_the_session_records(root: Path) -> None:
    code = ("import sys; from avo_tui.cli import main; "
            f"main(['--sessions-dir', {str(root)!r}, 'sessions', 'list']); "
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"})
    modules = set(done.stderr.split())
    assert "budgeted" in done.stdout
    for heavy in ("avo_tui.engine.engine", "avo_tui.evaluation", "avo_tui.operators",
                  "avo_tui.store.session", "avo_tui.store.payloads", "textual"):
        assert heavy not in modules, heavy


@pytest.mark.parametrize("package", [avo_tui.store, avo_tui.engine])
def test_every_name_a_lazy_package_offers_is_there(package: Any) -> None:
    assert set(package._WHERE) == set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        _ = package.no_such_name
