"""Small modules with one job: no Python file of the package or of benchmarks/ runs past
MAX_LINES. A longer one is split by job (benchmarks/lanes_run.py into lanes_run_parts/, for
one), not trimmed of its comments."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]
MAX_LINES = 600


def too_long(folder: Path) -> dict[str, int]:
    """Each Python file under ``folder`` over MAX_LINES lines, with its count."""
    counts = {str(path.relative_to(folder.parent)): len(path.read_text().splitlines())
              for path in sorted(folder.rglob("*.py"))}
    return {name: count for name, count in counts.items() if count > MAX_LINES}


def test_no_module_of_the_package_or_of_benchmarks_is_over_the_cap() -> None:
    assert too_long(ROOT / "avo_tui") == {}
    assert too_long(ROOT / "benchmarks") == {}


def test_a_file_over_the_cap_is_named_and_one_at_it_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "benchmarks"
    (folder / "parts").mkdir(parents=True)
    (folder / "parts" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (folder / "at_cap.py").write_text("x = 1\n" * MAX_LINES)
    assert too_long(folder) == {"benchmarks/parts/long.py": MAX_LINES + 1}
