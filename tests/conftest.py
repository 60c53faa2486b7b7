from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from avo_tui.store import Session

# worker, template, session: a live engine's parts; knowledge, fake: the agent's
pytest_plugins = ["engine_fixtures", "agent_fixtures"]

# Compiled kernels go to a throwaway cache, not the user's ~/.cache; worker processes inherit it.
os.environ["AVO_CACHE_DIR"] = tempfile.mkdtemp(prefix="avo-test-cache-")

SEED = "// seed kernel\nint tile = 64;\n"


def make_session(directory: Path, **options: object) -> Session:
    # Imported here so the GPU machine, which has no tinydb, can still collect tests/gpu.
    from avo_tui.store import Score, Session

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
