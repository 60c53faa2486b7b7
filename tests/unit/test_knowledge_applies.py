"""Which GPU a knowledge file is about: every file of knowledge/ declares it, the outline and
search results carry it, and ``applies_to`` matches it against the evaluator's architecture."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.knowledge import TAGS, KnowledgeBase, applies_to, label
from avo_tui.knowledge.applies import declared_tags, known_tag

ROOT = Path(__file__).parents[2]
KNOWLEDGE = ROOT / "knowledge"
FILES = sorted(KNOWLEDGE.glob("*.md"))


@pytest.fixture(scope="module")
def project() -> dict[str, tuple[str, ...]]:
    """{file: its tags} from the project's own outline."""
    return {entry.file: entry.applies for entry in KnowledgeBase([KNOWLEDGE]).outline()}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_knowledge_file_declares_known_tags_on_its_first_line(path: Path) -> None:
    text = path.read_text()
    tags = declared_tags(text)
    assert tags, f"{path.name} has no <!-- avo:applies-to ... --> before its title"
    assert all(known_tag(t) for t in tags), f"{path.name}: unknown tag in {tags}"
    assert text.splitlines()[0].startswith("<!-- avo:applies-to")


@pytest.mark.parametrize(("file", "arch", "expected"), [
    ("blackwell.md", "sm_100a", True),
    ("blackwell.md", "sm_103a", True),
    ("blackwell.md", "sm_90a", False),
    ("blackwell.md", "sm_120a", False),  # consumer Blackwell has no tcgen05
    ("blackwell.md", "cpu", False),
    ("hopper-wgmma.md", "sm_90a", True),
    ("hopper-wgmma.md", "sm_100a", False),  # no wgmma on sm_100a
    ("hopper-wgmma.md", "cpu", False),
    ("hopper-tma.md", "sm_100a", True),  # TMA carries over to Blackwell
    ("nvrtc.md", "sm_80", True),
    ("nvrtc.md", "cpu", False),
    ("kernel-contract.md", "cpu", True),
    ("kernel-contract.md", "sm_120a", True),
    ("attention-online-softmax.md", None, True),
])
def test_project_files_apply_to_the_architectures_they_are_about(
    project: dict[str, tuple[str, ...]], file: str, arch: str | None, expected: bool
) -> None:
    assert applies_to(project[file], arch) is expected


def test_outline_entries_carry_the_declared_tags(project: dict[str, tuple[str, ...]]) -> None:
    assert project["blackwell.md"] == ("blackwell",)
    assert project["hopper-wgmma.md"] == ("hopper",)
    assert project["hopper-mbarrier.md"] == ("hopper", "blackwell")
    assert project["kernel-contract.md"] == ("any",)
    entry = next(e for e in KnowledgeBase([KNOWLEDGE]).outline() if e.file == "blackwell.md")
    assert applies_to(entry, "sm_100a") and not applies_to(entry, "sm_90a")
    assert entry.label == "Blackwell only"


def test_a_users_note_without_a_declaration_is_general(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "plain.md").write_text("# Plain notes\n## Tiles\nUse 128 rows.\n")
    (mine / "rtx.md").write_text(
        "<!-- avo:applies-to sm_120 -->\n# RTX 5090 notes\n## mma.sync only\nNo tcgen05.\n")
    outline = {e.file: e for e in KnowledgeBase([KNOWLEDGE, mine]).outline()}
    plain, rtx = outline["mine/plain.md"], outline["mine/rtx.md"]
    assert plain.applies == ("any",) and plain.label == ""
    assert all(applies_to(plain, arch) for arch in ("sm_90a", "sm_100a", "sm_120a", "cpu"))
    assert rtx.applies == ("sm_120",) and rtx.label == "sm_120 only"
    assert applies_to(rtx, "sm_120a") and not applies_to(rtx, "sm_100a")
    assert not applies_to(rtx, "cpu")


def test_search_hits_carry_the_label_and_the_declaration_is_not_indexed(tmp_path: Path) -> None:
    plain = "# TMEM notes\n## tcgen05.alloc columns\nAllocate a power of two columns.\n"
    (tmp_path / "tmem.md").write_text("<!-- avo:applies-to blackwell -->\n" + plain)
    base = KnowledgeBase([tmp_path])
    hits = base.search("tcgen05 alloc columns")
    assert hits and hits[0].label == "Blackwell only"
    assert hits[0].applies == ("blackwell",)
    assert base.search("applies") == []  # the comment's words match nothing
    assert base.outline()[0].sections == 2  # no section made of the declaration alone
    assert base.read("tmem.md").applies == ("blackwell",)


def test_only_the_opening_declares_and_a_typo_hides_nothing(tmp_path: Path) -> None:
    late = "# Notes\n<!-- avo:applies-to hopper -->\n## Body\ntext\n"
    typo = "<!-- avo:applies-to hoper -->\n# Notes\n"
    assert declared_tags(late) is None
    (tmp_path / "late.md").write_text(late)
    (tmp_path / "typo.md").write_text(typo)
    outline = {e.file: e.applies for e in KnowledgeBase([tmp_path]).outline()}
    assert outline == {"late.md": ("any",), "typo.md": ("any",)}


def test_applies_to_reads_tags_and_architectures_as_written() -> None:
    assert applies_to("hopper blackwell", "sm_90a")
    assert applies_to(["HOPPER"], "SM_90A")
    assert not applies_to(("gpu",), "cpu")
    assert applies_to(("gpu",), "sm_75")
    assert applies_to(("cpu",), None)  # a CPU device has no architecture
    assert applies_to(("hopper",), "compute_?")  # unreadable: better a file too many
    assert applies_to((), "sm_90a")  # no tags: general
    assert label(("hopper", "blackwell")) == "Hopper, Blackwell only"


def test_every_tag_is_documented() -> None:
    docs = (ROOT / "docs" / "knowledge.md").read_text()
    assert "<!-- avo:applies-to" in docs
    for tag in TAGS:
        assert f"`{tag}`" in docs, tag
