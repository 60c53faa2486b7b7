"""The GEMM target of issue 41 (targets/gemm_bias_act.py) on a real GPU: ``avo targets check``
passes with every baseline it can run agreeing with the reference, the CUDA seed passes every
configuration and is timed beside the baselines, other tile shapes of the seed pass too, and
compute-sanitizer finds nothing on the edge shapes that cross the tiles.

Marked ``gpu``; skipped where torch sees no CUDA device. Run on the H200 with
``python -m pytest -m gpu tests/gpu/test_gemm_gpu.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gemm_knobs import OTHER_SHAPES

torch = pytest.importorskip("torch")

from avo_tui.cli import main  # noqa: E402
from avo_tui.evaluation import (  # noqa: E402
    EvalRequest,
    SanitizerUnavailable,
    Worker,
    get_target,
)
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources  # noqa: E402
from avo_tui.evaluation.diagnostics.profile import find_tool  # noqa: E402
from avo_tui.evaluation.diagnostics.sanitize import SANITIZER_PLACES, sanitize  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

ROOT = Path(__file__).parents[2]
TARGET = str(ROOT / "targets" / "gemm_bias_act.py")
SEED = ROOT / "kernels" / "cuda" / "gemm_bias_act.cu"
BASELINES = ("cublas", "cublaslt-gelu", "torch-compile")


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def test_targets_check_passes_on_the_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", "check", TARGET]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "ok  numerics on cuda, " in out
    assert "baseline cublas at " in out  # the one ratios are taken against runs everywhere
    for name in BASELINES[1:]:  # the others run, or say why not
        assert f"baseline {name} at " in out or f"baseline {name} not checked: " in out, out
    assert "ok  seed gemm_bias_act.cu: PASS " in out


def test_the_seed_passes_every_configuration_and_is_timed_beside_the_baselines(
    worker: Worker,
) -> None:
    spec = get_target(TARGET)
    result = worker.evaluate(EvalRequest(TARGET, load_sources(SEED, "cuda")))
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs)
    assert [c.name for c in result.timed] == [c.name for c in spec.configs]
    for config in result.timed:
        assert config.throughput > 0 and "cublas" in config.baselines
        assert set(config.baselines) <= set(BASELINES)
    assert {c.case for c in result.configs if c.case} == set(spec.problem.input_cases)
    assert result.compile is not None and result.compile.resources.get("spill_stores", 0) == 0


@pytest.mark.parametrize("shape", sorted(OTHER_SHAPES))
def test_other_tile_shapes_pass_every_checked_configuration(worker: Worker, shape: str) -> None:
    sources = apply_knobs(load_sources(SEED, "cuda"), OTHER_SHAPES[shape])
    result = worker.evaluate(EvalRequest(TARGET, sources, quick=True, measure_baselines=False))
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs) and any(c.edge for c in result.configs)


@pytest.mark.parametrize("config", ["m17-n1000-k4104", "m129-n4097-k520"])
def test_the_seed_is_clean_under_compute_sanitizer(config: str) -> None:
    if find_tool("compute-sanitizer", SANITIZER_PLACES) is None:
        pytest.skip("compute-sanitizer is not installed here")
    try:
        report = sanitize(TARGET, "avo_gemm_bias_act", load_sources(SEED, "cuda"), config,
                          tools=("memcheck", "racecheck", "synccheck"))
    except SanitizerUnavailable as error:
        pytest.skip(f"compute-sanitizer cannot run here: {error}")
    tools = [line for line in report.splitlines() if line.split(":")[0] in
             ("memcheck", "racecheck", "synccheck")]
    assert len(tools) == 3 and all(": clean" in line for line in tools), report
