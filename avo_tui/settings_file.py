"""The user's settings file: ``$AVO_SETTINGS``, else ``~/.config/avo/settings.toml``.

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


def settings_path() -> Path:
    if os.environ.get(SETTINGS_ENV):
        return Path(os.environ[SETTINGS_ENV])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "avo" / "settings.toml"


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
