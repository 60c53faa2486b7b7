"""Docstrings carry no measured figures (issue 90: figures in code only where a test keeps them
true). A reading from a machine or a ratio to a library ("13% slower", "1.13x cuDNN", "7 s a
build") goes stale where no test reads it; it belongs in benchmarks/RESULTS.md, which the
docstring may name. Every docstring of avo_tui/ is read with ast, and a number with a unit (a
percent, a time, a rate, a clock, a size or an "x" ratio) fails, unless it sits in quotes or
backticks (an example of what a string looks like: '+0.42% ± 0.09%') or is on ALLOWED, with
the reason it stays true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "avo_tui"

UNITS = (
    r"%|(?:ms|µs|us|ns|s|min|h|MHz|GHz|W|kJ|TFLOP/s|GFLOP/s|TFLOP/kJ|TB/s|GB/s|MB/s"
    r"|GiB|MiB|KiB|GB|MB|KB)(?![\w/])"
)
FIGURE = re.compile(rf"(?<![\w.])[-+±~]?\d+(?:[.,]\d+)*(?:\s?(?:{UNITS})|x(?!\w))")
# What is quoted is an example of a format. A single quote opens where no word (or quote)
# precedes it and closes where no word follows, so an apostrophe ("the seed's") neither opens
# nor closes one; no quote runs past a blank line.
ON_A_LINE = r"\n(?!\s*\n)"  # a line break, not a blank line
QUOTED = re.compile(
    rf"(?<![\w'])'(?!\s)(?:[^'\n]|'(?=\w)|{ON_A_LINE})*?(?<!\s)'(?!\w)"
    rf'|"(?:[^"\n]|{ON_A_LINE})*?"'
    rf"|``(?:[^\n]|{ON_A_LINE})*?``"
    rf"|`(?:[^`\n]|{ON_A_LINE})*?`"
)
# (file, figure): why it stays true.
ALLOWED = {
    ("avo_tui/engine/gate.py", "99%"): "the one-sided interval the gate's rule is defined by "
    "(GAIN_Z, SEQUENTIAL_Z)",
    ("avo_tui/engine/gate.py", "1%"): "the false-accept rate SEQUENTIAL_Z is chosen to keep; "
    "tests/functional/test_gate.py simulates the looks and holds it",
    ("avo_tui/evaluation/paired.py", "99%"): "the one-sided quantile GAIN_Z is (as in gate.py)",
    ("avo_tui/evaluation/paired.py", "1%"): "the false-accept rate, as in gate.py",
}


def figures(doc: str) -> list[str]:
    """The figures with a unit in ``doc`` outside quotes and backticks."""
    bare = QUOTED.sub(lambda quoted: " " * len(quoted.group(0)), doc)
    return [found.group(0).strip() for found in FIGURE.finditer(bare)]


def docstrings(source: str) -> list[tuple[int, str]]:
    """Each docstring of ``source`` (the module's, its classes' and functions'), by its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found.append((node.body[0].lineno, doc))
    return found


def measured(package: Path) -> tuple[list[str], set[tuple[str, str]]]:
    """The figures of ``package``'s docstrings that ALLOWED does not hold (as 'file:line
    figure'), and the ALLOWED entries used."""
    wrong, used = [], set()
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package.parent).as_posix()
        for line, doc in docstrings(path.read_text()):
            for figure in figures(doc):
                key = (name, figure.lstrip("+-±~"))
                if key in ALLOWED:
                    used.add(key)
                else:
                    wrong.append(f"{name}:{line} {figure}")
    return wrong, used


def test_no_docstring_of_the_package_carries_a_measured_figure() -> None:
    wrong, used = measured(PACKAGE)
    assert wrong == [], "\n".join(wrong)
    assert used == set(ALLOWED), set(ALLOWED) - used  # an entry no docstring needs goes


def test_a_measured_figure_is_caught_and_a_format_example_is_not() -> None:
    for reading in (
        "the seed reads 1.13x cuDNN",
        "13% slower",
        "read 664 to 687 TFLOP/s",
        "7 s a build",
        "100-300 us a call",
        "(21 s became 38 s)",
        "at 0.5 GB/s",
        "ran at 1480 MHz",
        "a record of ±3.66%",
        "anchor's error is 3-40%",
        "3x its rate",
        "48 KiB of shared memory",
    ):
        assert figures(reading), reading
    for example in (
        "'+0.42% ± 0.09%'",
        'a string such as "1.072x cudnn"',
        "``--seconds 0.5 s``",
        "`7.4 GB/s`",
        "the gate's rule (GAIN_FLOOR)",
        "'v3 read 0.502x seed beside a12's candidate, recorded at 1.003x\n"
        "    (-49.9%, past the -4.1% allowed)'",
        "sm_90a, 128 threads, b8 s4096",
        "0x1F",
        "v1.2 of the format",
    ):
        assert figures(example) == [], example
    # an apostrophe opens no quote: the figure after it is still read
    assert figures("the seed's ratio is 1.13x cuDNN, the lineage's scale") == ["1.13x"]
    # a quote never spans a blank line
    assert figures("an 'opened quote\n\nthen 13% slower'") == ["13%"]


def test_a_planted_figure_in_a_docstring_fails_the_walk(tmp_path: Path) -> None:
    package = tmp_path / "avo_tui"
    (package / "engine").mkdir(parents=True)
    (package / "engine" / "gate.py").write_text(
        '"""The gate: a 99% interval, at 1% of decisions."""\n'
    )
    planted = package / "engine" / "planted.py"
    planted.write_text('def f() -> None:\n    """Format: \'+0.42% ± 0.09%\'."""\n')
    assert measured(package)[0] == []
    planted.write_text('def f() -> None:\n    """On an H200 this took 12 ms."""\n')
    assert measured(package)[0] == ["avo_tui/engine/planted.py:2 12 ms"]
