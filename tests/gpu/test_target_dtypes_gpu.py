"""A target of mixed dtypes on a real GPU (tests/fixtures/targets/mixed_scale.py: bf16 x,
float32 weight and out): ``avo targets check`` passes with the numerics and the seed on the
GPU, the seed is correct and scored on the whole grid, and a kernel that reads the float32
weight as bf16 is rejected.

Marked ``gpu``; skipped where torch sees no CUDA device. On the H200:
``python -m pytest -m gpu tests/gpu/test_target_dtypes_gpu.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from target_example import avo  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

TARGET = Path(__file__).parents[1] / "fixtures" / "targets" / "mixed_scale.py"
SEED = TARGET.with_suffix(".cu")


def test_targets_check_passes_on_the_gpu(tmp_path: Path) -> None:
    done = avo("targets", "check", str(TARGET), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  numerics on cuda" in done.stdout, done.stdout
    assert "ok  seed mixed_scale.cu: PASS " in done.stdout, done.stdout


def test_the_seed_is_correct_and_scored(tmp_path: Path) -> None:
    done = avo("eval", str(SEED), "--target", str(TARGET), "--json", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["correct"] and result["unit"] == "GB/s", result["failure"]
    assert all(c["throughput"] > 0 for c in result["configs"] if not c["edge"])


def test_a_kernel_that_reads_the_float32_weight_as_bf16_is_rejected(tmp_path: Path) -> None:
    source = SEED.read_text().replace("const float *__restrict__ weight",
                                      "const __nv_bfloat16 *__restrict__ weight")
    source = source.replace("* weight[i % cols]", "* __bfloat162float(weight[i % cols])")
    assert source != SEED.read_text()
    kernel = tmp_path / "misread.cu"
    kernel.write_text(source)
    done = avo("eval", str(kernel), "--target", str(TARGET), "--json", cwd=tmp_path,
               timeout=600)
    assert done.returncode == 3, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert not result["correct"], result
    assert result["failure"]["kind"] in ("incorrect", "nonfinite"), result["failure"]
