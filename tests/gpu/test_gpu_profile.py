"""The agent's profile tool underneath: ncu on the CUDA seed, one configuration, on a real GPU.

Marked ``gpu``; skipped without CUDA, and where ncu is missing or cannot read the counters
(a clear ProfileUnavailable is then the expected answer, which the last test checks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import get_target  # noqa: E402
from avo_tui.evaluation.declarations.candidate import load_sources  # noqa: E402
from avo_tui.evaluation.diagnostics.profile import ProfileUnavailable, profile  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
SEED = Path(__file__).parents[2] / "kernels" / "cuda" / "attention_fwd.cu"


def test_ncu_reports_the_seeds_metrics_on_one_configuration() -> None:
    if shutil.which("ncu") is None:
        pytest.skip("ncu is not installed here")
    target = get_target("mha")
    config = target.quick_configs[0].name
    try:
        table = profile("mha", target.entry, load_sources(SEED, "cuda"), config)
    except ProfileUnavailable as error:
        assert "ncu could not profile" in str(error)
        pytest.skip(f"ncu cannot read the counters on this machine: {error}")
    print(table)
    assert f"on {config}:" in table
    duration = next(line for line in table.splitlines() if "duration" in line)
    assert any(ch.isdigit() for ch in duration)
    registers = next(line for line in table.splitlines() if "registers per thread" in line)
    assert any(ch.isdigit() for ch in registers)
