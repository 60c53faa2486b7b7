"""The code base stays clean under the project's ruff and mypy configurations (pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def dev_tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (scripts/setup --dev installs it)")
    return found


def test_ruff_reports_nothing() -> None:
    result = subprocess.run(
        [dev_tool("ruff"), "check", "avo_tui", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_nothing() -> None:
    # [tool.mypy] in pyproject.toml says what it checks (avo_tui/) and how strictly.
    result = subprocess.run([dev_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
