"""One story everywhere (issue 70): where the seed stands against FA3 and FA4 comes from one
source, avo_tui/operators/agent/standing.toml. Every figure there is the one benchmarks/RESULTS.md
records; every figure the README, the docs and the knowledge base give between the marks
``<!-- standing -->`` and ``<!-- /standing -->`` is one of the file's, for the target it is
said of, and each such passage gives both readings (interleaved and back to back) with their
date; the brief's figures are the file's."""

from __future__ import annotations

import re

from results_tables import REPO, section, tables

from avo_tui.operators.agent import standing, stronger

OPEN, CLOSE = "<!-- standing -->", "<!-- /standing -->"
# Each file the story must be told in, and the places a passage may be.
REQUIRED = ("README.md", "docs/kernels.md", "knowledge/known-numbers.md")
SCANNED = ("README.md", "docs/*.md", "knowledge/*.md")
FIGURE = re.compile(r"(?<![\w.])\d+\.\d+(?![\d.])")  # decimals, "1.015x" too
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# A target's name, not a prefix of a longer one (gqa in gqa-4, mha in mha-d64).
TARGET = re.compile(r"\b(mha-d64|gqa-4|gqa|mha)\b(?!-\w)")
# RESULTS.md's column headers, and a passage's table headers, for standing.toml's figures.
COLUMNS = {"tflops": "TFLOP/s", "x_fa3": "x FA3", "x_fa4": "x FA4", "x_best": "x max(FA3, FA4)"}
ABSENT = "–"


def first_figure(cell: str) -> str:
    found = FIGURE.search(cell)
    return found.group(0) if found else cell


def formatted(name: str, value: float) -> str:
    return f"{value:.1f}" if name == "tflops" else f"{value:.3f}"


def test_every_figure_of_standing_toml_is_the_one_results_md_records() -> None:
    readings = standing.readings()
    assert {r.name for r in readings} >= {standing.INTERLEAVED, standing.BACK_TO_BACK}
    for reading in readings:
        text = section(reading.section)
        assert reading.date in text.splitlines()[0], reading.name
        found = tables(text)
        for target, figures in reading.targets.items():
            for name, value in figures.figures().items():
                where = (reading.name, target, name, value)
                if name == "worst_x_best":
                    rows = [row for _, rows in found for row in rows if row[0] == target]
                    assert any(formatted(name, value) in " ".join(row) for row in rows), where
                    if figures.worst:
                        assert f"{figures.worst} {formatted(name, value)}" in text, where
                    continue
                cells = [first_figure(row[header.index(COLUMNS[name])])
                         for header, rows in found if COLUMNS[name] in header
                         for row in rows if row[0] == target]
                assert formatted(name, value) in cells, (where, cells)


def passages(text: str) -> list[str]:
    return re.findall(rf"{re.escape(OPEN)}(.*?){re.escape(CLOSE)}", text, re.S)


def _figures_of(target: str | None) -> set[str]:
    """The figures standing.toml gives ``target`` (every target's, for None), formatted."""
    return {formatted(name, value) for r in standing.readings()
            for t, figures in r.targets.items() if target in (None, t)
            for name, value in figures.figures().items()}


def _column(header: str) -> tuple[standing.Reading, str] | None:
    """The reading and the figure a passage's table column gives, if its header names both."""
    for reading in map(standing.reading, (standing.BACK_TO_BACK, standing.INTERLEAVED)):
        if reading.name in header.lower():
            for name, words in COLUMNS.items():
                if header.endswith(words) or (name == "x_best" and header.endswith("x best")):
                    return reading, name
    return None


def contradictions(passage: str) -> list[str]:
    """What in ``passage`` is not what standing.toml says, or is missing from it."""
    wrong = []
    for needed in (standing.INTERLEAVED, standing.BACK_TO_BACK):
        if needed not in passage.lower():
            wrong.append(f"the {needed} reading is not given")
    dates = {r.date for r in standing.readings()}
    if not DATE.search(passage):
        wrong.append("no date")
    wrong += [f"{date} is not a reading's date" for date in DATE.findall(passage)
              if date not in dates]
    for header, rows in tables(passage):
        for row in rows:
            if not TARGET.fullmatch(row[0]):
                continue
            for i, cell in enumerate(row[1:], 1):
                if (column := _column(header[i])) is None:
                    continue
                reading, name = column
                value = reading.targets.get(row[0], standing.Standing()).figures().get(name)
                said = ABSENT if value is None else formatted(name, value)
                if first_figure(cell) != said:
                    wrong.append(f"{row[0]}, {header[i]}: {cell}, not {said}")
    for line in passage.splitlines():
        # A figure after a target's name, up to the next one, is that target's.
        spans = [(None, line)] if not (marks := list(TARGET.finditer(line))) else (
            [(None, line[:marks[0].start()])]
            + [(m.group(1), line[m.end():nxt.start() if nxt else len(line)])
               for m, nxt in zip(marks, [*marks[1:], None], strict=True)])
        for target, text in spans:
            for figure in FIGURE.findall(text):
                if figure not in _figures_of(target):
                    wrong.append(f"{figure} is not a figure of {target or 'any target'}: {line}")
    return wrong


def test_every_passage_tells_both_readings_with_the_figures_of_standing_toml() -> None:
    told: dict[str, int] = {}
    for pattern in SCANNED:
        for path in sorted(REPO.glob(pattern)):
            name = str(path.relative_to(REPO))
            for passage in passages(path.read_text()):
                told[name] = told.get(name, 0) + 1
                assert not contradictions(passage), (name, contradictions(passage))
    assert set(REQUIRED) <= set(told), told


def test_a_passage_that_contradicts_standing_toml_is_caught() -> None:
    b2b, inter = standing.reading(standing.BACK_TO_BACK), standing.reading(standing.INTERLEAVED)
    mha, gqa = b2b.targets["mha"].x_fa3, inter.targets["gqa"].x_fa3
    assert mha is not None and gqa is not None
    right = (f"On {b2b.date}, interleaved: gqa {gqa:.3f}x FA3; back to back: mha {mha:.3f}x "
             "FA3.")
    assert contradictions(right) == []
    assert contradictions(right.replace(f"{mha:.3f}", "1.000"))  # a figure of no reading
    assert contradictions(right.replace("mha", "mha-d64"))  # another target's figure
    assert contradictions(right.replace(b2b.date, "2026-11-20"))  # another day
    assert contradictions(right.replace("back to back", "alone"))  # one reading only
    table = ("| target | interleaved x FA3 | back to back x FA4 |\n|---|---|---|\n"
             f"| gqa | {gqa:.3f} | {ABSENT} |\n")
    assert contradictions(f"{right}\n{table}") == []
    assert contradictions(f"{right}\n{table.replace(ABSENT, '1.035')}")  # gqa-4's, not gqa's


def test_the_stale_stories_are_gone() -> None:
    words = "\n".join(p.read_text() for pattern in SCANNED for p in REPO.glob(pattern))
    for stale in ("3-5% behind", "the strongest baseline on all eight configurations",
                  "1.00-1.03x FlashAttention-4, 1.11-1.15x cuDNN", "since rung 8 the seed is"):
        assert stale not in words, stale


def test_the_brief_gives_both_readings_as_standing_toml_does() -> None:
    inter, b2b = standing.reading(standing.INTERLEAVED), standing.reading(standing.BACK_TO_BACK)
    hopper: dict[str, object] = {"compute_capability": "9.0"}
    for target, figures in inter.targets.items():
        line = stronger.back_to_back(target, ("cudnn", "fa3", "fa4"), {"cudnn", "fa3", "fa4"},
                                     hopper)
        said = [k for k in stronger.KNOWN if k.target == target]
        assert said, target
        for known in said:
            assert known.ratio == figures.ratio(known.baseline)
            assert known.back_to_back == b2b.targets[target].ratio(known.baseline)
            if known.back_to_back is not None:
                assert f"{known.baseline} {known.back_to_back:.3f}x" in line
                assert f"{known.back_to_back:.3f}x back to back" in known.sentence()
            assert f"{known.ratio:.3f}x" in known.sentence()
        assert b2b.section in line and inter.date in said[0].sentence()
        assert all(figure in _figures_of(target) for figure in FIGURE.findall(line)), line
    # No back-to-back line on a GPU that runs neither FA3 nor FA4.
    assert stronger.back_to_back("mha", ("fa3", "fa4"), {"fa3", "fa4"},
                                 {"compute_capability": "8.0"}) == ""
