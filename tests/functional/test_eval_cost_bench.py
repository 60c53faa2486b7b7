"""benchmarks/eval_cost.py on the tests' small cpu-attention: each kind of evaluation is timed
and reported. It asserts the report, never a timing: this runs beside other tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine_helpers import TARGET

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "eval_cost.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600)


def test_each_kind_of_evaluation_is_timed_and_reported() -> None:
    done = run("--runs", "1", "--json", TARGET.ref)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    kinds = ("alone", "first reading", "gate")
    assert list(report) == [f"{TARGET.name}: {kind} s" for kind in kinds]
    assert all(seconds > 0 for seconds in report.values())


def test_a_run_count_below_one_is_refused() -> None:
    done = run("--runs", "0", TARGET.ref)
    assert done.returncode == 2 and "--runs must be at least 1" in done.stderr
