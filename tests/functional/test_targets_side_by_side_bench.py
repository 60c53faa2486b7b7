"""benchmarks/targets_side_by_side.py on the CPU target: two revisions' code, each in a process
of its own with its checkout first on the path (a temporary worktree for --old), score the same
seed in interleaved rounds, and the report pairs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "targets_side_by_side.py"


def test_both_revisions_score_cpu_attentions_seed_in_one_run() -> None:
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                      capture_output=True).returncode:
        pytest.skip("not a git checkout")
    worktrees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], text=True,
                               capture_output=True, check=True).stdout
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--old", "HEAD", "--targets", "cpu-attention",
         "--rounds", "2", "--quick", "--json"],
        cwd=ROOT, text=True, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    row = report["targets"]["cpu-attention"]
    assert row["kernel"] == "cpu/attention.c" and row["unit"] == "GFLOP/s"
    assert row["correct"] and row["same_configs"]
    assert len(row["rounds"]["old"]) == len(row["rounds"]["new"]) == len(row["ratios"]) == 2
    assert row["old"] > 0 and row["new"] > 0 and row["ratio"] > 0
    # interleaved: each round's two evaluations, the side that goes first alternating
    lines = [line.split()[2] for line in done.stderr.splitlines() if line.startswith("# ")]
    assert lines == ["old", "new", "new", "old"]
    # the temporary worktree is gone
    assert subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], text=True,
                          capture_output=True, check=True).stdout == worktrees
