"""The knowledge base's figures of this project's own measurements cannot go stale silently
(issue 54): a line that cites a section of benchmarks/RESULTS.md holds only figures that section
records, and the seed as the knowledge base states it today is the seed the brief names."""

from __future__ import annotations

import re
from pathlib import Path

from avo_tui.operators.agent import stronger

REPO = Path(__file__).resolve().parents[2]
RESULTS = (REPO / "benchmarks" / "RESULTS.md").read_text()
CITED = re.compile(r'benchmarks/RESULTS\.md, "([^"]+)"')
FIGURE = re.compile(r"(?<![\w.])\d+\.\d+(?![\d.])")  # a measured figure: decimals ("1.015x" too)


def section(heading: str) -> str:
    """The text of RESULTS.md's section whose heading starts with ``heading``."""
    found = re.search(rf"^## {re.escape(heading)}.*?(?=^## \d{{4}}-|\Z)", RESULTS, re.M | re.S)
    assert found, f"no section {heading!r} in benchmarks/RESULTS.md"
    return found.group(0)


def cited_lines() -> list[tuple[str, str, list[str]]]:
    """(file, line, the sections it cites) for every knowledge line citing RESULTS.md."""
    out = []
    for path in sorted((REPO / "knowledge").glob("*.md")):
        for line in path.read_text().splitlines():
            if headings := CITED.findall(line):
                out.append((path.name, line, headings))
    return out


def test_every_figure_of_a_line_that_cites_results_md_is_in_that_section() -> None:
    lines = cited_lines()
    assert len(lines) >= 5
    for name, line, headings in lines:
        text = "\n".join(section(h) for h in headings)
        for figure in FIGURE.findall(CITED.sub("", line)):
            assert figure in text, f"{name}: {figure} is not in {headings}: {line}"


def test_the_seed_the_knowledge_base_states_is_the_one_the_brief_names() -> None:
    today = "\n".join(line for _, line, _ in cited_lines())
    for known in stronger.KNOWN:
        if known.baseline == "fa3":
            assert f"{known.ratio:.3f}x" in today, known
    # The stale present-tense claims of older seeds (issue 54) are gone or dated.
    words = "\n".join(p.read_text() for p in (REPO / "knowledge").glob("*.md"))
    for stale in ("the seed is 0.61x cuDNN", "ahead of the seed (3-6% since rung 6)",
                  "The GPU seed is now"):
        assert stale not in words, stale
