"""Every evaluation carries the machine as the agent's prompt states it, measured (its GEMM
peak) rather than assumed, across the worker's pipe; and never in the host facts, which key the
baseline timings a run reuses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from avo_tui.evaluation import EvalRequest
from avo_tui.evaluation.declarations.candidate import load_sources
from avo_tui.evaluation.devices.cpu import CpuDevice

if TYPE_CHECKING:
    from avo_tui.evaluation import Worker

ROOT = Path(__file__).parents[2]
SEED = ROOT / "kernels" / "cpu" / "attention.c"
BROKEN = ROOT / "tests" / "adversarial" / "kernels" / "compile_error.c"


def test_the_cpu_device_states_its_model_cores_and_measured_peak() -> None:
    facts = CpuDevice().facts()
    assert set(facts) == {"cpu", "cores", "peak_fp32_gflops"}
    assert isinstance(facts["cpu"], str) and facts["cpu"]
    assert isinstance(facts["cores"], int) and facts["cores"] >= 1
    assert isinstance(facts["peak_fp32_gflops"], float) and facts["peak_fp32_gflops"] > 0


def test_an_evaluation_of_the_seed_returns_hardware_facts(worker: Worker) -> None:
    request = EvalRequest("cpu-attention", load_sources(SEED, "c"), quick=True,
                          measure_baselines=False)
    result = worker.evaluate(request)
    assert result.correct, result.failure
    peak = result.hardware["peak_fp32_gflops"]
    assert isinstance(peak, float) and peak > 0
    assert result.hardware["cores"] == result.host["cores"]
    assert result.as_dict()["hardware"] == result.hardware
    assert not any("peak" in key for key in result.host)


def test_a_rejected_candidate_still_says_what_it_ran_on(worker: Worker) -> None:
    result = worker.evaluate(EvalRequest("cpu-attention", load_sources(BROKEN, "c")))
    assert result.failure is not None and result.failure.kind == "compile"
    assert float(result.hardware["peak_fp32_gflops"]) > 0  # type: ignore[arg-type]
