"""Baselines beside torch (FlashAttention-4): measured where installed, named where not, and
every score's ratio to each baseline, per configuration and as a geometric mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.evaluation import EvalRequest, get_target
from avo_tui.evaluation.declarations.candidate import load_sources
from avo_tui.evaluation.devices.timing import summarize
from avo_tui.evaluation.pipeline import Pipeline
from avo_tui.evaluation.problems import attention_torch as attention
from avo_tui.evaluation.results import ConfigResult, EvalResult

SEED = Path(__file__).parents[2] / "kernels" / "cpu" / "attention.c"
# The shipped CPU target at one small configuration: what is timed is not these tests' subject,
# and each evaluation on the shipped quick grid took about a minute on a loaded 2-core machine.
SMALL = Path(__file__).parents[1] / "fixtures" / "targets" / "cpu_attention_small.py"


def test_every_gpu_target_lists_fa4_and_fa3_beside_cudnn_and_fa2() -> None:
    for name in ("mha", "gqa", "gqa-4", "mha-d64"):
        target = get_target(name)
        assert target.baselines[0] == "cudnn"  # ratios are still taken against cuDNN
        assert set(target.baselines) == {"cudnn", "flash", "fa4", "fa3"}
        assert {"fa4", "fa3"} <= set(attention.OPTIONAL_BASELINES)


def test_fa3_without_its_package_says_why() -> None:
    pytest.importorskip("torch")
    try:
        import fa3_fwd_interface  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("FlashAttention-3 is installed here")
    attention._missing.pop("fa3", None)
    assert "fa3_fwd_interface is not importable" in (attention.baseline_missing("fa3") or "")


@pytest.mark.parametrize(("capability", "runs"), [((8, 0), False), ((9, 0), True),
                                                  ((10, 0), False)])
def test_fa3_is_timed_on_hopper_alone(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], runs: bool
) -> None:
    import sys
    import types

    import torch

    monkeypatch.setitem(sys.modules, "fa3_fwd_interface", types.ModuleType("fa3_fwd_interface"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: capability)
    why = attention.OPTIONAL_BASELINES["fa3"]()
    assert (why is None) == runs
    if not runs:
        assert why is not None and "Hopper (sm_90) alone" in why


def test_fa4_without_its_package_says_why() -> None:
    pytest.importorskip("torch")
    try:
        import flash_attn.cute  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("FlashAttention-4 is installed here")
    attention._missing.pop("fa4", None)
    assert "flash_attn.cute is not importable" in (attention.baseline_missing("fa4") or "")


def evaluate(pipeline: Pipeline) -> EvalResult:
    request = EvalRequest(str(SMALL), load_sources(SEED, "c"), quick=True, seed=3)
    return pipeline.run(request, lambda *_: None)


def test_a_missing_optional_baseline_is_left_out_and_named_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The CPU target's own baseline stands in for FA4: declared optional and absent here.
    monkeypatch.setitem(attention.OPTIONAL_BASELINES, "torch-sdpa-cpu", lambda: "not installed")
    monkeypatch.setattr(attention, "_missing", {})
    pipeline = Pipeline("cpu")
    first = evaluate(pipeline)
    assert first.correct, first.failure
    assert all(not c.baselines for c in first.timed) and first.ratio is None
    # other notes may come too (a loaded machine's "machine load suspected")
    assert [n for n in first.notes if "torch-sdpa-cpu" in n] == [
        "torch-sdpa-cpu not measured: not installed"]
    # Later evaluations reuse what was measured; the note is not repeated on each attempt.
    monkeypatch.setitem(attention.OPTIONAL_BASELINES, "torch-sdpa-cpu", lambda: None)
    monkeypatch.setattr(attention, "_missing", {"torch-sdpa-cpu": "not installed"})
    assert "not measured" not in " ".join(evaluate(pipeline).notes)


def test_a_present_optional_baseline_is_timed_and_ratioed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(attention.OPTIONAL_BASELINES, "torch-sdpa-cpu", lambda: None)
    monkeypatch.setattr(attention, "_missing", {})
    result = evaluate(Pipeline("cpu"))
    assert result.correct, result.failure
    assert not [n for n in result.notes if "not measured" in n]
    assert all(c.baselines.get("torch-sdpa-cpu") for c in result.timed)
    assert result.ratios["torch-sdpa-cpu"] == pytest.approx(result.ratio)
    assert result.as_dict()["ratios"] == result.ratios


def test_ratios_per_configuration_and_as_geomeans() -> None:
    config = get_target("mha").configs[0]

    def timed(throughput: float, **baselines: float) -> ConfigResult:
        entry = ConfigResult(config, primary_baseline="cudnn", timing=summarize([1e-3] * 5))
        entry.throughput = throughput
        entry.baselines = dict(baselines)
        return entry

    result = EvalResult("mha", "cuda", "cuda:0", "TFLOP/s", seed=1, quick=False)
    result.configs = [timed(600, cudnn=500, flash=300, fa4=650), timed(400, cudnn=400, fa4=400)]
    assert result.configs[0].ratios == pytest.approx({"cudnn": 1.2, "flash": 2.0, "fa4": 600 / 650})
    assert result.configs[0].as_dict()["ratios"] == result.configs[0].ratios
    # FA2 was timed on one configuration only: no geomean ratio rather than a partial one.
    assert set(result.ratios) == {"cudnn", "fa4"}
    assert result.ratios["fa4"] == pytest.approx((600 * 400 / (650 * 400)) ** 0.5)


def test_each_baseline_is_ratioed_by_its_launches_beside_the_candidate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every baseline's timing is the one timing.beside_timing makes of its launches and their
    beside_logs against the candidate, which the ratio then follows."""
    from avo_tui.evaluation.devices.timing import beside_timing
    from avo_tui.evaluation.measurement import measure

    made: list[tuple[object, list[float] | None]] = []

    def spy(samples: list[float], logs: list[float] | None, reference: object) -> object:
        timing = beside_timing(samples, logs, reference)  # type: ignore[arg-type]
        made.append((timing, logs))
        return timing

    monkeypatch.setattr(measure, "beside_timing", spy)
    monkeypatch.setitem(attention.OPTIONAL_BASELINES, "torch-sdpa-cpu", lambda: None)
    monkeypatch.setattr(attention, "_missing", {})
    result = evaluate(Pipeline("cpu"))
    assert result.correct, result.failure
    assert len(made) == len(result.timed) and all(logs for _, logs in made)
    assert [c.baseline_timings["torch-sdpa-cpu"] for c in result.timed] == [t for t, _ in made]


@pytest.mark.parametrize(("capability", "runs"), [((8, 0), False), ((8, 9), False),
                                                  ((9, 0), True), ((10, 0), True),
                                                  ((12, 0), False)])
def test_fa4_is_timed_on_hopper_and_data_centre_blackwell_alone(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], runs: bool
) -> None:
    import sys
    import types

    import torch

    monkeypatch.setitem(sys.modules, "flash_attn", types.ModuleType("flash_attn"))
    monkeypatch.setitem(sys.modules, "flash_attn.cute", types.ModuleType("flash_attn.cute"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *_: capability)
    why = attention.OPTIONAL_BASELINES["fa4"]()
    assert (why is None) == runs
    if not runs:
        assert why is not None and "Hopper (sm_90) and data-centre Blackwell" in why


def test_a_torch_baseline_this_gpu_lacks_is_named_with_torchs_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """cuDNN's and FA2's attention come with torch for some architectures only: each is run
    once on a small problem, and what torch says when it cannot is the note (the probe runs
    on the CPU here, with the CPU's own baseline standing in for one that works)."""

    def refuses(config: object) -> object:
        raise RuntimeError("No available kernel. Aborting execution.\nmore detail")

    monkeypatch.setitem(attention.BASELINES, "cudnn", refuses)
    why = attention.sdpa_missing("cudnn", device="cpu")
    assert why == ("torch cannot run it on this GPU (RuntimeError: No available kernel. "
                   "Aborting execution.)")
    assert attention.sdpa_missing("torch-sdpa-cpu", device="cpu") is None
