"""KernelBench problems imported as CUDA targets (``avo targets import --kind cuda``) on a real
GPU: the seed the importer writes passes ``avo eval`` under every input case the target file
declares, the problem's own draw included (its seed drawn by the harness's CUDA generator: a
CPU-only draw refused every imported CUDA target), and is timed.

Marked ``gpu``; skipped where torch sees no CUDA device.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.cli import main  # noqa: E402
from avo_tui.evaluation import get_target  # noqa: E402
from avo_tui.kernelbench import import_problem  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

EXAMPLES = Path(__file__).parents[2] / "examples" / "kernelbench"


@pytest.mark.parametrize(("name", "pattern"), [("level1_conv2d", "stage"),
                                               ("level1_square_matmul", "matmul")])
def test_an_imported_cuda_seed_passes_every_case_on_the_gpu(
        name: str, pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = tmp_path / f"{name}.py"
    shutil.copy(EXAMPLES / problem.name, problem)
    imported = import_problem(problem, kind="cuda")
    assert imported.pattern == pattern and imported.seed is not None
    cases = get_target(str(imported.target)).problem.input_cases
    assert "problem_draw" in cases
    capsys.readouterr()
    assert main(["eval", str(imported.seed), "--target", str(imported.target), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["correct"], result["failure"]
    assert {c["case"] for c in result["configs"]} >= set(cases)
    assert result["geomean"] > 0
