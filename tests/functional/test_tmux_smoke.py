"""The real app in a real terminal: scripts/tmux_smoke.sh drives `avo` in tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "tmux_smoke.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tmux_smoke_pause_hint_rollback_quit() -> None:
    avo = Path(sys.executable).with_name("avo")
    env = {"PATH": "/usr/bin:/bin", "AVO": str(avo)}
    if "PYTHONPATH" in os.environ:  # a checkout other than the installed one: its code is tested
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("tmux_smoke: passed")
