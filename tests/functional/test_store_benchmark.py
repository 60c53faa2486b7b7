"""The store benchmark runs and reports every figure RESULTS.md quotes (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "store_scale.py"
KEYS = (
    "open_s",
    "append_event_p50_ms",
    "append_event_p99_ms",
    "append_event_p99_ms_first_10pct",
    "commit_p50_ms",
    "commit_p99_ms",
    "file_bytes",
)


@pytest.mark.slow
def test_quick_store_benchmark_prints_one_json_object(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--dir", str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=600,
    )
    result = json.loads(out.stdout)
    assert result["versions"] == 1000 and result["events"] == 10000
    for key in KEYS:
        assert isinstance(result[key], int | float) and result[key] > 0, key
    assert list(tmp_path.iterdir()) == []  # it cleans up after itself
