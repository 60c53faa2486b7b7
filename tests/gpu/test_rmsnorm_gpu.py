"""The shipped target rmsnorm on a real GPU: ``avo targets check rmsnorm`` passes (the numerics
on the GPU, torch.compile's baseline included, and the seed scored), ``avo eval`` scores the
seed in GB/s on the whole grid below the measured bandwidth with both baselines timed beside
it, the seed's other vector widths and block sizes pass too (the tuner's moves), and a kernel
without eps fails on the hostile cases.

Marked ``gpu``; skipped where torch sees no CUDA device. On the H200:
``python -m pytest -m gpu tests/gpu/test_rmsnorm_gpu.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from target_example import avo  # noqa: E402

from avo_tui.evaluation import EvalRequest, EvalResult, Worker  # noqa: E402
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

SEED = Path(__file__).parents[2] / "kernels" / "cuda" / "rmsnorm.cu"


def test_avo_targets_check_passes_on_the_gpu(tmp_path: Path) -> None:
    done = avo("targets", "check", "rmsnorm", cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "ok  numerics on cuda" in out and "with drawn, huge, mixed, zeros inputs" in out
    # torch.compile runs on this GPU (Triton ships with torch's CUDA wheels)
    assert "baseline torch-compile at " in out and "not checked" not in out, out
    assert "ok  seed rmsnorm.cu: PASS " in out and " GB/s geomean" in out, out
    assert "x torch-compile (quick grid)" in out, out


def test_avo_eval_scores_the_seed_in_gb_per_s_below_the_measured_bandwidth(
    tmp_path: Path,
) -> None:
    done = avo("eval", "--target", "rmsnorm", "--json", cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["correct"] and result["unit"] == "GB/s", result["failure"]
    bandwidth = result["hardware"]["bandwidth_gbs"]
    assert bandwidth > 0
    timed = [c for c in result["configs"] if not c["edge"]]
    assert len(timed) == 6
    for config in timed:
        assert 0 < config["throughput"] < 1.25 * bandwidth, config
        assert set(config["baselines"]) == {"torch-compile", "torch-eager"}, config
        assert config["ratio"] is not None  # to torch-compile, timed beside it
    assert not [f for f in result["flags"] if "memory bandwidth" in f], result["flags"]
    assert {c["case"] for c in result["configs"]} == {"normal", "huge", "mixed", "zeros"}


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def evaluate(worker: Worker, sources: dict[str, str]) -> EvalResult:
    request = EvalRequest("rmsnorm", sources, quick=True, seed=5, measure_baselines=False)
    return worker.evaluate(request)


@pytest.mark.parametrize("knobs", [
    {"VEC": "1", "BLOCK": "1024", "UNROLL": "1", "CACHE_HINTS": "1"},
    {"VEC": "2", "BLOCK": "64", "UNROLL": "4", "CACHE_HINTS": "0"},
    {"VEC": "4", "BLOCK": "512", "UNROLL": "2", "CACHE_HINTS": "1"},
    {"VEC": "8", "BLOCK": "128", "UNROLL": "4", "CACHE_HINTS": "1"},
], ids=lambda knobs: "-".join(f"{k}{v}" for k, v in knobs.items()))
def test_the_seeds_other_knob_values_pass(worker: Worker, knobs: dict[str, str]) -> None:
    result = evaluate(worker, apply_knobs(load_sources(SEED, "cuda"), knobs))
    assert result.correct, result.failure
    assert result.knobs == knobs


def test_a_kernel_without_eps_fails_on_the_hostile_cases(worker: Worker) -> None:
    (name, source), = load_sources(SEED, "cuda").items()
    no_eps = source.replace("/ static_cast<float>(hidden) + eps)", "/ static_cast<float>(hidden))")
    assert no_eps != source
    result = evaluate(worker, {name: no_eps})
    assert result.failure is not None and result.failure.kind in ("nonfinite", "incorrect")
