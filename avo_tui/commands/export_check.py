"""``avo export --check DIR``: check_package.py run in a fresh process, so that the package is
imported as a user imports it (from DIR, before anything of this process's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..store import StoreError


def run_check(folder: Path, quick: bool = False, json_out: Path | None = None,
              rounds: int = 1) -> int:
    if not (folder.is_dir() and any(folder.glob("*/spec.json"))):
        raise StoreError(f"--check {folder}: no exported package there (avo export --torch "
                         "writes one)")
    root = Path(__file__).resolve().parents[2]  # where avo_tui is, for the check's own code
    path = os.pathsep.join([str(folder.resolve()), str(root), os.environ.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "avo_tui.commands.check_package", str(folder)]
    command += ["--quick"] if quick else []
    command += ["--rounds", str(rounds)]
    command += ["--json", str(json_out)] if json_out else []
    return subprocess.run(command, env=dict(os.environ, PYTHONPATH=path), check=False).returncode
