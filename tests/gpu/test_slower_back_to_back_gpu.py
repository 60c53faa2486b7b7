"""The flag "slower back to back" on a GPU (issue 70, item 2): the gate accepts a kernel faster
than the best launch by launch, then reads the two back to back, as users run them; a kernel
slower there is flagged, which holds its commit for the operator.

Both kernels are the seed of the smallest CUDA target (rmsnorm), each block then held for a
count of SM cycles (tests/gpu/kernels/throttles_when_busy.cuh): the best for PAD_CYCLES, the
candidate for a tenth fewer. The candidate that throttles when busy holds its blocks a quarter
longer once it has run most of the time, as a kernel that draws more power per FLOP runs at a
lower clock at the power limit. Interleaved with the best it stays cool and is the faster;
back to back it is the slower (0.9 * 1.25 = 1.125 of the best's time). The control never
throttles, and must not be flagged.

Why a simulation, not a kernel that draws more power: measured on an H200 (2026-11-27,
RESULTS.md), tensor-core MMAs or FMAs from 2 or 3 warps of each block drew at most 330 W of its
700 W, at 1980 MHz, and from 4 or 8 warps the launch was 1.2x and 1.9x longer at every reading,
interleaved too, with NVML still reporting 1980 MHz and 340-360 W: no padding found was both
as fast launch by launch and slower back to back.

Marked ``gpu``; skipped without CUDA. The first test needs no GPU: NVRTC builds both kernels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from attack_kernels import Seeded, around_entry, builds_for_hopper, seeded  # noqa: E402

from avo_tui.evaluation import EvalRequest, EvalResult, Worker  # noqa: E402
from avo_tui.evaluation.measurement.back_to_back import slower_back_to_back  # noqa: E402
from avo_tui.evaluation.paired import GatePlan  # noqa: E402

KERNELS = Path(__file__).parent / "kernels"
HEADER = "throttles_when_busy.cuh"
TARGET = "rmsnorm"
# About 2 ms a launch on an H200 over rmsnorm's quick configuration (16384 blocks, 8 resident
# per SM): the pad, not the seed's 0.2 ms of memory traffic, sets each launch's time.
PAD_CYCLES = 262_144
CANDIDATE_SHARE = 0.9  # of the best's cycles: a tenth faster launch by launch
BUSY_ABOVE = 0.85  # the gate's A B B A order keeps the running share near 0.7
BUSY_SLOWER = 1.25
SUSTAINED_S = 0.5


def padded(target: Seeded, cycles: int, slower_when_busy: float) -> dict[str, str]:
    """The target's seed with every block held ``cycles`` SM cycles after its body, or that
    times ``slower_when_busy`` once the kernel runs most of the time."""
    defines = {"AVO_PAD_CYCLES": cycles, "AVO_BUSY_ABOVE": f"{BUSY_ABOVE}f",
               "AVO_BUSY_SLOWER": slower_when_busy}
    return around_entry(target, KERNELS / HEADER, defines, "avo_launch_begins();",
                        "avo_pad(); avo_launch_ends();")


def best(target: Seeded) -> dict[str, str]:
    return padded(target, PAD_CYCLES, 1.0)


def candidate(target: Seeded, throttles: bool) -> dict[str, str]:
    return padded(target, int(PAD_CYCLES * CANDIDATE_SHARE), BUSY_SLOWER if throttles else 1.0)


@pytest.mark.parametrize("throttles", [False, True])
def test_the_kernels_build_for_hopper(tmp_path: Path, throttles: bool) -> None:
    result = builds_for_hopper(seeded(TARGET), candidate(seeded(TARGET), throttles), tmp_path)
    assert result.ok, result.log


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def gate_beside_the_best(worker: Worker, throttles: bool) -> EvalResult:
    """The candidate through the commit gate beside the best, as engine/gate.py asks for it
    with --sustained."""
    target = seeded(TARGET)
    request = EvalRequest(target.spec.ref, candidate(target, throttles), quick=True,
                          measure_baselines=False, seed=70, incumbent=best(target),
                          gate=GatePlan(cap_s=target.spec.gate_cap_s), sustained_s=SUSTAINED_S)
    result = worker.evaluate(request, timeout_s=900)
    print(f"throttles={throttles}: {result.summary()}, {result.beside}, back to back "
          f"{result.sustained_ratios}, flags {result.flags}")  # for the log, with -s
    return result


def flagged(result: EvalResult) -> list[str]:
    return [flag for flag in result.flags if flag.startswith("slower back to back")]


needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@needs_gpu
def test_a_kernel_slower_back_to_back_is_held_though_the_gate_accepts_it(
    worker: Worker,
) -> None:
    result = gate_beside_the_best(worker, throttles=True)
    assert result.correct and result.beside.get("decision") == "accept", result.summary()
    ratio = result.sustained_ratios["incumbent"]
    assert ratio == pytest.approx(1 / (CANDIDATE_SHARE * BUSY_SLOWER), rel=0.05)
    assert ratio < 1 - slower_back_to_back("cuda:0")
    assert flagged(result), result.flags


@pytest.mark.gpu
@needs_gpu
def test_the_control_faster_back_to_back_too_is_not_flagged(worker: Worker) -> None:
    result = gate_beside_the_best(worker, throttles=False)
    assert result.correct and result.beside.get("decision") == "accept", result.summary()
    assert result.sustained_ratios["incumbent"] == pytest.approx(1 / CANDIDATE_SHARE, rel=0.05)
    assert not flagged(result), result.flags
