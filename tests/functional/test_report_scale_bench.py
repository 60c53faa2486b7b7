"""The report benchmark runs and prints every figure RESULTS.md quotes (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser import need_chromium

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "report_scale.py"


@pytest.mark.slow
def test_quick_report_benchmark_prints_one_json_object(tmp_path: Path) -> None:
    need_chromium()
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--dir", str(tmp_path),
         "--screenshot", str(tmp_path / "page.png")],
        capture_output=True, text=True, check=True, timeout=600,
    )
    result = json.loads(out.stdout)
    assert result["versions"] == 50 and result["attempts"] == 500
    for key in ("build_s", "report_s", "page_bytes", "draw_s", "click_ms"):
        assert isinstance(result[key], int | float) and result[key] > 0, key
    assert (tmp_path / "page.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["page.png"]  # it cleans up after itself
