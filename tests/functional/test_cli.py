"""The ``avo`` command, through ``avo_tui.cli.main(argv)`` on real sessions in ``tmp_path``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from avo_tui.cli import main
from avo_tui.commands.export import EXPORT_SUMMARY
from avo_tui.store import Score, Session

V0 = {"kernel.cu": "// seed\nint v = 0;\n", "launch.py": "grid = (1,)\n"}
V1 = {"kernel.cu": "// tiled\nint v = 1;\n", "launch.py": "grid = (2,)\n"}
V2 = {"kernel.cu": "// tiled + unrolled\nint v = 2;"}  # drops launch.py; no final newline


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich sizes tables to the terminal running pytest; fix the width so output is stable."""
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    """Two sessions: ``gemm-fp16`` (v0 <- v1 <- v2, best v1, head v2) and unscored ``attn``."""
    root = tmp_path / "sessions"
    with Session.create(
        root / "gemm-fp16", target="gemm_fp16", operator="tuner", seed_files=V0,
        score=Score(1.0, ratio=1.0),
    ) as s:
        s.commit(V1, author="agent", message="tile it", score=Score(3.0, ratio=3.0))
        s.commit(V2, author="tuner", message="unroll", score=Score(2.0, ratio=2.0))
    with Session.create(
        root / "attn", target="attn_bf16", operator="agent", seed_files={"attn.cu": "x\n"}
    ) as s:
        s.commit({"attn.cu": "y\n"}, author="agent", message="try", score=None)
    return root


def avo(root: Path, *argv: str) -> int:
    return main(["--sessions-dir", str(root), *argv])


# -- sessions list ----------------------------------------------------------------------------


def test_sessions_list_table(sessions_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert avo(sessions_dir, "sessions", "list") == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["session"][:6] == ["session", "target", "operator", "versions", "best", "status"]
    assert rows["gemm-fp16"][:7] == ["gemm-fp16", "gemm_fp16", "tuner", "3", "3", "TFLOP/s", "new"]
    assert rows["attn"][:6] == ["attn", "attn_bf16", "agent", "2", "-", "new"]
    assert list(rows) == ["session", "attn", "gemm-fp16"]  # sorted by name


def test_sessions_list_json(sessions_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert avo(sessions_dir, "sessions", "list", "--json") == 0
    listed = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"gemm-fp16", "attn"}
    gemm, attn = listed["gemm-fp16"], listed["attn"]
    assert {k: gemm[k] for k in ("name", "target", "operator", "versions", "best", "status")} == {
        "name": "gemm-fp16", "target": "gemm_fp16", "operator": "tuner", "versions": 3,
        "best": 3.0, "status": "new",
    }
    assert {k: attn[k] for k in ("target", "operator", "versions", "best", "status")} == {
        "target": "attn_bf16", "operator": "agent", "versions": 2, "best": None, "status": "new",
    }
    assert gemm["best_unit"] == "TFLOP/s"
    assert gemm["last_activity"] > 0


def test_sessions_list_status_names_a_live_writer_or_a_killed_run(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(sessions_dir / "attn") as s:
        s.set_state(status="running")
    writer = Session.open(sessions_dir / "gemm-fp16")
    try:
        writer.set_state(status="running")
        assert avo(sessions_dir, "sessions", "list", "--json") == 0
        live = {s["name"]: s["status"] for s in json.loads(capsys.readouterr().out)}
    finally:
        writer.close()
    assert live["gemm-fp16"].startswith("running (pid ")
    assert f"pid {os.getpid()} " in live["gemm-fp16"]
    assert live["attn"] == "killed"  # says running, but nobody holds the lock: as the app says

    assert avo(sessions_dir, "sessions", "list", "--json") == 0
    after = {s["name"]: s["status"] for s in json.loads(capsys.readouterr().out)}
    assert after == {"gemm-fp16": "killed", "attn": "killed"}


def test_sessions_list_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert avo(tmp_path / "none", "sessions", "list") == 0
    assert "no sessions" in capsys.readouterr().out
    assert avo(tmp_path / "none", "sessions", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_sessions_without_subcommand_lists(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert avo(sessions_dir, "sessions") == 0
    out = capsys.readouterr().out
    assert "gemm-fp16" in out and "attn" in out


def test_the_app_without_a_terminal_is_one_clear_line(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in sessions_dir.iterdir())
    assert avo(sessions_dir) == 1  # pytest's stdin is no terminal
    err = capsys.readouterr().err
    assert err == ("avo: error: the app needs a terminal; use avo run --headless for a log "
                   "instead\n")
    assert sorted(p.name for p in sessions_dir.iterdir()) == before


# -- sessions show ----------------------------------------------------------------------------


def version_rows(out: str) -> dict[str, str]:
    """{version id: marks} from the table ``sessions show`` prints."""
    rows = {}
    for line in out.splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] in ("H", "*", "H*") and len(tokens) > 1:
            marks, vid = tokens[0], tokens[1]
        else:
            marks, vid = "", tokens[0]
        if re.fullmatch(r"v\d+", vid):
            rows[vid] = marks
    return rows


def test_sessions_show_marks_head_and_best(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert avo(sessions_dir, "sessions", "show", "gemm-fp16") == 0
    out = capsys.readouterr().out
    assert version_rows(out) == {"v0": "", "v1": "*", "v2": "H"}
    assert re.search(r"head v2\s+best v1 \(3 TFLOP/s\)", out)
    assert "3 versions" in out
    assert "tile it" in out and "unroll" in out

    with Session.open(sessions_dir / "gemm-fp16") as s:
        s.rollback("v1")
    assert avo(sessions_dir, "sessions", "show", "gemm-fp16") == 0
    assert version_rows(capsys.readouterr().out) == {"v0": "", "v1": "H*", "v2": ""}


def test_sessions_show_without_scores(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert avo(sessions_dir, "sessions", "show", "attn") == 0
    out = capsys.readouterr().out
    assert version_rows(out) == {"v0": "", "v1": "H"}
    assert re.search(r"best -", out)


def test_sessions_show_json(sessions_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Session.open(sessions_dir / "gemm-fp16") as s:
        s.record_attempt(V1, base="v0", author="agent", outcome="committed", version="v1")
    assert avo(sessions_dir, "sessions", "show", "gemm-fp16", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "gemm-fp16"
    assert doc["meta"]["target"] == "gemm_fp16"
    assert doc["meta"]["operator"] == "tuner"
    assert doc["state"]["head"] == "v2"
    assert doc["best"] == "v1"
    assert doc["attempts"] == 1
    assert doc["events"] == 4  # created, two commits, one attempt
    versions = doc["versions"]
    assert [v["id"] for v in versions] == ["v0", "v1", "v2"]
    assert [v["parent"] for v in versions] == [None, "v0", "v1"]
    assert [v["author"] for v in versions] == ["seed", "agent", "tuner"]
    assert [v["score"]["gmean"] for v in versions] == [1.0, 3.0, 2.0]
    assert sorted(versions[2]["files"]) == ["kernel.cu"]


def test_sessions_show_keeps_marks_and_ids_on_a_narrow_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with Session.create(
        tmp_path / "run", target="t", operator="agent", seed_files=V0, score=Score(1.0)
    ) as s:
        for i in range(1, 12):
            s.commit(V1 if i % 2 else V0, author="agent", score=Score(float(i)),
                     message=f"attempt {i}: move the K loop into shared memory and unroll by 4")
        s.rollback("v10")
    assert avo(tmp_path, "sessions", "show", "run") == 0
    rows = version_rows(capsys.readouterr().out)
    assert rows == {f"v{i}": "" for i in range(10)} | {"v10": "H", "v11": "*"}


# -- unknown sessions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["sessions", "show", "gemm-fp61"],
        ["sessions", "show", "gemm-fp61", "--json"],
        ["sessions", "repair", "gemm-fp61"],
        ["export", "gemm-fp61", "--out", "OUT"],
    ],
    ids=["show", "show-json", "repair", "export"],
)
def test_unknown_session_is_a_one_line_error_with_close_match(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert avo(sessions_dir, *argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("avo: error: ")
    assert "gemm-fp61" in err
    assert "did you mean" in err and "gemm-fp16" in err.split("did you mean", 1)[1]
    assert not (tmp_path / "out").exists()


def test_invalid_session_name_is_an_error(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert avo(sessions_dir, "sessions", "show", "../gemm-fp16") == 1
    err = capsys.readouterr().err
    assert err.startswith("avo: error: invalid session name")
    assert err.count("\n") == 1


# -- export -----------------------------------------------------------------------------------


def read_export(out: Path) -> tuple[dict[str, str], dict[str, Any]]:
    files = {p.name: p.read_text() for p in out.iterdir() if p.name != EXPORT_SUMMARY}
    return files, json.loads((out / EXPORT_SUMMARY).read_text())


@pytest.mark.parametrize(
    ("ref", "vid", "files", "path"),
    [
        ("best", "v1", V1, ["v1", "v0"]),
        ("head", "v2", V2, ["v2", "v1", "v0"]),
        ("v1", "v1", V1, ["v1", "v0"]),
        ("v0", "v0", V0, ["v0"]),
    ],
)
def test_export_writes_version_files_and_summary(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    ref: str, vid: str, files: dict[str, str], path: list[str],
) -> None:
    out = tmp_path / "out" / ref
    assert avo(sessions_dir, "export", "gemm-fp16", "--version", ref, "--out", str(out)) == 0
    assert f"exported {vid} of 'gemm-fp16'" in capsys.readouterr().out
    exported, summary = read_export(out)
    assert exported == files
    assert summary["session"] == "gemm-fp16"
    assert summary["target"] == "gemm_fp16"
    assert summary["version"]["id"] == vid
    assert summary["version"]["files"].keys() == files.keys()
    assert [v["id"] for v in summary["path_to_root"]] == path
    assert summary["path_to_root"][-1]["author"] == "seed"
    with Session.open(sessions_dir / "gemm-fp16", writable=False) as s:
        scores = [s.version(v).score for v in path]
        assert [v["gmean"] for v in summary["path_to_root"]] == [
            score.gmean for score in scores if score is not None
        ]
        messages = [s.version(v).message for v in path]
    assert [v["message"] for v in summary["path_to_root"]] == messages


def test_export_defaults_to_best(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "best"
    assert avo(sessions_dir, "export", "gemm-fp16", "--out", str(out)) == 0
    exported, summary = read_export(out)
    assert exported == V1
    assert summary["version"]["id"] == "v1"


def test_export_refuses_to_overwrite_without_force(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "kernel.cu").write_text("my own work\n")
    argv = ["export", "gemm-fp16", "--version", "v1", "--out", str(out)]

    assert avo(sessions_dir, *argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("avo: error: would overwrite")
    assert str(out / "kernel.cu") in captured.err
    assert "--force" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["kernel.cu"]  # nothing else written
    assert (out / "kernel.cu").read_text() == "my own work\n"

    assert avo(sessions_dir, *argv, "--force") == 0
    capsys.readouterr()
    exported, summary = read_export(out)
    assert exported == V1
    assert summary["version"]["id"] == "v1"


def test_export_refuses_when_only_the_summary_exists(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / EXPORT_SUMMARY).write_text("{}\n")
    assert avo(sessions_dir, "export", "gemm-fp16", "--out", str(out)) == 1
    assert EXPORT_SUMMARY in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [EXPORT_SUMMARY]
    assert (out / EXPORT_SUMMARY).read_text() == "{}\n"


def test_export_into_existing_folder_without_clashes(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep\n")
    assert avo(sessions_dir, "export", "gemm-fp16", "--version", "v0", "--out", str(out)) == 0
    assert (out / "notes.txt").read_text() == "keep\n"
    assert (out / "kernel.cu").read_text() == V0["kernel.cu"]


@pytest.mark.parametrize("ref", ["v9", "v12", "latest"])
def test_export_unknown_version_fails(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], ref: str
) -> None:
    out = tmp_path / "out"
    assert avo(sessions_dir, "export", "gemm-fp16", "--version", ref, "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"avo: error: no version '{ref}'")
    assert err.count("\n") == 1
    assert not out.exists()


def test_export_best_without_scores_fails(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert avo(sessions_dir, "export", "attn", "--out", str(out)) == 1
    assert "no version has a score" in capsys.readouterr().err
    assert not out.exists()
    assert avo(sessions_dir, "export", "attn", "--version", "head", "--out", str(out)) == 0
    assert (out / "attn.cu").read_text() == "y\n"


def test_export_works_while_a_writer_holds_the_session(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.open(sessions_dir / "gemm-fp16") as writer:
        writer.commit(V0, author="operator", message="back to seed", score=Score(9.0))
        assert avo(sessions_dir, "export", "gemm-fp16", "--out", str(tmp_path / "o")) == 0
    exported, summary = read_export(tmp_path / "o")
    assert exported == V0
    assert [v["id"] for v in summary["path_to_root"]] == ["v3", "v2", "v1", "v0"]


# -- sessions new -----------------------------------------------------------------------------


def test_sessions_new_creates_v0_from_seed_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "gemm.cu").write_text("__global__ void k() {}\n")
    (src / "gemm.h").write_text("#pragma once\n")
    root = tmp_path / "sessions"
    rc = avo(root, "sessions", "new", "run-1", "--target", "gemm_fp16",
             "--seed", str(src / "gemm.cu"), "--seed", str(src / "gemm.h"),
             "--message", "from the paper")
    assert rc == 0
    assert "created session 'run-1'" in capsys.readouterr().out
    with Session.open(root / "run-1", writable=False) as s:
        assert s.read_files("v0") == {"gemm.cu": "__global__ void k() {}\n",
                                      "gemm.h": "#pragma once\n"}
        v0 = s.version("v0")
        assert (v0.author, v0.parent, v0.message) == ("seed", None, "from the paper")
        assert s.meta["target"] == "gemm_fp16"
        assert s.meta["operator"] == "tuner"  # the default
        assert s.version("head").id == "v0"
        assert s.lock_holder is None  # the command let go of it

    assert avo(root, "sessions", "list", "--json") == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)] == ["run-1"]


@pytest.mark.parametrize(
    ("name", "seed", "message"),
    [
        ("gemm-fp16", "seed.cu", "already exists"),
        ("bad name", "seed.cu", "invalid session name"),
        ("fresh", "missing.cu", "cannot read seed file"),
    ],
)
def test_sessions_new_errors(
    sessions_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    name: str, seed: str, message: str,
) -> None:
    (tmp_path / "seed.cu").write_text("int x;\n")
    before = sorted(p.name for p in sessions_dir.iterdir())
    rc = avo(sessions_dir, "sessions", "new", name, "--target", "t", "--seed",
             str(tmp_path / seed))
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("avo: error: ") and message in err
    assert sorted(p.name for p in sessions_dir.iterdir()) == before
    with Session.open(sessions_dir / "gemm-fp16", writable=False) as s:
        assert s.read_files("v0") == V0


# -- sessions repair --------------------------------------------------------------------------


def test_repair_on_healthy_session_has_nothing_to_do(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = sessions_dir / "gemm-fp16"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert avo(sessions_dir, "sessions", "repair", "gemm-fp16") == 0
    out = capsys.readouterr().out
    assert out == "session 'gemm-fp16' is healthy: nothing to repair\n"
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not list(folder.glob("damaged-*"))


def test_repair_on_healthy_compacted_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session.create(
        tmp_path / "big", target="t", operator="tuner", seed_files=V0, compact_bytes=4096,
        sync=False,
    ) as s:
        for i in range(200):
            s.append_event("tool_call", n=i)
    assert (tmp_path / "big" / "session.journal.prev").exists()  # it did compact
    assert avo(tmp_path, "sessions", "repair", "big") == 0
    assert "nothing to repair" in capsys.readouterr().out


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["sessions"],
        ["sessions", "list"],
        ["sessions", "show"],
        ["sessions", "new"],
        ["sessions", "repair"],
        ["sessions", "attempts"],
        ["export"],
    ],
    ids=lambda argv: " ".join(argv) or "avo",
)
def test_every_help_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        avo(tmp_path, *argv, "--help")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: avo")
    assert " ".join(["avo", *argv]) in out.splitlines()[0]


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("avo-tui ")


@pytest.mark.parametrize("given", [None, "ACTIVE"])
def test_torchs_threads_sleep_when_idle_unless_the_user_said_otherwise(
        given: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Spinning, they took 3.5x as long on a busy 2-core machine (docs/testing.md).
    if given is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", given)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert os.environ["OMP_WAIT_POLICY"] == (given or "PASSIVE")


def test_usage_error_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        avo(tmp_path, "sessions", "new", "x")  # --target and --seed are required
    assert exc.value.code == 2
    assert "required" in capsys.readouterr().err


def test_help_in_a_subprocess_names_the_subcommands(tmp_path: Path) -> None:
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "avo_tui.cli", "--sessions-dir", str(tmp_path), *argv],
            capture_output=True, text=True, timeout=60, check=False,
        )

    top = run("--help")
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("usage: avo")
    assert "sessions" in top.stdout and "export" in top.stdout

    sessions = run("sessions", "--help")
    assert sessions.returncode == 0, sessions.stderr
    for command in ("list", "show", "attempts", "new", "repair"):
        assert re.search(rf"^\s+{command}\s", sessions.stdout, re.MULTILINE), command


def test_sessions_new_refuses_two_seeds_with_one_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "k.cu").write_text("a\n")
    (tmp_path / "b" / "k.cu").write_text("b\n")
    code = avo(tmp_path / "s", "sessions", "new", "x", "--target", "t",
               "--seed", str(tmp_path / "a" / "k.cu"), "--seed", str(tmp_path / "b" / "k.cu"))
    assert code == 1
    assert "two seed files are named k.cu" in capsys.readouterr().err
    assert not (tmp_path / "s" / "x").exists()


def test_export_writes_files_in_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    Session.create(root / "nested", target="t", operator="tuner",
                   seed_files={"include/tile.h": "#define T 64\n", "k.cu": "x\n"}).close()
    assert avo(root, "export", "nested", "--version", "v0", "--out", str(tmp_path / "out")) == 0
    assert (tmp_path / "out" / "include" / "tile.h").read_text() == "#define T 64\n"


def test_sessions_show_says_running_only_for_a_live_run(
    sessions_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 87: a stopped session showed "0.08 h running"."""
    with Session.open(sessions_dir / "attn") as s:
        s.set_state(status="stopped", step=3, usage={"seconds": 288.0})
    assert avo(sessions_dir, "sessions", "show", "attn") == 0
    out = capsys.readouterr().out
    assert "step 3   stopped after 0.08 h of run time" in out and "running" not in out, out
    writer = Session.open(sessions_dir / "attn")
    try:
        writer.set_state(status="running")
        assert avo(sessions_dir, "sessions", "show", "attn") == 0
        live = capsys.readouterr().out
    finally:
        writer.close()
    assert "step 3   running, 0.08 h of run time so far" in live, live
    assert avo(sessions_dir, "sessions", "show", "attn") == 0  # its process gone: no "running"
    assert "step 3   killed after 0.08 h of run time" in capsys.readouterr().out
