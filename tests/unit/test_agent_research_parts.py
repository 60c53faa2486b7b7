"""The pure parts of the research log and the pre-commit checklist: the synchronisation audit,
the debrief's reading, the change per shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.operators.agent import report, research
from avo_tui.operators.agent.audit import sync_audit
from avo_tui.store import ResearchPayload, Score

SEED = (Path(__file__).parents[2] / "kernels" / "cuda" / "attention_wgmma.cu").read_text()


def test_the_audit_names_each_synchronising_line_a_change_removes_or_adds() -> None:
    assert "    __syncthreads();\n" in SEED and "wgmma_wait<1>();" in SEED
    changed = SEED.replace("    __syncthreads();\n", "", 1).replace(
        "wgmma_wait<1>();", "wgmma_wait<0>();", 1)
    lines = sync_audit({"a.cu": SEED}, {"a.cu": changed})
    assert lines[0].startswith("a.cu: 2 synchronising line(s) removed, 1 added")
    removed = [line for line in lines if line.startswith("  - ")]
    assert any("__syncthreads();" in line for line in removed)
    assert any("wgmma_wait<1>();" in line for line in removed)
    assert [line for line in lines if line.startswith("  + ")] == [
        next(line for line in lines if "wgmma_wait<0>();" in line)]


def test_the_audit_ignores_comments_and_changes_that_touch_no_synchronisation() -> None:
    commented = SEED.replace("    __syncthreads();\n", "    // __syncthreads();\n", 1)
    assert sync_audit({"a.cu": SEED}, {"a.cu": SEED.replace("float", "float ")}) == []
    # reindented, or its spacing changed: the same synchronisation
    reindented = SEED.replace("    __syncthreads();\n", "        __syncthreads();  \n", 1)
    assert reindented != SEED and sync_audit({"a.cu": SEED}, {"a.cu": reindented}) == []
    assert "1 synchronising line(s) removed, 0 added" in sync_audit(
        {"a.cu": SEED}, {"a.cu": commented})[0]
    block = "/* __syncthreads(); */ int x = 0;\n"
    assert sync_audit({"a.cu": ""}, {"a.cu": block}) == []
    assert sync_audit({"a.c": ""}, {"a.c": "#pragma omp barrier\n"})[0].startswith(
        "a.c: 0 synchronising line(s) removed, 1 added")


@pytest.mark.parametrize("hostile", ["/*" * 1_000_000, "x/*" * 700_000, "//" * 1_000_000,
                                     "a" * 2_000_000 + "(", "*/" * 1_000_000])
def test_the_audit_of_hostile_text_is_linear(hostile: str) -> None:
    """One pass, each character seen once: the scan that looked for the next ``//`` from every
    comment opening took 22 s on a tenth of this text, so about 40 minutes here, and the
    suite's 10-minute timeout would fail this test; the linear scan takes seconds."""
    assert isinstance(sync_audit({"k.cu": ""}, {"k.cu": hostile}), list)


def test_a_debrief_is_read_from_its_tags_and_leniently_without_them() -> None:
    whole = research.parse_debrief(
        "Some words.\n<lesson> tiles of 176 spill </lesson>\n<summary>S</summary>\n"
        "<directions>Done, all tried</directions>")
    assert (whole.lesson, whole.summary, whole.directions_done) == (
        "tiles of 176 spill", "S", True)
    bare = research.parse_debrief("just a paragraph of what I learned")
    assert (bare.lesson, bare.summary, bare.directions_done) == (
        "just a paragraph of what I learned", None, False)
    cut = research.parse_debrief("<lesson>x</lesson><summary>" + "s" * 100_000)
    assert cut.summary is not None and len(cut.summary) <= research.MAX_SUMMARY_CHARS
    assert not research.parse_debrief("<directions>open</directions>").directions_done


def test_records_that_do_not_read_are_left_out_of_the_brief() -> None:
    good = ResearchPayload("record", 2, "v1", "committed v2").to_doc()
    memory = {"research": [{"step": "two"}, "garbage", good]}
    assert [r.step for r in research.stored_records(memory)] == [2]
    assert research.stored_summary({"summary": 42}) == ""


def test_the_change_per_shape_and_its_regressions() -> None:
    old = Score(100.0, {"a": 100.0, "b": 100.0})
    new = Score(105.0, {"a": 112.0, "b": 98.5})
    assert report.shape_change(new, old) == "geomean +5.0%, a +12.0%, b -1.5%"
    assert report.regressions(new, old) == ["b -1.5%"]
    assert report.regressions(new, old, threshold=0.02) == []
