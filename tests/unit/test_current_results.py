"""Where the project stands, on one short page (issue 90): benchmarks/CURRENT.md. Each of its
figures is one that RESULTS.md (the log) records in the section its row names, on the date the
row gives; the agent's standing (standing.toml) is the page's; the README's GPU rows and
docs/kernels.md's standing give only figures and dates the page holds, and kernels.md does not
call the back-to-back reading unrun where the page has it run on a GPU."""

from __future__ import annotations

import re

from results_tables import REPO, RESULTS, section, tables

from avo_tui.operators.agent import standing

CURRENT = REPO / "benchmarks" / "CURRENT.md"
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\d.])")
ABSENT = "–"
# The columns of a row that hold its figures (the rest say what, where, when and how).
FIGURE_COLUMNS = ("x FA3", "x FA4", "x max(FA3, FA4)", "worst x max(FA3, FA4)", "figure")
# standing.toml's figures and the page's columns for them (its TFLOP/s are the log's alone).
STANDING_COLUMNS = {"x_fa3": "x FA3", "x_fa4": "x FA4", "x_best": "x max(FA3, FA4)",
                    "worst_x_best": "worst x max(FA3, FA4)"}
KERNELS_MD = REPO / "docs" / "kernels.md"
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# What a doc would say of a reading that has not run on a GPU.
UNRUN = re.compile(r"\bnot (?:yet )?(?:been )?run on an? (?:GPU|H\d00)", re.I)


def rows() -> list[dict[str, str]]:
    """Every row of the page's tables, by its column headers."""
    found = [dict(zip(header, row, strict=True))
             for header, body in tables(CURRENT.read_text()) for row in body]
    assert len(found) >= 10
    return found


def unrecorded(row: dict[str, str]) -> list[str]:
    """The figures of ``row`` that its section of RESULTS.md does not hold."""
    text = section(row["recorded in"])
    recorded = set(NUMBER.findall(text))
    cells = [row[column] for column in FIGURE_COLUMNS if column in row]
    return [number for cell in cells for number in NUMBER.findall(cell)
            if number not in recorded]


def test_every_row_says_when_where_how_and_where_it_is_recorded() -> None:
    for row in rows():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date"]), row
        assert row["machine"] and row["command"], row
        assert section(row["recorded in"]).startswith(f"## {row['date']}"), row
        # one section only: a log has several entries of one session and issue
        named = re.findall(rf"^## {re.escape(row['recorded in'])}", RESULTS, re.M)
        assert len(named) == 1, row


def test_every_figure_is_one_its_section_of_the_log_records() -> None:
    for row in rows():
        assert unrecorded(row) == [], row


def test_a_figure_the_log_does_not_hold_is_caught() -> None:
    row = next(r for r in rows() if r.get("reading") == "interleaved" and r["target"] == "mha")
    assert unrecorded({**row, "x FA3": "9.876"}) == ["9.876"]


def test_the_agents_standing_is_the_pages() -> None:
    by_key = {(r.get("target"), r.get("reading")): r for r in rows()}
    for reading in standing.readings():
        for target, figures in reading.targets.items():
            row = by_key[target, reading.name]
            assert (row["date"], row["recorded in"]) == (reading.date, reading.section)
            for name, column in STANDING_COLUMNS.items():
                value = getattr(figures, name)
                assert row[column] == (ABSENT if value is None else f"{value:.3f}"), (
                    target, reading.name, column)


def test_the_readmes_gpu_rows_give_only_the_pages_figures() -> None:
    readme = (REPO / "README.md").read_text()
    gpu_rows = next(body for header, body in tables(readme)
                    if header[:2] == ["GPU", "architecture"])
    page = set(NUMBER.findall(CURRENT.read_text()))
    for row in gpu_rows:
        expect = row[-1]
        decimals = [n for n in NUMBER.findall(expect) if "." in n]
        assert all(n in page for n in decimals), (row[0], decimals)


def page_figures_and_dates() -> tuple[set[str], set[str]]:
    text = CURRENT.read_text()
    return set(NUMBER.findall(text)), set(DATE.findall(text))


def off_the_page(doc: str) -> list[str]:
    """What ``doc``'s standing passages and its account of ``--sustained`` say that the page
    does not: a decimal figure or a date it does not hold, or a reading it has run on a GPU
    called unrun."""
    figures, dates = page_figures_and_dates()
    passages = re.findall(r"<!-- standing -->(.*?)<!-- /standing -->", doc, re.S)
    wrong = [f"{n} is not on the page" for p in passages for n in NUMBER.findall(p)
             if "." in n and n not in figures]
    wrong += [f"{d} is no date of the page" for p in passages for d in DATE.findall(p)
              if d not in dates]
    sustained_ran = any("--sustained" in r["command"] and re.search(r"\bH\d00\b", r["machine"])
                        for r in rows())
    for paragraph in re.split(r"\n\s*\n", doc):
        if "--sustained" in paragraph and sustained_ran and UNRUN.search(paragraph):
            wrong.append(f"calls --sustained unrun: {paragraph[:80]}")
    return wrong


def test_docs_kernels_md_gives_the_pages_standing() -> None:
    doc = KERNELS_MD.read_text()
    assert "<!-- standing -->" in doc
    assert off_the_page(doc) == []


def test_a_kernels_md_off_the_page_is_caught() -> None:
    doc = KERNELS_MD.read_text()
    passage = re.search(r"<!-- standing -->(.*?)<!-- /standing -->", doc, re.S)
    assert passage and "1.015" in passage.group(1)
    assert off_the_page(doc.replace("| mha | 1.015", "| mha | 1.016", 1))  # not the page's
    assert off_the_page(doc.replace("Both measured 2026-11-26", "Both measured 2026-11-20"))
    stale = "`--sustained`, which has not run on a GPU yet, gives both readings."
    assert off_the_page(f"{doc}\n\n{stale}\n")
