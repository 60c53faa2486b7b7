"""avo:launch scratch= on a real GPU: tests/fixtures/targets/work_queue.py hands rows out from a
counter in scratch. The harness zeroes it before every launch, so the kernel is correct over an
evaluation's many launches; the same kernel with its counter in a module global is not, and a
kernel that declares scratch without taking its pointer is refused by the contract.

Marked ``gpu``; skipped where torch sees no CUDA device:
``python -m pytest -m gpu tests/gpu/test_scratch_gpu.py``.
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

TARGET = Path(__file__).parents[1] / "fixtures" / "targets" / "work_queue.py"
SEED = TARGET.with_suffix(".cu")
POINTER = ",\n                                      unsigned *next_row) {"


def evaluate(kernel: Path, cwd: Path) -> tuple[int, dict[str, object]]:
    done = avo("eval", str(kernel), "--target", str(TARGET), "--json", cwd=cwd, timeout=600)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_kernel_drawing_rows_from_its_scratch_counter_is_correct_on_every_launch(
    tmp_path: Path,
) -> None:
    code, result = evaluate(SEED, tmp_path)
    assert code == 0 and result["correct"], result["failure"]
    assert all(c["passed"] for c in result["configs"])  # type: ignore[attr-defined]


def test_a_counter_kept_in_a_module_global_leaves_later_launches_unwritten(
    tmp_path: Path,
) -> None:
    source = SEED.read_text().replace(" scratch=4", "").replace(POINTER, ") {").replace(
        "extern \"C\"", "__device__ unsigned next_row[1];\nextern \"C\"")
    assert "scratch=" not in source
    kernel = tmp_path / "global_counter.cu"
    kernel.write_text(source)
    code, result = evaluate(kernel, tmp_path)
    # every row was taken by the first launch: later ones leave the NaN-poisoned output as it was
    assert code == 3 and result["failure"]["kind"] == "nonfinite", result["failure"]  # type: ignore[index]


def test_scratch_declared_without_its_pointer_is_refused_by_the_contract(tmp_path: Path) -> None:
    source = SEED.read_text().replace(POINTER, ") {\n    unsigned *next_row = nullptr;")
    kernel = tmp_path / "no_pointer.cu"
    kernel.write_text(source)
    code, result = evaluate(kernel, tmp_path)
    failure = result["failure"]
    assert code == 3 and failure["kind"] == "contract", failure  # type: ignore[index]
    assert "then the scratch pointer" in failure["message"]  # type: ignore[index]
