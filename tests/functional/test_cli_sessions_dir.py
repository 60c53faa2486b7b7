"""``--sessions-dir``, the option of ``avo`` itself, is taken after the command as before it,
with the same meaning, and every command's --help shows it (issue 68: every new user wrote
``avo run ... --sessions-dir D`` and argparse refused it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_wiring import every_parser

from avo_tui.cli import build_parser, main
from avo_tui.store import Session


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sessions folder holding the session ``mine``; $AVO_SESSIONS_DIR names another, so
    that only --sessions-dir finds it."""
    monkeypatch.setenv("AVO_SESSIONS_DIR", str(tmp_path / "elsewhere"))
    folder = tmp_path / "sessions"
    Session.create(folder / "mine", target="cpu-attention", operator="tuner",
                   seed_files={"k.c": "int v;\n"}).close()
    return folder


def listed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]


def test_after_the_command(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sessions", "list", "--sessions-dir", str(root)]) == 0
    assert listed(capsys) == ["mine"]
    assert main(["sessions", "show", "mine", f"--sessions-dir={root}"]) == 0
    assert "mine" in capsys.readouterr().out


def test_before_the_command_is_not_undone_by_the_command(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a command's own default for the option (were it not argparse.SUPPRESS) would replace it
    assert main(["--sessions-dir", str(root), "sessions", "list"]) == 0
    assert listed(capsys) == ["mine"]
    assert main(["--sessions-dir", str(root / "none"), "sessions", "list",
                 "--sessions-dir", str(root)]) == 0  # the later one, as for any option
    assert listed(capsys) == ["mine"]


def test_every_command_shows_it_in_its_help() -> None:
    lacking = [parser.prog for parser in every_parser(build_parser())
               if "--sessions-dir DIR" not in parser.format_help()]
    assert not lacking, f"--sessions-dir missing from the help of {lacking}"
