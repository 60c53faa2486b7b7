"""The code base stays clean under the project's ruff and mypy configurations (pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def dev_tool(name: str) -> str:
    """The dev tool ``name``, beside this Python or on PATH. A missing one fails the test that
    needs it rather than skipping it: a skip would pass the suite without the check."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: the checks need the dev tools "
                    "(scripts/setup --dev installs them)", pytrace=False)
    return found


def test_a_missing_tool_fails_the_check_and_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(pytest.fail.Exception, match=r"ruff is not installed.*setup --dev"):
        dev_tool("ruff")


def test_ruff_reports_nothing() -> None:
    result = subprocess.run(
        [dev_tool("ruff"), "check", "avo_tui", "tests", "benchmarks", "targets"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_nothing() -> None:
    # [tool.mypy] in pyproject.toml says what it checks (avo_tui/, tests/ and benchmarks/) and
    # how strictly.
    result = subprocess.run([dev_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
