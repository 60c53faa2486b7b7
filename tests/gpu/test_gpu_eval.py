"""The evaluator on a real GPU: the CUDA seed on every target, and kernels that break or cheat.

Marked ``gpu``; skipped where torch sees no CUDA device. Run on the H200 with
``python -m pytest -m gpu tests/gpu``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from avo_tui.evaluation import TARGETS, EvalRequest, EvalResult, Worker  # noqa: E402
from avo_tui.evaluation.candidate import load_sources  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

ROOT = Path(__file__).parents[2]
ADVERSARIAL = ROOT / "tests" / "adversarial" / "cuda"
HANG_TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def evaluate(worker: Worker, name: str, timeout_s: float | None = None) -> EvalResult:
    request = EvalRequest(
        "mha", load_sources(ADVERSARIAL / name, "cuda"), quick=True, measure_baselines=False
    )
    return worker.evaluate(request, timeout_s=timeout_s)


def assert_recovers(worker: Worker) -> None:
    result = evaluate(worker, "honest.cu")
    assert result.correct, result.failure


@pytest.mark.parametrize("target", [t for t in TARGETS if TARGETS[t].toolchain == "cuda"])
def test_seed_passes_every_configuration(worker: Worker, target: str) -> None:
    spec = TARGETS[target]
    sources = load_sources(ROOT / "kernels" / spec.seed_kernel, "cuda")
    result = worker.evaluate(EvalRequest(target, sources))
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs)
    assert len(result.timed) == len(spec.configs)
    for config in result.timed:
        assert config.throughput > 0 and set(config.baselines) == {"cudnn", "flash"}
    assert result.compile is not None and "registers" in result.compile.resources
    assert result.host["gpu"] and result.host["cudnn"]


def test_honest_naive_kernel_passes(worker: Worker) -> None:
    assert_recovers(worker)


def test_illegal_address_replaces_the_worker(worker: Worker) -> None:
    restarts = worker.restarts
    result = evaluate(worker, "illegal_address.cu")
    assert result.failure is not None and result.failure.kind == "cuda_error", result.failure
    assert "illegal" in result.failure.message.lower()
    assert result.worker_restarted and worker.restarts == restarts + 1
    assert_recovers(worker)


def test_infinite_loop_times_out_and_the_worker_recovers(worker: Worker) -> None:
    result = evaluate(worker, "infinite_loop.cu", timeout_s=HANG_TIMEOUT_S)
    assert result.failure is not None and result.failure.kind == "timeout", result.failure
    assert result.worker_restarted
    assert_recovers(worker)


@pytest.mark.parametrize(
    ("kernel", "kinds", "edge_only"),
    [
        # reads rows other warps may not have written yet: wrong values or the NaN poison
        ("data_race.cu", {"incorrect", "stale_output", "nonfinite"}, False),
        ("cached_output.cu", {"incorrect", "stale_output"}, False),
        ("partial_write.cu", {"nonfinite"}, False),
        ("edge_wrong.cu", {"incorrect"}, True),
    ],
)
def test_wrong_or_cheating_kernel_is_rejected(
    worker: Worker, kernel: str, kinds: set[str], edge_only: bool
) -> None:
    result = evaluate(worker, kernel)
    assert result.failure is not None and result.failure.kind in kinds, result.failure
    assert result.geomean == 0
    failed = next(c for c in result.configs if c.name == result.failure.config)
    assert failed.edge == edge_only
    assert_recovers(worker)


def test_work_on_another_stream_cannot_even_build(worker: Worker) -> None:
    result = evaluate(worker, "other_stream.cu")
    assert result.failure is not None and result.failure.kind == "compile"
