"""benchmarks/kernelbench_import.py runs the real commands on an example and reports it: here
imported with no seed (--no-seed: import and check, no evaluation; the seeded ones take minutes
each: benchmarks/RESULTS.md), as JSON and as the table RESULTS.md holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "kernelbench_import.py"


def run(*args: str, work: Path, only: tuple[str, ...] = ("level1_conv2d",)
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--no-seed", "--only", *only,
                           "--work", str(work), *args], cwd=ROOT, text=True, capture_output=True,
                          timeout=300)


def test_a_problem_without_a_seed_is_a_row_that_stops_at_check(tmp_path: Path) -> None:
    done = run("--json", work=tmp_path / "json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["problem"] == "level1_conv2d.py" and row["imported"] == "no seed"
    assert row["check"] == "ok" and "seed" not in row and "commits" not in row
    # written in the work folder, beside the copy: nothing beside the examples
    assert sorted(p.name for p in (tmp_path / "json" / "level1_conv2d").iterdir()) == [
        "level1_conv2d.py", "level1_conv2d_target.py"]
    table = run(work=tmp_path / "table").stdout.splitlines()
    assert table[0] == "| problem | import | check | seed (`avo eval`) | tuner | best |"
    assert table[2] == "| level1_conv2d.py | no seed | ok | - | - | - |"


def test_the_integer_input_examples_say_which_size_stays(tmp_path: Path) -> None:
    """A cross-entropy's int64 labels and an embedding's token ids import and pass check;
    each row's notes say which size stays for the indices' range."""
    done = run("--json", work=tmp_path, only=("level1_cross_entropy", "level1_embedding"))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["problem"] for r in rows] == ["level1_cross_entropy.py", "level1_embedding.py"]
    for row, size in zip(rows, ("num_classes stays at 1000", "vocab_size stays at 32000"),
                         strict=True):
        assert row["imported"] == "no seed" and row["check"] == "ok", row
        assert any(note.startswith(size) for note in row["notes"]), row["notes"]
