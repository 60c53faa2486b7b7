"""``avo sessions list`` with damaged sessions among healthy ones: each damaged one is one
line saying what is wrong in a few words, and the healthy ones are listed whole. One damaged
session once spread its error over 21 lines and cut every target name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.store import Score, Session

DAMAGE = {
    "cut-json": (b'{"format": "avo-store/1", "gen', "damaged: not valid JSON"),
    "not-ours": (b"{}", "damaged: not an avo session database"),
    "odd-shape": (b'{"format": "avo-store/1", "generation": 0, "seq": 0, "segments": 5, '
                  b'"sealed": [], "tables": {}}',
                  "damaged: TypeError: 'int' object is not iterable"),
}


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    root = tmp_path / "sessions"
    for name, target in [("mha-long-run-1", "mha"), ("cpu-attention-7", "cpu-attention"),
                         *((n, "gqa") for n in DAMAGE)]:
        Session.create(root / name, target=target, operator="tuner",
                       seed_files={"k.c": "int x;\n"}, score=Score(12.5)).close()
    for name, (content, _) in DAMAGE.items():
        (root / name / "session.json").write_bytes(content)
    return root


@pytest.mark.parametrize("columns", [80, 160])
def test_a_damaged_session_is_one_line_and_the_others_are_whole(
    sessions: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    columns: int,
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["--sessions-dir", str(sessions), "sessions", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 5 + 1  # the header, one line per session, the repair hint
    assert all(len(line) <= columns for line in lines)
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert rows["mha-long-run-1"].split()[:2] == ["mha-long-run-1", "mha"]
    assert rows["cpu-attention-7"].split()[:2] == ["cpu-attention-7", "cpu-attention"]
    assert "12.5 TFLOP/s" in rows["cpu-attention-7"]
    for name, (_, status) in DAMAGE.items():
        shown = status if columns > 100 else status[:22]  # at 80 columns its end may be cut
        assert shown in rows[name], rows[name]
    assert lines[-1] == ("damaged: avo sessions repair NAME recovers what it can; --json has "
                         "the error")


def test_json_keeps_the_whole_error(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--sessions-dir", str(sessions), "sessions", "list", "--json"]) == 0
    listed = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    cut = listed["cut-json"]
    assert cut["status"] == "damaged: not valid JSON"
    assert cut["error"].startswith(f"damaged session file {sessions / 'cut-json'}")
    assert "avo sessions repair cut-json" in cut["error"]
    assert listed["mha-long-run-1"]["error"] is None
    assert listed["mha-long-run-1"]["status"] == "new"


@pytest.mark.parametrize("argv", [["sessions", "show", "odd-shape"],
                                  ["sessions", "attempts", "odd-shape"],
                                  ["export", "odd-shape", "--out", "OUT"],
                                  ["send", "odd-shape", "pause"]])
def test_a_session_file_of_an_odd_shape_is_a_damaged_session_not_a_traceback(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(["--sessions-dir", str(sessions), *argv]) == 1
    err = capsys.readouterr().err
    assert err == (f"avo: error: damaged session file {sessions / 'odd-shape' / 'session.json'}"
                   ": TypeError: 'int' object is not iterable. Nothing was changed. `avo "
                   "sessions repair odd-shape` checks it\n")
