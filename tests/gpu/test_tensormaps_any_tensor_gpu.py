"""Tensor maps over a target file's own tensors on a real GPU (issue 56):
tests/fixtures/targets/tma_sum.py loads a float32 and an int8 tensor, both rank 2, by TMA. The
seed is correct on every shape, the edge shapes' partial tiles included (the TMA unit fills
past the end with zeros), and a kernel that reads the int8 bits as unsigned is rejected.

Marked ``gpu``; skipped where torch sees no CUDA device:
``python -m pytest -m gpu tests/gpu/test_tensormaps_any_tensor_gpu.py``.
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

TARGET = Path(__file__).parents[1] / "fixtures" / "targets" / "tma_sum.py"
SEED = TARGET.with_suffix(".cu")


def test_a_kernel_loading_float32_and_int8_tiles_by_tma_is_correct(tmp_path: Path) -> None:
    done = avo("eval", str(SEED), "--target", str(TARGET), "--json", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["correct"], result["failure"]
    assert all(c["passed"] for c in result["configs"])
    assert any(c["edge"] for c in result["configs"])


def test_a_kernel_that_reads_the_int8_tiles_as_unsigned_is_rejected(tmp_path: Path) -> None:
    source = SEED.read_text().replace("signed char", "unsigned char")
    assert source != SEED.read_text()
    kernel = tmp_path / "unsigned.cu"
    kernel.write_text(source)
    done = avo("eval", str(kernel), "--target", str(TARGET), "--json", cwd=tmp_path,
               timeout=600)
    assert done.returncode == 3, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["failure"]["kind"] == "incorrect", result["failure"]
