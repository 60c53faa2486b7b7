"""Kernels that break or cheat: each is rejected for the right reason, and the worker recovers.

One warm worker serves the whole module, as in a run. After every rejected kernel an honest one
is evaluated on the same worker and must pass, so a failure can never poison what follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from avo_tui.evaluation import EvalRequest, EvalResult, Worker

KERNELS = Path(__file__).parent / "kernels"
TARGET = "cpu-attention"
HANG_TIMEOUT_S = 4.0


def sources(name: str) -> dict[str, str]:
    return {
        name: (KERNELS / name).read_text(),
        "naive.h": (KERNELS / "naive.h").read_text(),
    }


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker() as w:
        yield w


def evaluate(worker: Worker, name: str, timeout_s: float | None = None) -> EvalResult:
    request = EvalRequest(TARGET, sources(name), quick=True, measure_baselines=False)
    return worker.evaluate(request, timeout_s=timeout_s)


def assert_recovers(worker: Worker) -> None:
    result = evaluate(worker, "honest.c")
    assert result.correct, result.failure
    assert result.geomean > 0


def test_honest_kernel_passes(worker: Worker) -> None:
    result = evaluate(worker, "honest.c")
    assert result.correct, result.failure
    assert all(c.passed for c in result.configs)
    assert not any(c.edge for c in result.timed)


def test_compile_error_reports_its_line(worker: Worker) -> None:
    text = (KERNELS / "compile_error.c").read_text()
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "EXPECT-ERROR" in row)
    result = evaluate(worker, "compile_error.c")
    assert result.failure is not None and result.failure.kind == "compile"
    assert result.compile is not None and not result.compile.ok
    errors = result.compile.errors
    assert errors and errors[0].file == "compile_error.c"
    # gcc reports a missing ';' on the line after the statement that lacks it
    assert errors[0].line in (line, line + 1)
    assert f"compile_error.c:{errors[0].line}" in result.failure.message
    assert_recovers(worker)


@pytest.mark.parametrize(
    ("kernel", "kind", "reason"),
    [
        ("segfault.c", "crash", "SIGSEGV"),
        ("infinite_loop.c", "timeout", "killed and restarted"),
    ],
)
def test_a_dying_kernel_costs_the_worker_not_the_run(
    worker: Worker, kernel: str, kind: str, reason: str
) -> None:
    restarts = worker.restarts
    result = evaluate(worker, kernel, timeout_s=HANG_TIMEOUT_S)
    assert result.failure is not None and result.failure.kind == kind, result.failure
    assert reason in result.failure.message
    assert result.worker_restarted and worker.restarts == restarts + 1
    assert result.geomean == 0
    assert_recovers(worker)


@pytest.mark.parametrize(
    ("kernel", "kind", "edge_only"),
    [
        ("nan_output.c", "nonfinite", False),
        ("partial_write.c", "nonfinite", False),
        ("no_causal_mask.c", "incorrect", False),
        ("multiple_of_64.c", "incorrect", True),
        ("modifies_inputs.c", "inputs_modified", False),
        ("cached_output.c", "stale_output", False),
        ("slower_after_first.c", "unstable_timing", False),
        ("skips_when_timed.c", "stale_output", False),
    ],
)
def test_wrong_or_cheating_kernel_is_rejected(
    worker: Worker, kernel: str, kind: str, edge_only: bool
) -> None:
    result = evaluate(worker, kernel)
    assert result.failure is not None, f"{kernel} was accepted"
    assert result.failure.kind == kind, result.failure
    assert result.geomean == 0 and all(c.throughput == 0 for c in result.configs)
    failed = next(c for c in result.configs if c.name == result.failure.config)
    assert failed.edge == edge_only
    if kind == "incorrect":
        assert failed.passed is False and failed.rel_l2_err > 1e-4
    if kernel == "no_causal_mask.c":
        assert failed.config.causal
    assert not result.worker_restarted
    assert_recovers(worker)
