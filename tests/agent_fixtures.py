"""Fixtures for the agent on real parts: a small knowledge base and the loopback fake API,
with the SDK pointed at it as a user would point it at the real one.

Loaded for every test module by conftest.py. The imports sit inside the fixtures so the GPU
machine, which has no tinydb or anthropic, can still collect tests/gpu.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fake_anthropic import FakeAnthropic


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "cpu.md").write_text("# CPU attention\n\n## Threads\nUse every core: THREADS 0.\n")
    return folder


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    from agent_helpers import use_fake
    from fake_anthropic import FakeAnthropic

    with FakeAnthropic() as server:
        use_fake(monkeypatch, server)
        yield server
