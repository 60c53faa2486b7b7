"""The agent on real parts: a real session and CPU worker, the real anthropic SDK, and a local
fake of the Messages API that plays a scripted conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic

from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators.agent import AgentSettings
from avo_tui.operators.agent.agent import Agent

EDITOR = "str_replace_based_edit_tool"
KERNEL = "attention.c"
THREADS_LINE = "#define THREADS 1       // avo:knob 0 1 2 4 8"
# Every core instead of one: a clear, repeatable gain on any machine with two cores or more.
ALL_CORES = THREADS_LINE.replace("THREADS 1", "THREADS 0")
BROKEN = "static int broken = ;"


def edit(old: str, new: str) -> tuple[str, dict[str, object]]:
    return EDITOR, {"command": "str_replace", "path": KERNEL, "old_str": old, "new_str": new}


def use_fake(monkeypatch: pytest.MonkeyPatch, server: FakeAnthropic) -> None:
    """Point the SDK at the fake, as a user would with a real key and the real URL."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)


def make_agent(knowledge: Path, **settings: object) -> Agent:
    values: dict[str, object] = dict(
        outage_wait_s=0.05, outage_wait_max_s=0.2, request_timeout_s=10.0, sdk_retries=2,
    )
    values.update(settings)
    return Agent(AgentSettings(**values), knowledge=KnowledgeBase([knowledge]))  # type: ignore[arg-type]
