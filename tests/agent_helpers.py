"""The agent on real parts: a real session and CPU worker, the real anthropic SDK, and a local
fake of the Messages API that plays a scripted conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import TARGET, repeat_knob_seed, repeat_line
from fake_anthropic import FakeAnthropic

from avo_tui.engine.launch import seed_files
from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators.agent import AgentSettings
from avo_tui.operators.agent.agent import Agent

EDITOR = "str_replace_based_edit_tool"
KERNEL = "attention.c"
THREADS_LINE = "#define THREADS 1       // avo:knob 0 1 2 4 8"
BROKEN = "static int broken = ;"
# A seed that does all its work three times (engine_helpers.repeat_knob_seed), and the edit to
# twice: a gain of 1.5x by construction, on any machine and under any load, and small enough
# that the jump rule does not flag it on two cores or more (it allows 1.5x the number of cores).
THRICE = repeat_line(3, "1 2 3")
TWICE = repeat_line(2, "1 2 3")


def thrice_seed() -> dict[str, str]:
    return repeat_knob_seed(seed_files(TARGET), THRICE)


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
