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
KERNELS = Path(__file__).parent / "kernels"  # kernels that exercise the launch contract
HANG_TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def evaluate(
    worker: Worker,
    name: str,
    timeout_s: float | None = None,
    *,
    folder: Path = ADVERSARIAL,
    target: str = "mha",
) -> EvalResult:
    request = EvalRequest(
        target, load_sources(folder / name, "cuda"), quick=True, measure_baselines=False
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


# -- the launch contract: tensor maps, clusters, persistent grids ---------------------------------


@pytest.mark.parametrize(
    ("kernel", "target"),
    [
        ("tma_attention.cu", "mha"),
        ("tma_attention.cu", "gqa-4"),
        ("tma_attention.cu", "mha-d64"),
        ("cluster_attention.cu", "mha"),
        ("persistent_attention.cu", "mha"),
    ],
)
def test_contract_kernel_passes(worker: Worker, kernel: str, target: str) -> None:
    """Correct on every quick configuration and every edge shape, and timed."""
    result = evaluate(worker, kernel, folder=KERNELS, target=target)
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs) and any(c.edge for c in result.configs)
    assert all(c.throughput > 0 for c in result.timed)


@pytest.mark.parametrize(
    ("kernel", "message"),
    [
        ("swizzle_too_narrow.cu", "tma_q: box=(1, 1, 64, 128): the innermost size is 256 bytes"),
        ("missing_tensormap_parameter.cu", "takes 11 parameters; the contract passes 12"),
    ],
)
def test_a_tensor_map_the_kernel_cannot_use_is_a_contract_failure(
    worker: Worker, kernel: str, message: str
) -> None:
    result = evaluate(worker, kernel, folder=KERNELS)
    assert result.failure is not None and result.failure.kind == "contract", result.failure
    assert message in result.failure.message
    assert not result.worker_restarted


def test_a_launch_geometry_that_fails_for_one_configuration_is_a_contract_failure(
    worker: Worker,
) -> None:
    result = evaluate(worker, "empty_grid.cu", folder=KERNELS)
    assert result.failure is not None and result.failure.kind == "contract", result.failure
    assert result.failure.config == "b2-h16-s4096-d128-full" and "grid" in result.failure.message
    assert not result.worker_restarted


def test_tensor_maps_are_encoded_once_per_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing rotates input sets; each set's maps are built once, not on every launch."""
    from avo_tui.evaluation import attention, contract, gpu
    from avo_tui.evaluation.targets import Config
    from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain

    device = gpu.CudaDevice(0)
    sources = load_sources(KERNELS / "tma_attention.cu", "cuda")
    compiled = CudaToolchain(CompileCache(), device.arch).compile(sources, ("-DAVO_HEAD_DIM=128",))
    assert compiled.ok and compiled.artifact is not None, compiled.log
    declarations = contract.parse(sources["tma_attention.cu"])
    kernel = device.load(
        compiled.artifact, "avo_attention_fwd", declarations, {"AVO_HEAD_DIM": 128}
    )
    encoded: list[str] = []
    real = gpu.encode_tensor_map

    def counting(tensor: object, box: tuple[int, ...], spec: contract.TensorMap) -> object:
        encoded.append(spec.name)
        return real(tensor, box, spec)  # type: ignore[arg-type]

    monkeypatch.setattr(gpu, "encode_tensor_map", counting)
    config = Config(2, 4, 2, 300, 128, True, "bfloat16")
    generator = device.generator(7)
    sets = [attention.make_inputs(config, generator, device.name) for _ in range(3)]
    out = attention.empty_output(config, device.name)
    for _ in range(5):
        for inputs in sets:
            kernel.launch(config, inputs, out)
    device.synchronize()
    assert sorted(encoded) == sorted(["tma_q", "tma_k", "tma_v"] * len(sets) + ["tma_o"])
    errors = attention.compare(out, attention.reference(config, sets[-1]))
    assert errors.finite and errors.rel_l2 < 1.5e-2, errors
    kernel.close()
