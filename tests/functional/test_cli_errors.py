"""Mistakes a user makes with the ``avo`` command get one clear line, before any work is done
(scoring a seed takes a while), never a traceback or a raw ``[Errno N]``."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.cli import main


@pytest.mark.parametrize("argv", [
    ["sessions", "list"],
    ["sessions", "new", "x", "--target", "t", "--seed", "SEED"],
    ["run", "--session", "x", "--target", "cpu-attention", "--headless", "--quick"],
], ids=["list", "new", "run"])
def test_a_sessions_folder_that_is_a_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    folder = tmp_path / "sessions"
    folder.write_text("not a folder\n")
    (tmp_path / "seed.c").write_text("int x;\n")
    argv = [str(tmp_path / "seed.c") if a == "SEED" else a for a in argv]
    assert main(["--sessions-dir", str(folder), *argv]) == 1
    captured = capsys.readouterr()
    assert "scoring the seed" not in captured.out  # refused before any work
    assert captured.err == (f"avo: error: the sessions folder {folder} is a file: "
                            "--sessions-dir or AVO_SESSIONS_DIR must name a folder\n")
    assert folder.read_text() == "not a folder\n"


def every_command() -> list[list[str]]:
    import argparse

    from avo_tui.cli import build_parser

    found: list[list[str]] = [[]]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


@pytest.mark.parametrize("argv", every_command(), ids=lambda argv: " ".join(argv) or "avo")
def test_every_help_reads_at_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    wide = [line for line in capsys.readouterr().out.splitlines() if len(line) > 80]
    assert wide == []
