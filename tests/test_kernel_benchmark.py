"""benchmarks/kernel_vs_baselines.py without a GPU: its help and its argument errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "kernel_vs_baselines.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, timeout=120)


def test_help_explains_the_figures() -> None:
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    for word in ("cudnn", "flash", "x_cudnn", "geomean", "--quick", "--targets", "--json"):
        assert word in out.stdout


def test_an_unknown_or_cpu_target_is_refused_with_the_known_ones() -> None:
    for target in ("mhaa", "cpu-attention"):
        out = _run("--targets", target)
        assert out.returncode == 2
        assert f"unknown GPU target '{target}'" in out.stderr
        assert "mha, gqa, gqa-4, mha-d64" in out.stderr


def test_a_missing_kernel_file_is_refused_before_any_gpu_work(tmp_path: Path) -> None:
    out = _run(str(tmp_path / "nope.cu"))
    assert out.returncode == 2
    assert "no such kernel file" in out.stderr
