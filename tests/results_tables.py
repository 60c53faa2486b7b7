"""Reading benchmarks/RESULTS.md and the pages checked against it: a section by its heading,
and the markdown tables of a text."""

from __future__ import annotations

import re
from pathlib import Path

from avo_tui.operators.agent import standing

REPO = Path(__file__).resolve().parents[1]
RESULTS = (REPO / standing.RESULTS).read_text()


def section(heading: str) -> str:
    """The text of RESULTS.md's section whose heading starts with ``heading``."""
    found = re.search(rf"^## {re.escape(heading)}.*?(?=^## \d{{4}}-|\Z)", RESULTS, re.M | re.S)
    assert found, f"no section {heading!r} in {standing.RESULTS}"
    return found.group(0)


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table of ``text``: its header cells and its rows' cells, bold undone."""
    out: list[tuple[list[str], list[list[str]]]] = []
    for block in re.findall(r"(?:^[ \t]*\|.*\n?)+", text, re.M):
        rows = [[cell.strip().strip("*").strip() for cell in line.strip().strip("|").split("|")]
                for line in block.strip().splitlines()]
        if len(rows) > 2:
            out.append((rows[0], rows[2:]))
    return out
