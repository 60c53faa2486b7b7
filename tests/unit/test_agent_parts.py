"""The agent's parts that need no conversation: knowledge search, settings and prices, the
workspace editor, and ``avo send NAME budget``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.engine import SetBudgets
from avo_tui.engine.commands import from_doc
from avo_tui.knowledge import KnowledgeBase, KnowledgeError
from avo_tui.operators.agent import AgentSettings, SettingsError, load_settings
from avo_tui.operators.agent.settings import Price, TokenUsage
from avo_tui.operators.agent.workspace import ToolError, Workspace

NOTES = """\
# TMA

Intro text.

## Box sizes
A TMA box is at most 256 elements per dimension.

```cuda
# not a heading inside code
```

## Multicast
Clusters share one load across CTAs.
"""


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "tma.md").write_text(NOTES)
    (folder / "softmax.md").write_text("# Online softmax\nRescale the running sum by exp2.\n")
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "notes.md").write_text("# Registers\nsetmaxnreg gives consumers more registers.\n")
    return KnowledgeBase([folder, extra])


def test_knowledge_is_split_at_headings_and_ranked(kb: KnowledgeBase) -> None:
    hits = kb.search("what box size can a TMA load have")
    assert hits[0].section.ref == "tma.md#Box sizes"
    assert "256 elements" in hits[0].snippet
    assert kb.search("registers consumers")[0].section.ref == "mine/notes.md#Registers"
    assert kb.search("  ??  ") == []
    section = kb.read("tma.md#box SIZES")
    assert "# not a heading inside code" in section.text  # code fences are not headings
    assert "Intro text" in kb.read("tma.md").text


def test_knowledge_refs_that_name_nothing_are_clear_errors(kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeError, match=r"no knowledge file 'nope.md' \(files: .*tma.md"):
        kb.read("nope.md")
    with pytest.raises(KnowledgeError, match="sections: TMA; Box sizes; Multicast"):
        kb.read("tma.md#Swizzle")


def test_the_index_follows_edited_files(kb: KnowledgeBase) -> None:
    assert kb.search("swizzle") == []
    path = kb.folders[0] / "tma.md"
    path.write_text(NOTES + "\n## Swizzle\n128-byte swizzle avoids bank conflicts.\n")
    assert kb.search("swizzle")[0].section.heading == "Swizzle"


def test_prices_match_the_longest_model_prefix_and_settings_override_them(
    tmp_path: Path,
) -> None:
    usage = TokenUsage(input=1_000_000, output=100_000, cache_write=200_000, cache_read=1_000_000)
    assert AgentSettings(model="claude-opus-4-7").cost(usage) == pytest.approx(
        5 + 2.5 + 1.25 + 0.5)
    # Neither model has adaptive thinking or effort, the defaults (models.py).
    opus_4_1 = AgentSettings(model="claude-opus-4-1", thinking="off", effort="")
    assert opus_4_1.price() == Price(15, 75, 18.75, 1.5)
    haiku = AgentSettings(model="claude-haiku-4-5", thinking="off", effort="")
    assert haiku.cost(TokenUsage(output=1_000_000)) == 5
    assert AgentSettings(model="somebody-else").cost(usage) == 0.0
    path = tmp_path / "settings.toml"
    path.write_text('[agent]\nmodel = "claude-sonnet-5"\nthinking = 16000\n'
                    '[agent.pricing."claude-sonnet-5"]\ninput = 4\noutput = 20\n'
                    "cache_write = 5\ncache_read = 0.4\n")
    settings = load_settings(path)
    assert settings.thinking_param() == {"type": "enabled", "budget_tokens": 16000}
    assert settings.cost(TokenUsage(input=1_000_000)) == 4
    assert AgentSettings.from_doc(settings.to_doc()) == settings
    assert settings.override(thinking="off").thinking_param() is None
    with pytest.raises(SettingsError, match="thinking must be"):
        settings.override(thinking=500)


def test_the_editor_explains_what_it_cannot_do(tmp_path: Path, kb: KnowledgeBase) -> None:
    ws = Workspace(tmp_path / "ws", kb, max_write_bytes=1000)
    ws.reset({"k.c": "a\nb\na\n"})
    with pytest.raises(ToolError, match=r"occurs 2 times in k.c \(lines 1, 3\)"):
        ws.str_replace("k.c", "a", "x")
    with pytest.raises(ToolError, match="was not found"):
        ws.str_replace("k.c", "zzz", "x")
    assert "inserted 1 lines after line 1" in ws.insert("k.c", 1, "new")
    assert ws.files() == {"k.c": "a\nnew\nb\na\n"}
    assert ws.view("k.c", [2, 3]) == "2\tnew\n3\tb"
    with pytest.raises(ToolError, match=r"outside 1\.\.5"):
        ws.view("k.c", [4, 9])
    assert "Rescale" in ws.view("knowledge/softmax.md")
    assert ws.view(".").startswith("workspace files:\nk.c")


def test_send_budget_queues_new_limits_and_refuses_nonsense(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = ["--sessions-dir", str(tmp_path)]
    seed = tmp_path / "k.c"
    seed.write_text("int x;\n")
    assert main([*sessions, "sessions", "new", "b", "--target", "cpu-attention",
                 "--seed", str(seed)]) == 0
    assert main([*sessions, "send", "b", "budget", "cost=40", "tokens=2e6"]) == 0
    queued = sorted((tmp_path / "b" / "inbox").glob("*.json"))
    command = from_doc(json.loads(queued[0].read_text()))
    assert command == SetBudgets({"max_cost_usd": 40.0, "max_tokens": 2_000_000})
    assert main([*sessions, "send", "b", "budget", "money=3"]) != 0
    assert "KEY one of cost, tokens, steps, hours" in capsys.readouterr().err
    assert main([*sessions, "send", "b", "budget"]) != 0
    assert len(list((tmp_path / "b" / "inbox").glob("*.json"))) == 1
