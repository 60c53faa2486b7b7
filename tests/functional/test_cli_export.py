"""``avo export`` where the destination cannot be written: one clear line, never a raw
``[Errno 17]``, and nothing of the user's touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.store import Score, Session


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    root = tmp_path / "sessions"
    Session.create(root / "s", target="t", operator="tuner", seed_files={"k.c": "int x;\n"},
                   score=Score(1.0)).close()
    return root


def export(sessions: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--sessions-dir", str(sessions), "export", "s", *argv])
    captured = capsys.readouterr()
    assert captured.out == "" or code == 0
    return code, captured.err


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_out_naming_a_file_says_so(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], force: list[str]
) -> None:
    mine = tmp_path / "best.c"
    mine.write_text("my own kernel\n")
    code, err = export(sessions, capsys, "--out", str(mine), *force)
    assert code == 1
    assert err == (f"avo: error: --out {mine} is a file; export writes a folder (the kernel "
                   "files and avo-version.json): name a folder\n")
    assert mine.read_text() == "my own kernel\n"


def test_out_under_a_file_is_one_line_without_errno(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").write_text("x\n")
    code, err = export(sessions, capsys, "--out", str(tmp_path / "plain" / "sub"))
    assert code == 1
    assert err == f"avo: error: {tmp_path / 'plain' / 'sub'}: not a directory\n"


def test_a_kernel_file_name_taken_by_a_folder_is_one_line(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "k.c").mkdir(parents=True)
    code, err = export(sessions, capsys, "--out", str(out), "--force")
    assert code == 1
    assert err == f"avo: error: {out / 'k.c'}: is a directory\n"
