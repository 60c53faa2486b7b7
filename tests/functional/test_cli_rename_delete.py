"""`avo sessions rename` and `avo sessions delete`: whole sessions, never one a run writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.store import Session


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    with Session.create(tmp_path / "alpha", target="cpu-attention", operator="tuner",
                        seed_files={"k.c": "int x;\n"}):
        pass
    return tmp_path


def avo(root: Path, *argv: str) -> int:
    return main(["--sessions-dir", str(root), *argv])


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from avo_tui.store import Session
    with Session.open(Path(sys.argv[1])):
        print("holding", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def live(sessions: Path) -> Iterator[None]:
    """Another process writing alpha, as a run does."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(sessions / "alpha")],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    yield
    proc.kill()
    proc.wait()


def test_rename_moves_the_whole_session(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert avo(sessions, "sessions", "rename", "alpha", "beta") == 0
    assert "session 'alpha' is now 'beta'" in capsys.readouterr().out
    assert not (sessions / "alpha").exists()
    with Session.open(sessions / "beta", writable=False) as session:
        assert session.read_files("head") == {"k.c": "int x;\n"}


def test_rename_refuses_a_taken_name_or_a_bad_one(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sessions / "beta").mkdir()
    assert avo(sessions, "sessions", "rename", "alpha", "beta") == 1
    assert "a session or folder named 'beta' is already in" in capsys.readouterr().err
    assert avo(sessions, "sessions", "rename", "alpha", "../x") == 1
    assert (sessions / "alpha").is_dir()


def test_delete_asks_or_needs_yes(
    sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert avo(sessions, "sessions", "delete", "alpha") == 1  # no terminal here, no --yes
    assert "re-run with --yes to delete it" in capsys.readouterr().out
    assert (sessions / "alpha").is_dir()
    assert avo(sessions, "sessions", "delete", "alpha", "--yes") == 0
    assert "deleted session 'alpha'" in capsys.readouterr().out
    assert list(sessions.iterdir()) == []  # nothing left behind, not even a hidden folder
    assert avo(sessions, "sessions", "delete", "alpha", "--yes") == 1
    assert "no session named 'alpha'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["rename", "alpha", "beta"], ["delete", "alpha", "--yes"]])
def test_a_session_a_run_writes_is_neither_renamed_nor_deleted(
    sessions: Path, live: None, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert avo(sessions, "sessions", *argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("avo: error: session 'alpha' is being written by pid ") and (
        err.count("\n") == 1), err
    assert (sessions / "alpha").is_dir() and not (sessions / "beta").exists()
