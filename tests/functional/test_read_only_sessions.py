"""A sessions folder ``avo run`` cannot write is said in one line before any work (issue 71: a
read-only folder was found only after about 30 s of scoring the seed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import FIXTURE_TARGETS

# Root writes through a folder's modes; a read-only bind mount, in a mount namespace of its own,
# stops it as a read-only disk would.
READ_ONLY_MOUNT = ('mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" '
                   '&& exec "$@"')


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A read-only folder, and the words that run a command so that it finds it read-only."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder, []
        folder.chmod(0o755)  # so that pytest can remove it
        return
    wrap = ["unshare", "-rm", "sh", "-c", READ_ONLY_MOUNT, str(folder)]
    if shutil.which("unshare") is None or subprocess.run(
            [*wrap, "true"], capture_output=True).returncode != 0:
        pytest.skip("as root, a read-only folder needs unshare -rm (a mount namespace)")
    yield folder, wrap


@pytest.mark.parametrize("inside", ["", "sessions"], ids=["the folder", "a folder to make in it"])
def test_a_sessions_folder_that_cannot_be_written_is_said_before_the_seed_is_scored(
    read_only: tuple[Path, list[str]], inside: str
) -> None:
    folder, wrap = read_only
    sessions = folder / inside if inside else folder
    done = subprocess.run(
        [*wrap, sys.executable, "-m", "avo_tui.cli", "--sessions-dir", str(sessions), "run",
         "--target", str(FIXTURE_TARGETS / "cpu_attention_small.py"), "--session", "s",
         "--headless", "--quick", "--max-steps", "1"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "scoring the seed" not in done.stdout and "seed:" not in done.stdout, done.stdout
    assert done.stderr.startswith(f"avo: error: the sessions folder {sessions} is not writable ("
                                  ), done.stderr
    assert done.stderr.count("\n") == 1 and "--sessions-dir" in done.stderr, done.stderr
    assert list(folder.iterdir()) == []
