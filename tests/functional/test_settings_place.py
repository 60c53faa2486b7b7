"""Where avo finds the user's settings: one folder name for the app, ``avo-tui``, under the
config home as under the data home (sessions); a file left at the old place, ``avo``, is still
read and the user is told to move it. Through the real ``avo`` command, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SETTINGS = '[agent]\nmodel = "claude-opus-4-1"\n'


def settings_shown(config_home: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AVO_SETTINGS"}
    env |= {"XDG_CONFIG_HOME": str(config_home), "HOME": str(tmp_path)}
    code = ("from avo_tui.settings_file import settings_path, read_table; "
            "print(settings_path()); print(read_table('agent').get('model'))")
    return subprocess.run(
        [sys.executable, "-c", f"{code}\nfrom avo_tui.cli import main; "
                               "main(['--sessions-dir', '.', 'sessions', 'list'])"],
        env=env, cwd=tmp_path, text=True, capture_output=True, timeout=120)


def test_the_settings_live_under_the_apps_one_folder_name(tmp_path: Path) -> None:
    home = tmp_path / "config"
    (home / "avo-tui").mkdir(parents=True)
    (home / "avo-tui" / "settings.toml").write_text(SETTINGS)
    done = settings_shown(home, tmp_path)
    assert done.stdout.splitlines()[:2] == [str(home / "avo-tui" / "settings.toml"),
                                            "claude-opus-4-1"], done.stdout + done.stderr
    assert "old place" not in done.stderr


def test_settings_at_the_old_place_are_read_and_the_user_told_to_move_them(
    tmp_path: Path,
) -> None:
    home = tmp_path / "config"
    (home / "avo").mkdir(parents=True)
    (home / "avo" / "settings.toml").write_text(SETTINGS)
    done = settings_shown(home, tmp_path)
    assert done.stdout.splitlines()[1] == "claude-opus-4-1", done.stdout + done.stderr
    new = home / "avo-tui" / "settings.toml"
    assert f"their old place: move the file to {new}" in done.stderr
    # Once moved, the new place wins and nothing is said.
    new.parent.mkdir()
    (home / "avo" / "settings.toml").rename(new)
    again = settings_shown(home, tmp_path)
    assert again.stdout.splitlines()[0] == str(new) and "old place" not in again.stderr
