"""Every ``avo`` command that names a session checks the name by the store's one rule, before
it does anything: ``avo run --session ../evil`` once created a session outside the sessions
folder while ``avo sessions show ../evil`` refused the name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from avo_tui.cli import main
from avo_tui.commands.run import prepare_run, run_args
from avo_tui.store import Session, StoreError

BAD_NAMES = ["../evil", "ABS/evil", "", ".", "..", "a/b", ".hidden", "x" * 65, "tab\tname"]

COMMANDS = {
    "run": ["run", "--session", "NAME", "--target", "cpu-attention", "--headless", "--quick",
            "--max-steps", "1"],
    "run --from": ["run", "--session", "fresh", "--target", "cpu-attention", "--from",
                   "NAME:v0", "--headless", "--quick"],
    "attach": ["attach", "NAME"],
    "send": ["send", "NAME", "pause"],
    "export": ["export", "NAME", "--out", "OUT"],
    "sessions show": ["sessions", "show", "NAME"],
    "sessions new": ["sessions", "new", "NAME", "--target", "t", "--seed", "SEED"],
    "sessions repair": ["sessions", "repair", "NAME"],
    "sessions attempts": ["sessions", "attempts", "NAME"],
}


@pytest.mark.parametrize("name", BAD_NAMES, ids=ascii)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_bad_session_name_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    sessions = tmp_path / "deep" / "sessions"
    name = name.replace("ABS", str(tmp_path))  # absolute, and still inside the test's folder
    Session.create(sessions / "good", target="t", operator="tuner",
                   seed_files={"k.c": "int x;\n"}).close()
    (tmp_path / "seed.c").write_text("int x;\n")
    swap = {"NAME": name, "NAME:v0": f"{name}:v0", "OUT": str(tmp_path / "out"),
            "SEED": str(tmp_path / "seed.c")}
    argv = [swap.get(a, a) for a in COMMANDS[command]]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    assert main(["--sessions-dir", str(sessions), *argv]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"avo: error: invalid session name {name!r}: use letters, digits, '.', '_' or '-' "
        "(at most 64, starting with a letter or digit)\n"
    )
    assert captured.out == ""
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()


def test_the_run_the_app_starts_checks_the_name_too(tmp_path: Path) -> None:
    """``avo`` (no command) and the app build run arguments without the parser."""
    args = run_args("../evil", sessions_dir=tmp_path / "sessions", target="cpu-attention")
    with pytest.raises(StoreError, match=re.escape("invalid session name '../evil'")):
        prepare_run(args, Console(file=None, quiet=True))
    assert not (tmp_path / "evil").exists()
