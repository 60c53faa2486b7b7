"""benchmarks/kernelbench_import.py runs the real commands on an example and reports it: here
on the one the importer refuses (the seeded ones take minutes each: benchmarks/RESULTS.md),
as JSON and as the table RESULTS.md holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "benchmarks" / "kernelbench_import.py"


def run(*args: str, work: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--only", "level1_argmax", "--work",
                           str(work), *args], cwd=ROOT, text=True, capture_output=True,
                          timeout=300)


def test_a_refused_problem_is_a_row_saying_why(tmp_path: Path) -> None:
    done = run("--json", work=tmp_path / "json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["problem"] == "level1_argmax.py" and row["imported"] == "refused"
    assert "forward returns int64 values" in row["why"]
    assert sorted(p.name for p in (tmp_path / "json" / "level1_argmax").iterdir()) == [
        "level1_argmax.py"]  # the copy alone: nothing written beside the examples either
    table = run(work=tmp_path / "table").stdout.splitlines()
    assert table[0] == "| problem | import | check | seed (`avo eval`) | tuner | best |"
    assert table[2].startswith("| level1_argmax.py | refused: cannot import level1_argmax.py")
