"""``avo sessions attempts``: every candidate a session evaluated, and one in full, on a real
session in ``tmp_path``. ``avo sessions show`` gave only a count of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.store import Score, Session

SEED = {"k.c": "int tile = 16;\nint unroll = 1;\n"}
TILED = {"k.c": "int tile = 32;\nint unroll = 1;\n"}
BROKEN = {"k.c": "int tile = 32\nint unroll = 1;\n"}
COMPILER = "k.c:1:15: error: expected ';' before 'int'\n    1 | int tile = 32\n"


def log(**fields: object) -> str:
    return json.dumps({"unit": "GFLOP/s", "failure": None, "flags": [], "notes": [],
                       "configs": [], "compile": {"ok": True, "log": ""}, **fields})


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    """``tiles``: a1 committed as v1, a2 a compile error, a3 slower, a4 incorrect, a5
    interrupted (no log)."""
    root = tmp_path / "sessions"
    with Session.create(root / "tiles", target="cpu-attention", operator="tuner",
                        seed_files=SEED, score=Score(10.0, ratio=1.0, unit="GFLOP/s")) as s:
        s.record_attempt(TILED, base="v0", author="tuner", outcome="committed",
                         detail="re-evaluation of a1: +12.0% on v0", version="v1",
                         score=Score(11.2, ratio=1.12, unit="GFLOP/s"),
                         log=log(configs=[{"name": "B1-H4-S256", "throughput": 11.2,
                                           "passed": True}]))
        s.commit(TILED, author="tuner", message="tile 32", score=Score(11.2, unit="GFLOP/s"))
        s.record_attempt(BROKEN, base="v1", author="tuner", outcome="compile_error",
                         detail="compile failed: k.c:1:15: expected ';'\nsecond line",
                         log=log(failure={"kind": "compile_error", "message": "expected ';'",
                                          "config": None},
                                 compile={"ok": False, "log": COMPILER}))
        s.record_attempt(SEED, base="v1", author="tuner", outcome="slower",
                         detail="9.5 GFLOP/s; -15.18% on the best (v1)",
                         score=Score(9.5, ratio=0.95, unit="GFLOP/s"), log=log())
        s.record_attempt(TILED, base="v0", author="agent", outcome="incorrect",
                         detail="incorrect [S=127 (edge)]: max abs err 3.1",
                         log=log(failure={"kind": "incorrect", "message": "max abs err 3.1",
                                          "config": "S=127"},
                                 configs=[{"name": "S=127", "edge": True, "passed": False}]))
        s.record_attempt(TILED, base="v1", author="tuner", outcome="interrupted",
                         detail="interrupted by Ctrl-C during this evaluation")
    return root


def avo(root: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--sessions-dir", str(root), "sessions", "attempts", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0][:1] == "a" and line.split()[0][1:].isdigit()}


def test_lists_every_attempt_with_base_outcome_score_and_detail(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = avo(sessions, capsys, "tiles")
    assert code == 0, err
    listed = rows(out)
    assert list(listed) == ["a1", "a2", "a3", "a4", "a5"]
    assert listed["a1"][:7] == ["a1", "v0", "tuner", "committed", "11.2", "GFLOP/s", "1.120x"]
    assert listed["a2"][:6] == ["a2", "v1", "tuner", "compile_error", "-", "-"]
    assert "compile failed: k.c:1:15: expected ';'" in out and "second line" not in out
    assert listed["a3"][3:7] == ["slower", "9.5", "GFLOP/s", "0.950x"]
    assert listed["a4"][:4] == ["a4", "v0", "agent", "incorrect"]
    assert listed["a5"][3] == "interrupted"
    header = out.splitlines()[1].split()
    assert header == ["id", "base", "author", "outcome", "score", "ratio", "when", "detail"]


def test_failed_lists_only_the_candidates_that_did_not_work(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = avo(sessions, capsys, "tiles", "--failed")
    assert code == 0
    assert list(rows(out)) == ["a2", "a4"]
    assert out.splitlines()[0] == "'tiles': 2 failed attempts of 5, oldest first"


def test_limit_shows_the_latest_and_says_how_to_see_all(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = avo(sessions, capsys, "tiles", "--limit", "2")
    assert code == 0
    assert list(rows(out)) == ["a4", "a5"]
    assert out.splitlines()[0] == ("'tiles': the latest 2 attempts of 5, oldest first "
                                   "(--all for every one)")
    _, out, _ = avo(sessions, capsys, "tiles", "--limit", "2", "--all")
    assert list(rows(out)) == ["a1", "a2", "a3", "a4", "a5"]


def test_one_attempt_in_full_has_its_diff_and_its_log(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = avo(sessions, capsys, "tiles", "a2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["a2", "compile_error", "from", "v1", "by", "tuner"]
    assert "compile failed: k.c:1:15: expected ';'" in out and "second line" in out
    assert "diff against v1 (+1/-1)" in out
    assert "-int tile = 32;" in lines and "+int tile = 32" in lines
    assert "failure: compile_error: expected ';'" in lines
    assert "compiler output:" in lines
    assert "  k.c:1:15: error: expected ';' before 'int'" in lines

    _, out, _ = avo(sessions, capsys, "tiles", "a4")
    assert "failure: incorrect [S=127]: max abs err 3.1" in out
    assert "  S=127 (edge): -, FAIL" in out.splitlines()

    _, out, _ = avo(sessions, capsys, "tiles", "a1")
    assert out.splitlines()[0].split()[:3] == ["a1", "committed", "->"]
    assert "  B1-H4-S256: 11.2 GFLOP/s, pass" in out.splitlines()


def test_an_attempt_without_a_log_says_why(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = avo(sessions, capsys, "tiles", "a5")
    assert code == 0
    assert "no log was kept: the evaluation was interrupted" in out
    code, out, err = avo(sessions, capsys, "tiles", "a5", "--log")
    assert code == 1 and out == ""
    assert err.startswith("avo: error: a5: no log was kept") and err.count("\n") == 1


def test_the_raw_log_and_json(sessions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = avo(sessions, capsys, "tiles", "a2", "--log")
    assert code == 0
    assert json.loads(out)["compile"]["log"] == COMPILER

    code, out, _ = avo(sessions, capsys, "tiles", "a2", "--json")
    doc = json.loads(out)
    assert doc["attempt"]["id"] == "a2" and doc["attempt"]["outcome"] == "compile_error"
    assert json.loads(doc["log"])["compile"]["ok"] is False
    assert "+int tile = 32\n" in doc["diff"]

    code, out, _ = avo(sessions, capsys, "tiles", "--failed", "--json")
    assert [a["id"] for a in json.loads(out)] == ["a2", "a4"]


@pytest.mark.parametrize("ref", ["a9", "a0", "v1", "12"])
def test_an_unknown_attempt_is_one_line(
    sessions: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    code, out, err = avo(sessions, capsys, "tiles", ref)
    assert code == 1 and out == ""
    assert err == f"avo: error: no attempt '{ref}' (this session has a1..a5)\n"


def test_a_session_without_attempts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Session.create(tmp_path / "new", target="t", operator="tuner", seed_files=SEED).close()
    code, out, _ = avo(tmp_path, capsys, "new")
    assert code == 0
    assert out == "'new' has no attempts (of 0 attempts)\n"


def test_works_while_a_run_writes_the_session(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(sessions / "tiles") as writer:
        writer.record_attempt(SEED, base="v1", author="tuner", outcome="timeout",
                              detail="silent for 30 s")
        code, out, _ = avo(sessions, capsys, "tiles", "--failed")
    assert code == 0
    assert list(rows(out)) == ["a2", "a4", "a6"]


def test_at_80_columns_the_detail_keeps_its_room(
    sessions: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = avo(sessions, capsys, "tiles")
    assert code == 0
    assert out.splitlines()[1].split() == ["id", "base", "outcome", "score", "ratio", "detail"]
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "incorrect [S=127 (edge)]: max abs err" in out


def test_sessions_show_points_to_the_attempts(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--sessions-dir", str(sessions), "sessions", "show", "tiles"]) == 0
    out = capsys.readouterr().out
    assert "5 attempts" in out
    assert "the attempts, failed ones included: avo sessions attempts tiles [--failed]" in out


def test_a_session_run_in_lanes_lists_each_attempts_lane(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sessions"
    with Session.create(root / "lanes", target="cpu-attention", operator="tuner",
                        seed_files=SEED, score=Score(10.0, ratio=1.0, unit="GFLOP/s")) as s:
        s.record_attempt(TILED, base="v0", author="tuner", outcome="slower", lane=2,
                         score=Score(9.0, ratio=0.9, unit="GFLOP/s"), log=log())
        s.record_attempt(BROKEN, base="v0", author="you", outcome="compile_error", log=log())
    code, out, err = avo(root, capsys, "lanes")
    assert code == 0, err
    assert out.splitlines()[1].split()[:3] == ["id", "lane", "base"]
    listed = rows(out)
    assert listed["a1"][:4] == ["a1", "L2", "v0", "tuner"]
    assert listed["a2"][:3] == ["a2", "v0", "you"]  # a hand edit has no lane: a blank cell
    code, out, err = avo(root, capsys, "lanes", "a1")
    assert code == 0, err
    assert "by tuner in lane 2" in out


def test_a_session_of_one_lane_has_no_lane_column(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = avo(sessions, capsys, "tiles")
    assert code == 0, err
    assert "lane" not in out.splitlines()[1].split()
