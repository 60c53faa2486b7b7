"""The user's settings file: ``$AVO_SETTINGS``, else ``~/.config/avo-tui/settings.toml``, the
same folder name as the sessions' (``~/.local/share/avo-tui``).

A file at the old place, ``~/.config/avo/settings.toml``, is still read where the new one is
absent, and settings_moved says so, for the command line to tell the user once per run.

It is TOML; each part of avo reads its own table (``[agent]``, ``[knowledge]``). A missing file
means defaults. Imports nothing else of avo_tui, so every layer may use it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

SETTINGS_ENV = "AVO_SETTINGS"


class SettingsFileError(ValueError):
    """The settings file exists but cannot be read or parsed."""


APP_FOLDER = "avo-tui"
OLD_APP_FOLDER = "avo"  # before 2026-11-28


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def settings_path() -> Path:
    if os.environ.get(SETTINGS_ENV):
        return Path(os.environ[SETTINGS_ENV])
    path = _config_home() / APP_FOLDER / "settings.toml"
    old = _config_home() / OLD_APP_FOLDER / "settings.toml"
    return old if not path.exists() and old.exists() else path


def settings_moved() -> str | None:
    """A line for the user where the settings are read from the old place, else None."""
    path = settings_path()
    if os.environ.get(SETTINGS_ENV) or path.parent.name != OLD_APP_FOLDER:
        return None
    new = _config_home() / APP_FOLDER / "settings.toml"
    return f"avo: settings read from {path}, their old place: move the file to {new}"


def read_table(name: str, path: Path | None = None) -> dict[str, Any]:
    """The table ``[name]`` of the settings file; empty when the file or the table is absent."""
    path = path or settings_path()
    if not path.exists():
        return {}
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsFileError(f"cannot read the settings file {path}: {error}") from None
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise SettingsFileError(f"{path}: '{name}' must be a table ([{name}]), not a value")
    return table
