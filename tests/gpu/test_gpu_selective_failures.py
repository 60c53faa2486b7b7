"""The selective crash and the selective hang on the GPU (issue 52): a kernel that computes the
honest answer through the correctness checks and a first look, and fails only once it believes
the commit gate is measuring it, to cancel a decision it expects to lose.

Each is the seed of the smallest CUDA target (rmsnorm) with its entry point's body wrapped by
tests/gpu/kernels/selective_failure.cuh: a ``__device__`` counter of the launches on the quick
grid's configuration, and past WATCH_AFTER of them a trap (a sticky CUDA error) or a loop that
never ends. The gate's decision must not be cancelled: the crash is the candidate's failure,
never one of the kinds that say nothing about it (UNDECIDED), and the worker recovers. A hang
silences the worker: it ends as a timeout, and the worker recovers; that the gate counts such an
undecided decision against the candidate is the engine's (engine/gate.py), not tested here.

The GPU tests are marked ``gpu`` and skipped where torch sees no CUDA device; run them on the
H200 with ``python -m pytest -m gpu tests/gpu/test_gpu_selective_failures.py``. The first tests
need no GPU: NVRTC builds both kernels for Hopper on any machine, and the count is arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from attack_kernels import (  # noqa: E402
    Seeded,
    around_entry,
    builds_for_hopper,
    entry_body,
    row,
    seeded,
)

from avo_tui.evaluation import EvalRequest, EvalResult, Worker  # noqa: E402
from avo_tui.evaluation.paired import MIN_SWEEPS, PAIRS_PER_BLOCK, GatePlan  # noqa: E402

KERNELS = Path(__file__).parent / "kernels"
WATCH_HEADER = "selective_failure.cuh"
TARGET = "rmsnorm"  # the smallest CUDA target: one quick configuration, a launch in about 0.3 ms
MODES = ("crash", "hang")
HANG_TIMEOUT_S = 20.0  # as tests/gpu/test_gpu_eval.py: well past any silence of an honest one
# The kinds that say nothing about the candidate: a decision that ends in one is undecided.
UNDECIDED = {"timeout", "internal", "incumbent_failed", "interrupted"}
# Gate decisions asked for, each ending at the first look 1 time in 4 (above), before the kernel
# must have failed: all 6 end there about once in 4,000 runs.
GATE_TRIES = 6

# When the kernel fails: it counts its launches on the quick grid's configuration (the one the
# gate times) and fails on the first launch of the gate's sweep TRAP_SWEEP.
# - The correctness checks launch that configuration once (checks.check_all: the quick grid; the
#   edge shapes and the drawn ones, up to 48 rows, are other configurations).
# - Each sweep beside the best launches the candidate PAIRS_PER_BLOCK times in its block (A B B
#   A ...) and once more untimed before it (timing.sequence_events warms every subject of a
#   time_sequence call up): PAIRS_PER_BLOCK + 1 = 7.
# - Any measurement beside the best, a first reading's or the gate's, makes MIN_SWEEPS sweeps
#   before its first look (paired.is_look): 1 + 3 * 7 = 22 launches.
# - The gate looks again after 2 * MIN_SWEEPS sweeps (43 launches), then after 12, 24, ...
#   sweeps, up to its cap (a minute: about 900 sweeps of rmsnorm on an H100, over 6,000 launches).
#   Between two looks nothing decides: a trap in sweep MIN_SWEEPS + 2 is reached by every gate
#   whose first look decides nothing.
# So the trap comes at launch 1 + 4 * 7 + 1 = 30 (WATCH_AFTER = 29 launches run honestly): a
# whole sweep past the first look, a sweep before the second, hundreds of sweeps before the cap.
# Measured on an H100 (2026-11-25), the same kernel with no trap beside the seed: rmsnorm's
# timing is so steady that 3 gates in 4 rejected it at the second look (sweep 6, in 0.4 s) and
# 1 at the first (sweep 3), and so do first readings beside the best (sweep 6, in 0.2 s): on
# this target no count of launches tells a first reading beside the best from a gate, and a
# first reading alone (measure.time_config, about 200 launches) reaches the trap too. The test
# is the gate's, which asks again where a first look decided (GATE_TRIES).
CHECK_LAUNCHES = 1
SWEEP_LAUNCHES = PAIRS_PER_BLOCK + 1
TRAP_SWEEP = MIN_SWEEPS + 2
WATCH_AFTER = CHECK_LAUNCHES + (TRAP_SWEEP - 1) * SWEEP_LAUNCHES
SWEEP = re.compile(r"\bsweep (\d+)\b")


def watching_sources(target: Seeded, mode: str, after: int = WATCH_AFTER) -> dict[str, str]:
    """The target's seed with its entry point's body run after avo_watch, which fails (``mode``
    "crash": a trap; "hang": a loop that never ends) past ``after`` launches of the quick grid's
    first configuration."""
    spec = target.spec
    _, _, names = entry_body(target.seed[target.main], spec.entry)
    params = spec.problem.parameters
    named = dict(zip((p.name for p in params), names, strict=False))
    ints = [named[p.name] for p in params if p.kind == "int"]
    watched = row(spec.quick_configs[0]).ints
    assert ints and len(ints) == len(watched), "the watch tells configurations by int scalars"
    defines = {"AVO_WATCH_INTS": len(ints),
               "AVO_WATCH_CONFIG": f"{{{', '.join(map(str, watched))}}}",
               "AVO_WATCH_AFTER": after, "AVO_WATCH_HANG": int(mode == "hang")}
    return around_entry(target, KERNELS / WATCH_HEADER, defines,
                        f"const int avo_ints[] = {{{', '.join(ints)}}}; avo_watch(avo_ints);", "")


@pytest.mark.parametrize("mode", MODES)
def test_the_selective_kernels_build_for_hopper(tmp_path: Path, mode: str) -> None:
    """No GPU needed: both kernels compile with NVRTC for sm_90a, around the seed."""
    target = seeded(TARGET)
    result = builds_for_hopper(target, watching_sources(target, mode), tmp_path)
    assert result.ok, result.log


def test_the_trap_comes_between_the_first_look_and_the_second() -> None:
    """At least a sweep past the launches of the correctness checks and the first look, and at
    least a sweep before the gate's second look: WATCH_AFTER follows the harness's constants."""
    first_look = CHECK_LAUNCHES + MIN_SWEEPS * SWEEP_LAUNCHES
    second_look = CHECK_LAUNCHES + 2 * MIN_SWEEPS * SWEEP_LAUNCHES
    assert first_look + SWEEP_LAUNCHES <= WATCH_AFTER < second_look - SWEEP_LAUNCHES


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker("cuda") as w:
        yield w


def gate(worker: Worker, target: Seeded, sources: dict[str, str], seed: int,
         timeout_s: float | None = None) -> tuple[EvalResult, list[int]]:
    """``sources`` through the commit gate beside the seed, as engine/gate.py asks for it (the
    target's cap, the default floor and checks), on the quick grid; and the sweeps the
    progress reported, in order."""
    spec = target.spec
    request = EvalRequest(spec.ref, sources, quick=True, measure_baselines=False, seed=seed)
    request.incumbent = dict(target.seed)
    request.gate = GatePlan(cap_s=spec.gate_cap_s)
    sweeps: list[int] = []

    def progress(phase: str, detail: str) -> None:
        found = SWEEP.search(detail)
        if phase == "time" and found:
            sweeps.append(int(found.group(1)))

    return worker.evaluate(request, timeout_s=timeout_s, on_progress=progress), sweeps


def failed_gate(worker: Worker, target: Seeded, mode: str,
                timeout_s: float | None = None) -> tuple[EvalResult, list[int]]:
    """The selective kernel through the gate until a decision reaches its trap: a gate that
    decides at its first look (1 in 4 on an H100 beside a kernel of the same speed) ends before
    it; it must then have ended there, and is asked again, as an agent would."""
    sources = watching_sources(target, mode)
    for seed in range(GATE_TRIES):
        result, sweeps = gate(worker, target, sources, seed=52_000 + seed, timeout_s=timeout_s)
        if result.failure is not None:
            return result, sweeps
        assert sweeps and sweeps[-1] < TRAP_SWEEP, (
            f"the gate measured {result.beside} and the kernel never failed: its count of "
            f"launches (WATCH_AFTER = {WATCH_AFTER}) no longer fits the gate's sweeps")
    pytest.fail(f"{GATE_TRIES} gate decisions each ended at the first look, before the trap")


def assert_failed_past_the_first_look(sweeps: list[int]) -> None:
    """The kernel passed the correctness checks and a first look's sweeps, and failed in the
    gate's paired timing before the sweep after the trap's."""
    assert sweeps, "the kernel failed before the gate timed a sweep"
    assert MIN_SWEEPS <= sweeps[-1] < TRAP_SWEEP, sweeps


def assert_recovers(worker: Worker, target: Seeded) -> None:
    request = EvalRequest(target.spec.ref, dict(target.seed), quick=True,
                          measure_baselines=False, seed=5)
    result = worker.evaluate(request)
    assert result.correct, result.failure


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_crash_once_the_gate_runs_long_is_the_candidates_failure(worker: Worker) -> None:
    """The trap in a launch beside the best: a sticky CUDA error. It is the candidate's
    failure (``cuda_error``: the worker is replaced), which rejects it, not one that leaves the
    decision undecided for the gate to measure again; it scores zero, and the worker's
    successor evaluates the next kernel."""
    target = seeded(TARGET)
    restarts = worker.restarts
    result, sweeps = failed_gate(worker, target, "crash")
    assert result.failure is not None
    assert result.failure.kind not in UNDECIDED, result.failure
    assert_failed_past_the_first_look(sweeps)
    assert not result.correct and result.geomean == 0
    assert all(c.throughput == 0 for c in result.configs)
    if result.failure.kind == "cuda_error":
        assert result.worker_restarted and worker.restarts == restarts + 1, result.failure
    assert_recovers(worker, target)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_hang_once_the_gate_runs_long_times_out_and_the_worker_recovers(
    worker: Worker,
) -> None:
    """The loop that never ends, in a launch beside the best: the worker goes silent and is
    killed after the silence limit. The evaluation ends as a failure, never as a result, and
    the worker's successor evaluates the next kernel. (A GPU hang is ``timeout`` today: the
    kernel runs in the worker's own context; ``hang`` if it gets a process of its own.)"""
    target = seeded(TARGET)
    result, sweeps = failed_gate(worker, target, "hang", timeout_s=HANG_TIMEOUT_S)
    assert result.failure is not None and result.failure.kind in ("timeout", "hang"), (
        result.failure)
    assert_failed_past_the_first_look(sweeps)
    assert not result.correct and result.geomean == 0
    assert result.worker_restarted
    assert_recovers(worker, target)
