"""The knowledge base as a user reaches it: ``avo kb`` over the project's folder, the settings
file's folders and --knowledge folders, with clear errors for references that name nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avo_tui.cli import main
from avo_tui.knowledge import KnowledgeBase, KnowledgeError, configured_folders

TMA = """\
# TMA notes
## Box sizes and the 256-element limit
Each box dimension is at most 256 elements.
## Swizzle modes: 32B, 64B and 128B
The 16-byte chunk index is XORed with the row.
## Swizzle and wgmma descriptors
Both must agree on the mode.
"""


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A project folder, a settings file listing one user folder, and a second user folder."""
    project, listed, flagged = (tmp_path / n for n in ("knowledge", "team", "mine"))
    for folder in (project, listed, flagged):
        folder.mkdir()
    (project / "tma.md").write_text(TMA)
    (listed / "regs.md").write_text("# Registers\n## setmaxnreg for consumers\nGive them 240.\n")
    (flagged / "notes.md").write_text("# My notes\n## Ping-pong\nTwo consumer warpgroups.\n")
    settings = tmp_path / "config" / "settings.toml"
    settings.parent.mkdir()
    settings.write_text('[knowledge]\nfolders = ["../team"]\n')
    monkeypatch.setenv("AVO_KNOWLEDGE_DIR", str(project))
    monkeypatch.setenv("AVO_SETTINGS", str(settings))
    return {"project": project, "listed": listed, "flagged": flagged, "settings": settings}


def kb(*args: str) -> list[str]:
    return ["kb", *args]


def test_search_ranks_sections_of_every_folder(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(kb("search", "what", "box", "size", "can", "a", "TMA", "load", "have")) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["1", "tma.md#Box"]
    assert "256 elements" in out

    code = main(kb("search", "how do I give consumers more registers", "--json",
                   "--knowledge", str(folders["flagged"])))
    assert code == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["ref"] == "team/regs.md#setmaxnreg for consumers"  # the settings file's
    assert hits[0]["file"] == "team/regs.md" and hits[0]["rank"] == 1
    assert main(kb("search", "ping-pong warpgroups", "--json", "--knowledge",
                   str(folders["flagged"]))) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["ref"] == "mine/notes.md#Ping-pong"


def test_search_with_no_match_says_so(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(kb("search", "tcgen05")) == 1
    assert "no section matches 'tcgen05'" in capsys.readouterr().err


def test_show_finds_a_section_by_heading_anchor_or_unique_part(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for ref in ("tma.md#box sizes and the 256-element limit",
                "tma.md#box-sizes-and-the-256-element-limit", "tma.md#256-element"):
        assert main(kb("show", ref)) == 0
        out = capsys.readouterr().out
        assert out.startswith("## Box sizes") and "Swizzle" not in out
    assert main(kb("show", "tma.md")) == 0
    assert capsys.readouterr().out.startswith("# TMA notes")


def test_show_explains_a_reference_that_names_nothing(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(kb("show", "tma.md#swizzle")) == 1
    err = capsys.readouterr().err
    assert "matches several sections: Swizzle modes: 32B, 64B and 128B; Swizzle and wgmma" in err
    assert main(kb("show", "tma.md#multicast")) == 1
    assert "tma.md has no section 'multicast' (sections: TMA notes; Box sizes" in (
        capsys.readouterr().err)
    assert main(kb("show", "nope.md")) == 1
    assert "no knowledge file 'nope.md' (files: tma.md, team/regs.md)" in capsys.readouterr().err


def test_list_names_each_file_with_its_title(
    folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(kb("list", "--json", "--knowledge", str(folders["flagged"]))) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(f["file"], f["title"], f["sections"]) for f in listing["files"]] == [
        ("tma.md", "TMA notes", 4), ("team/regs.md", "Registers", 2),
        ("mine/notes.md", "My notes", 2),
    ]
    assert main(kb()) == 0  # avo kb alone lists
    assert "tma.md" in capsys.readouterr().out


def test_bad_folders_and_settings_are_one_clear_line(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(kb("search", "x", "--knowledge", str(tmp_path / "gone"))) == 1
    assert f"the knowledge folder {tmp_path / 'gone'} (given with --knowledge) is not a folder" \
        in capsys.readouterr().err
    settings = folders["settings"]
    settings.write_text('[knowledge]\nfolders = ["../nowhere"]\n')
    assert main(kb("list")) == 1
    assert f"in {settings}) is not a folder" in capsys.readouterr().err
    settings.write_text('[knowledge]\nfolder = "../team"\n')
    assert main(kb("list")) == 1
    assert "unknown [knowledge] setting(s) folder (known: folders)" in capsys.readouterr().err
    settings.write_text("[knowledge\n")
    assert main(kb("list")) == 1
    assert f"cannot read the settings file {settings}" in capsys.readouterr().err


def test_user_folders_with_the_same_name_keep_all_their_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "notes", tmp_path / "b" / "notes"
    for folder, text in ((first, "# One\nalpha\n"), (second, "# Two\nbeta\n")):
        folder.mkdir(parents=True)
        (folder / "n.md").write_text(text)
    base = KnowledgeBase([tmp_path / "project", first, second])
    assert list(base.files()) == ["notes/n.md", "notes+/n.md"]
    assert base.search("beta")[0].section.ref == "notes+/n.md#Two"


def test_configured_folders_are_the_project_then_settings_then_flags(
    folders: dict[str, Path],
) -> None:
    assert configured_folders([folders["flagged"], folders["listed"]]) == [
        folders["project"], folders["listed"].resolve(), folders["flagged"].resolve()
    ]
    with pytest.raises(KnowledgeError, match="is not a folder"):
        configured_folders([folders["project"] / "tma.md"])


def test_answering_sections_rank_above_titles_and_source_lists(tmp_path: Path) -> None:
    (tmp_path / "swizzle.md").write_text(
        "# Swizzle notes\nCovers the 128B swizzle mode, the 64B swizzle mode and the 32B "
        "swizzle mode.\n## Modes\nThe widest mode XORs the 16-byte chunk index with the row "
        "index modulo 8 (128B swizzle).\n## Sources\n- NVIDIA driver API, swizzle mode table: "
        "the 128B swizzle mode, the 64B swizzle mode.\n"
    )
    hits = KnowledgeBase([tmp_path]).search("128B swizzle mode", 3)
    assert [h.section.heading for h in hits] == ["Modes", "Swizzle notes", "Sources"]


def test_a_section_whose_heading_names_the_question_outranks_one_that_mentions_more(
    tmp_path: Path,
) -> None:
    filler = "".join(f"## Topic {i}\nText about barriers, clusters and registers {i}.\n"
                     for i in range(8))  # enough sections for BM25's word rarities to count
    (tmp_path / "smem.md").write_text(
        "# Notes\n## Epilogue stores\nO leaves through shared memory: an ldmatrix with "
        "transpose per 8x8 tile, laid out to avoid bank conflicts.\n## ldmatrix transpose\n"
        "The .trans form transposes each 8x8 matrix as it loads it from shared memory.\n"
        + filler
    )
    hits = KnowledgeBase([tmp_path]).search("ldmatrix transpose without bank conflicts", 2)
    assert [h.section.heading for h in hits] == ["ldmatrix transpose", "Epilogue stores"]
