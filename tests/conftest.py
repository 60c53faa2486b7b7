from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from avo_tui.store import Score, Session

# Compiled kernels go to a throwaway cache, not the user's ~/.cache; worker processes inherit it.
os.environ["AVO_CACHE_DIR"] = tempfile.mkdtemp(prefix="avo-test-cache-")

SEED = "// seed kernel\nint tile = 64;\n"


def make_session(directory: Path, **options: object) -> Session:
    return Session.create(
        directory,
        target="cpu-attention",
        operator="tuner",
        seed_files={"kernel.c": SEED},
        score=Score(1.0),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def session_dir(tmp_path: Path) -> Path:
    return tmp_path / "sessions" / "demo"
