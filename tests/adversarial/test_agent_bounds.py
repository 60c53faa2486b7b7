"""The agent's bounds, under attack.

- Tools: schema-valid hostile inputs (nulls, NUL bytes, names too long or too deep, lone
  surrogates, a file where a folder is needed, integers past any range, paths that climb out)
  go through the real Toolbox, on a real session and workspace, and each comes back as an
  ``is_error`` result that says what to do, with the workspace unharmed. An unexpected
  exception inside a tool is an ``is_error`` result too; StepInterrupted is not.
- Memory: notes and plans have limits, and the notes kept are bounded in number and size.
- The step brief stays within its budget whatever the session holds.

The engine's side of the step context is a small stand-in (memory, plan, evaluate): the tools,
the workspace, the session and its read-only view are the real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from agent_context import StandIn

from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators.agent import AgentSettings, brief
from avo_tui.operators.agent.api import INVALID_INPUT
from avo_tui.operators.agent.notes import MAX_NOTE_CHARS, MAX_NOTES_CHARS, NOTES_KEPT
from avo_tui.operators.agent.tool_schemas import EDITOR, MAX_PLAN_CHARS
from avo_tui.operators.agent.tools import Toolbox, ToolResult
from avo_tui.operators.agent.workspace import Workspace
from avo_tui.operators.protocol import StepContext, StepInterrupted
from avo_tui.store import ResearchPayload, Score, Session
from avo_tui.store.view import SessionView

KERNEL = "attention.c"
FILES = {KERNEL: "int tile = 64;\nint stages = 2;\n", "lib/util.h": "#define ONE 1\n"}
MAX_WRITE = 10_000


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.create(tmp_path / "s", target="cpu-attention", operator="agent",
                        seed_files=FILES, sync=False) as s:
        yield s


@pytest.fixture
def ctx(session: Session) -> StandIn:
    return StandIn(SessionView(session))


@pytest.fixture
def toolbox(tmp_path: Path, session: Session, ctx: StandIn) -> Toolbox:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "cpu.md").write_text("# CPU attention\n\n## Threads\nUse every core.\n")
    knowledge = KnowledgeBase([folder])
    workspace = Workspace(session.directory / "workspace", knowledge, MAX_WRITE)
    workspace.reset(session.read_files("v0"))
    return Toolbox(cast(StepContext, ctx), workspace, knowledge, base="v0",
                   transcript=lambda: "{}")


def snapshot(toolbox: Toolbox) -> tuple[dict[str, str], list[str]]:
    """The workspace's files and every entry under its root (folders included)."""
    root = toolbox.workspace.root
    return toolbox.workspace.files(), sorted(p.relative_to(root).as_posix()
                                             for p in root.rglob("*"))


def refused(toolbox: Toolbox, name: str, arguments: object, message: str) -> ToolResult:
    """Call the tool; assert an is_error result matching ``message`` (a checked refusal, not
    the last line of defence) and a workspace left as it was."""
    before = snapshot(toolbox)
    result = toolbox.call(name, arguments)
    assert result.is_error, result.text
    assert result.committed is None
    assert "failed unexpectedly" not in result.text, result.text
    assert re.search(message, result.text), result.text
    assert snapshot(toolbox) == before
    result.text.encode("utf-8")  # it goes into the next request as it is
    return result


def editor(**arguments: object) -> dict[str, object]:
    return arguments


EDITOR_ATTACKS = {
    "null_path": (editor(command="create", path=None, file_text="x"),
                  r"path is required \(it was null\)"),
    "null_file_text": (editor(command="create", path="new.c", file_text=None),
                       "create needs file_text"),
    "null_view_range_item": (editor(command="view", path=KERNEL, view_range=[None, 3]),
                             r"view_range\[0\] must be int, got null"),
    "null_command": (editor(command=None, path=KERNEL), "command is required"),
    "path_not_a_string": (editor(command="view", path=7), "path must be str, got an integer"),
    "line_is_a_boolean": (editor(command="insert", path=KERNEL, insert_line=True,
                                 insert_text="x"), "insert_line must be int, got a boolean"),
    "nul_in_created_path": (editor(command="create", path="a\u0000b.c", file_text="x"),
                            r"control character '\\x00'"),
    "nul_in_viewed_path": (editor(command="view", path="a\u0000b.c"),
                           r"control character '\\x00'"),
    "newline_in_path": (editor(command="create", path="a\nb.c", file_text="x"),
                        r"control character '\\n'"),
    "file_name_of_150_chars": (editor(command="create", path="k" * 150 + ".c", file_text="x"),
                               "is 152 bytes long; a folder or file name may have at most 100"),
    "path_of_300_chars": (editor(command="create", path="a" * 300, file_text="x"),
                          "path is 300 characters long; the limit is 200"),
    "path_of_5000_chars": (editor(command="view", path="ab/" * 1666 + "ab"),
                           "path is 5,000 characters long; the limit is 200"),
    "deeply_nested_path": (editor(command="create", path="a/b/c/d/e/f/g.c", file_text="x"),
                           "7 levels deep; the limit is 6"),
    "lone_surrogate_in_file_text": (editor(command="create", path="new.c", file_text="\ud800"),
                                    "file_text holds a character UTF-8 cannot encode"),
    "lone_surrogate_in_new_str": (editor(command="str_replace", path=KERNEL, old_str="64",
                                         new_str="6\udfff4"),
                                  "new_str holds a character UTF-8 cannot encode"),
    "lone_surrogate_in_path": (editor(command="create", path="\ud800.c", file_text="x"),
                               "path holds a character UTF-8 cannot encode"),
    "file_where_a_folder_is_needed": (editor(command="create", path=f"{KERNEL}/x.c",
                                             file_text="x"),
                                      f"{KERNEL} is a file, so {KERNEL}/x.c cannot be created"),
    "folder_where_a_file_is_needed": (editor(command="create", path="lib", file_text="x"),
                                      "lib is a folder; name a file"),
    "replace_in_a_folder": (editor(command="str_replace", path="lib", old_str="a", new_str="b"),
                            "lib is a folder"),
    "view_range_past_any_line": (editor(command="view", path=KERNEL, view_range=[1, 10**30]),
                                 r"view_range\[1\] must be from -1 to 10,000,000"),
    "view_range_start_past_any_line": (editor(command="view", path=KERNEL,
                                              view_range=[10**30, -1]),
                                       r"view_range\[0\] must be from -1 to 10,000,000"),
    "view_range_of_one_number": (editor(command="view", path=KERNEL, view_range=[1]),
                                 "view_range must hold 2 to 2 items, got 1"),
    "view_range_beyond_the_file": (editor(command="view", path=KERNEL, view_range=[2, 9]),
                                   r"view_range \[2, 9\] is outside 1\.\.3"),
    "insert_line_past_any_line": (editor(command="insert", path=KERNEL, insert_line=10**30,
                                         insert_text="x"),
                                  "insert_line must be from 0 to 10,000,000, got 1,000,"),
    "insert_line_negative": (editor(command="insert", path=KERNEL, insert_line=-1,
                                    insert_text="x"), "insert_line must be from 0 to"),
    "insert_line_beyond_the_file": (editor(command="insert", path=KERNEL, insert_line=50,
                                           insert_text="x"), "insert_line must be from 0 to 3"),
    "knowledge_path_climbing_out": (editor(command="view", path="knowledge/../../etc/passwd"),
                                    "'..' is refused"),
    "relative_path_climbing_out": (editor(command="create", path="../outside.c",
                                          file_text="x"), "'..' is refused"),
    "absolute_path": (editor(command="create", path="/tmp/outside.c", file_text="x"),
                      "absolute paths are refused"),
    "write_into_knowledge": (editor(command="create", path="knowledge/x.md", file_text="x"),
                             "the knowledge base is read-only"),
    "unknown_command": (editor(command="undo_edit", path=KERNEL),
                        "command must be one of view, create, str_replace, insert"),
    "file_text_over_the_write_limit": (editor(command="create", path="big.c",
                                              file_text="x" * (MAX_WRITE + 1)),
                                       "file_text is 10,001 characters long; the limit is 10,000"),
    "edit_growing_past_the_write_limit": (editor(command="str_replace", path=KERNEL,
                                                 old_str="64", new_str="6" * (MAX_WRITE - 10)),
                                          "attention.c would be 10,019 bytes; the limit is 10,000"),
}


@pytest.mark.parametrize("attack", sorted(EDITOR_ATTACKS))
def test_a_hostile_editor_input_is_refused_and_changes_nothing(
    toolbox: Toolbox, attack: str
) -> None:
    arguments, message = EDITOR_ATTACKS[attack]
    refused(toolbox, EDITOR, arguments, message)


HUGE = 10**30
TOOL_ATTACKS = {
    "list_versions_huge_limit": ("list_versions", {"limit": HUGE},
                                 "limit must be from 1 to 100, got 1,000,000"),
    "list_versions_negative_limit": ("list_versions", {"limit": -5},
                                     "limit must be from 1 to 100, got -5"),
    "list_attempts_huge_limit": ("list_attempts", {"limit": HUGE, "failures_only": True},
                                 "limit must be from 1 to 100"),
    "list_attempts_zero_limit": ("list_attempts", {"limit": 0}, "limit must be from 1 to 100"),
    "search_huge_limit": ("search_knowledge", {"query": "threads", "limit": HUGE},
                          "limit must be from 1 to 20"),
    "limit_of_5000_digits": ("list_versions", {"limit": 10**5000},
                             "got a number of about 5,000 digits"),
    "version_past_any_id": ("show_version", {"version": "v99999999999999999999"},
                            "no version 'v99999999999999999999'"),
    "version_too_long": ("show_version", {"version": "v" * 65},
                         "version is 65 characters long; the limit is 64"),
    "diff_with_no_such_version": ("diff_versions", {"old": "v0", "new": "v99999999999999999999"},
                                  "no version 'v99999999999999999999'"),
    "knowledge_ref_climbing_out": ("read_knowledge", {"ref": "../../etc/passwd"},
                                   "no knowledge file '../../etc/passwd'"),
    "file_of_no_version": ("show_version", {"version": "v0", "file": "../../etc/passwd"},
                           "v0 has no file '../../etc/passwd'"),
    "null_note": ("note", {"text": None}, r"text is required \(it was null\)"),
    "null_plan": ("update_plan", {"plan": None}, r"plan is required \(it was null\)"),
    "null_version": ("show_version", {"version": None}, "version is required"),
    "query_with_a_lone_surrogate": ("search_knowledge", {"query": "\ud800"},
                                    "query holds a character UTF-8 cannot encode"),
    "arguments_not_an_object": ("list_versions", ["limit", 3], "takes a JSON object, got an array"),
    "arguments_null": ("note", None, "takes a JSON object, got null"),
    "unknown_field": ("note", {"text": "x", "priority": 1}, "unknown 'priority'"),
    "unknown_field_with_a_huge_name": ("note", {"text": "x", "k" * 100_000: 1},
                                       r"unknown 'kkkk.*characters cut\]"),
    "unparseable_input": ("note", {INVALID_INPUT: "{" * 100_000},
                          "was not valid JSON: .*characters cut"),
    "commit_message_too_long": ("commit", {"message": "m" * 2_001},
                                "message is 2,001 characters long; the limit is 2,000"),
    "unknown_tool": ("rm_rf", {}, "unknown tool 'rm_rf'; the tools are"),
}


@pytest.mark.parametrize("attack", sorted(TOOL_ATTACKS))
def test_a_hostile_tool_input_is_refused_and_changes_nothing(
    toolbox: Toolbox, ctx: StandIn, attack: str
) -> None:
    name, arguments, message = TOOL_ATTACKS[attack]
    result = refused(toolbox, name, arguments, message)
    assert len(result.text) < 1_000  # a refusal never echoes a huge input back
    assert ctx.kept == {} and ctx.plans == []


def test_a_link_that_leads_out_of_the_workspace_is_refused(
    toolbox: Toolbox, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.c"
    outside.write_text("secret\n")
    (toolbox.workspace.root / "out.c").symlink_to(outside)
    refused(toolbox, EDITOR, editor(command="create", path="out.c", file_text="x"),
            "a link that points outside the workspace is refused")
    assert outside.read_text() == "secret\n"


def test_an_ambiguous_old_str_lists_at_most_ten_lines(toolbox: Toolbox) -> None:
    """A one-character old_str in a file of many lines: the refusal names ten and stops."""
    toolbox.call(EDITOR, editor(command="create", path="many.c", file_text="x\n" * 5_000))
    result = refused(toolbox, EDITOR, editor(command="str_replace", path="many.c", old_str="x",
                                             new_str="y"),
                     r"occurs 5000 times in many.c \(lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, \.\.\.\)")
    assert len(result.text) < 300


def test_a_valid_edit_still_works(toolbox: Toolbox) -> None:
    result = toolbox.call(EDITOR, editor(command="create", path="lib/more/extra.h",
                                         file_text="// é ü 日本\n"))
    assert not result.is_error, result.text
    assert toolbox.workspace.files()["lib/more/extra.h"] == "// é ü 日本\n"
    assert not toolbox.call(EDITOR, editor(command="view", path=KERNEL,
                                           view_range=[1, -1], insert_line=None)).is_error


# -- the last line of defence -----------------------------------------------------------------

def test_an_unexpected_exception_in_a_tool_is_an_error_result(
    toolbox: Toolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug inside a handler (simulated) reaches the model as an is_error result naming the
    tool and the error type, without a traceback, and the next call works."""
    def broken(**_: object) -> str:
        raise RuntimeError("an internal bug \ud800")

    monkeypatch.setattr(toolbox, "_list_versions", broken)
    result = toolbox.call("list_versions", {})
    assert result.is_error
    assert result.text.startswith("list_versions failed unexpectedly (RuntimeError: an "
                                  "internal bug \\ud800)")
    assert "Traceback" not in result.text and 'File "' not in result.text
    result.text.encode("utf-8")
    assert not toolbox.call("diff_versions", {"old": "v0", "new": "v0"}).is_error


def test_an_os_error_the_checks_did_not_foresee_is_an_error_result(
    toolbox: Toolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: the write fails, and the model hears it as a refusal it can read."""
    def full(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    refused(toolbox, EDITOR, editor(command="create", path="new.c", file_text="x"),
            "new.c cannot be written: No space left on device")


def test_step_interrupted_and_keyboard_interrupt_still_end_the_step(
    toolbox: Toolbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StepInterrupted, match="stopped the run"):
        toolbox.call("evaluate", {"idea": "x"})  # the stand-in's evaluate is a stop

    def interrupted(**_: object) -> str:
        raise StepInterrupted("rolled back to v0")

    monkeypatch.setattr(toolbox, "_note", interrupted)
    with pytest.raises(StepInterrupted, match="rolled back"):
        toolbox.call("note", {"text": "x"})

    def keyboard(**_: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(toolbox, "_note", keyboard)
    with pytest.raises(KeyboardInterrupt):
        toolbox.call("note", {"text": "x"})


# -- bounded notes and plans ------------------------------------------------------------------

def test_a_note_or_plan_over_its_limit_is_refused(toolbox: Toolbox, ctx: StandIn) -> None:
    refused(toolbox, "note", {"text": "n" * 3_000_000},
            "text is 3,000,000 characters long; the limit is 2,000")
    refused(toolbox, "update_plan", {"plan": "p" * (MAX_PLAN_CHARS + 1)},
            "plan is 4,001 characters long; the limit is 4,000")
    refused(toolbox, "update_plan", {"plan": "  \n "}, "plan is empty")
    assert ctx.kept == {} and ctx.plans == []
    assert not toolbox.call("update_plan", {"plan": "p" * MAX_PLAN_CHARS}).is_error
    assert not toolbox.call("note", {"text": "n" * MAX_NOTE_CHARS}).is_error
    assert ctx.plans == ["p" * MAX_PLAN_CHARS]
    assert ctx.kept["notes"] == ["n" * MAX_NOTE_CHARS]


def test_the_notes_kept_are_bounded_in_number_and_size(toolbox: Toolbox, ctx: StandIn) -> None:
    for number in range(100):
        result = toolbox.call("note", {"text": f"note {number} " + "x" * 1_500})
        assert not result.is_error, result.text
    notes = ctx.kept["notes"]
    assert len(notes) <= NOTES_KEPT
    assert sum(map(len, notes)) <= MAX_NOTES_CHARS
    assert notes[-1].startswith("note 99 ")  # the newest are the ones kept
    assert [int(n.split()[1]) for n in notes] == list(range(100 - len(notes), 100))


def test_notes_stored_before_the_limits_are_cut_when_the_next_is_kept(
    toolbox: Toolbox, ctx: StandIn
) -> None:
    ctx.kept["notes"] = ["y" * 3_000_000, None, 42, "z" * 3_000, "short"]  # old or damaged
    assert not toolbox.call("note", {"text": "new"}).is_error
    notes = ctx.kept["notes"]
    assert notes[-2:] == ["short", "new"]
    assert notes[-3].startswith("zzz") and notes[-3].endswith("characters cut]")
    assert all(isinstance(n, str) and len(n) <= MAX_NOTE_CHARS for n in notes)
    assert sum(map(len, notes)) <= MAX_NOTES_CHARS


# -- the step brief's budget ------------------------------------------------------------------

# Far more than the brief shows: it reads the newest few, so more would cost the suite time
# (11 s for 10,000 of each, 2 s for 2,000, on a 2-core machine) and test nothing more.
VERSIONS = ATTEMPTS = 2_000
SHOWN = 12  # more than the brief's RECENT_VERSIONS and RECENT_ATTEMPTS


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """VERSIONS versions and ATTEMPTS attempts, committed straight through the Session API (no
    evaluation); the newest carry messages and details of 200,000 characters."""
    directory = tmp_path_factory.mktemp("crowded") / "s"
    with Session.create(directory, target="cpu-attention", operator="agent", seed_files=FILES,
                        sync=False) as session:
        for number in range(1, VERSIONS + 1):
            size = 200_000 if number > VERSIONS - SHOWN else 100
            session.commit(FILES, author="agent", message=f"v{number} " + "m" * size,
                           score=Score(float(number)))
        for number in range(1, ATTEMPTS + 1):
            size = 200_000 if number > ATTEMPTS - SHOWN else 100
            session.record_attempt(FILES, base="v0", author="agent", outcome="incorrect",
                                   detail=f"a{number} " + "d" * size)
        yield session


def flooded(session: Session) -> StandIn:
    """A context whose memory, guidance and review hold far more than any window."""
    ctx = StandIn(SessionView(session), guidance="guide " + "g" * 1_000_000)
    ctx.kept["notes"] = [f"note {n} " + "n" * 1_000_000 for n in range(40)]
    ctx.kept["summary"] = "summary " + "s" * 1_000_000
    ctx.kept["research"] = [
        ResearchPayload("record", n, "v0", f"record {n}", ideas=("a1 slower: " + "i" * 10_000,),
                        lesson="l" * 100_000).to_doc() for n in range(30)]
    return ctx


HINTS = [f"hint {n} " + "h" * 10_000 for n in range(500)]
REVIEW = "review " + "r" * 2_000_000


@pytest.mark.parametrize("window", [200_000, 1_000_000, 20_000])
def test_the_step_brief_stays_within_its_budget(crowded: Session, window: int) -> None:
    text = brief.step_brief(cast(StepContext, flooded(crowded)), hints=HINTS, directions=REVIEW,
                            context_window=window)
    assert len(text) <= brief.budget_chars(window)
    assert brief.estimated_tokens(text) <= brief.BRIEF_SHARE * window
    # Every section is there, cut to its share, newest first.
    for part in (f"holds v{VERSIONS} (the head)", f"## Best so far: v{VERSIONS}",
                 f"## Lineage ({VERSIONS + 1} versions, latest 12)", f"a{ATTEMPTS} ",
                 "note 39 ", "review ", "guide ", "hint 499 ", "Plan (update_plan)",
                 "## Running summary", "summary sss", "step 29 from v0: record 29",
                 "## The kernel's files"):
        assert part in text, part
    assert "characters cut]" in text


def test_the_review_prompt_stays_within_its_budget(crowded: Session) -> None:
    text = brief.review_prompt(cast(StepContext, flooded(crowded)), "no commit for 30 attempts")
    assert len(text) <= brief.budget_chars(AgentSettings().context_window)
    assert "note 39 " in text and f"a{ATTEMPTS} " in text
    assert "summary sss" in text and "step 29 from v0: record 29" in text


def test_the_default_budget_follows_the_settings_window() -> None:
    """5% of the default 200k-token window, at 3 characters a token: 30,000 characters."""
    assert brief.budget_chars(AgentSettings().context_window) == 30_000
    assert brief.estimated_tokens("x" * 30_000) == 10_000


def test_hints_sent_mid_step_are_cut_to_the_hints_share() -> None:
    text = brief.hint_message(HINTS)
    assert text.startswith("Operator hint (from the person supervising the run): hint 0 ")
    assert len(text) <= brief.SHARES["hints"] * brief.budget_chars(AgentSettings().context_window)
    assert text.endswith("characters cut]")
