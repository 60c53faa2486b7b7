"""benchmarks/launch_order.py and benchmarks/sustained_clock.py: what they explain and time,
and what they say on a machine without a GPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from launch_order import orders  # noqa: E402


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args],
                          capture_output=True, text=True, timeout=300)


def test_launch_order_puts_ours_after_each_baseline_in_one_trade() -> None:
    fixed = ["ours", "cudnn", "flash", "fa4", "fa3"]
    chosen = orders(fixed)
    assert chosen["fixed"] == fixed and chosen["random"] is None
    assert chosen["ours after flash"] == ["fa4", "cudnn", "flash", "ours", "fa3"]
    for before in ("cudnn", "flash", "fa4"):
        order = chosen[f"ours after {before}"]
        assert order is not None and sorted(order) == sorted(fixed)
        assert order[order.index(before) + 1] == "ours"
        assert sum(a != b for a, b in zip(order, fixed, strict=True)) == 2
    # ours follows fa3 in the fixed order already, from one turn to the next
    assert "ours after fa3" not in chosen


@pytest.mark.parametrize(("script", "words"), [
    ("launch_order.py", ["which kernel ran just before it", "--cycles", "random"]),
    ("sustained_clock.py", ["SM clock and board power", "TFLOP/kJ", "--baselines"]),
])
def test_the_power_benchmarks_explain_themselves(script: str, words: list[str]) -> None:
    out = _run(script, "--help")
    assert out.returncode == 0, out.stderr
    for word in words:
        assert word in out.stdout


@pytest.mark.skipif(_has_cuda(), reason="checks the message on machines without a GPU")
@pytest.mark.parametrize("script", ["launch_order.py", "sustained_clock.py"])
def test_the_power_benchmarks_say_they_need_a_gpu(script: str) -> None:
    out = _run(script, "--target", "gqa")
    assert out.returncode == 2
    assert out.stderr.strip() == "needs a CUDA GPU"
