"""Two runners alive at once cannot reach each other, nothing outlives a runner, and whatever
goes wrong in a runner is its own kernel's failure (issue 52).

Each kernel here is the honest attention of naive.h plus one trick an attacker who has read
the harness would try, evaluated through the real worker the way the commit gate measures it:
timed launch beside launch with the honest kernel as the best version. The tricks that reach
for the other runner, or keep a count across launches, spoil their own output when a try gets
through (tests/adversarial/kernels/reach.h): an evaluation that passes shows each try was
refused. The walls themselves, one by one with the rest left standing, are test_sandbox.py's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target
from avo_tui.evaluation.devices.cpu import KernelFailed, KernelHung, KernelInterfered, RunnerKernel
from avo_tui.evaluation.isolation.landlock import landlock_abi
from avo_tui.evaluation.measurement.tensors import empty_outputs, make_inputs
from avo_tui.evaluation.paired import GatePlan
from avo_tui.evaluation.pipeline import Evaluation, Pipeline

KERNELS = Path(__file__).parent / "kernels"
TARGET = "cpu-attention"
GATE_CAP_S = 4.0  # the gate's blocks are what these kernels wait for; a few sweeps do
HANG_TIMEOUT_S = 4.0
GAINS_NOTHING = 1.5  # each trick's kernel does the honest work: its gain, if any, is noise

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the runner is Linux's")


def sources(name: str, defines: str = "") -> dict[str, str]:
    return {
        name: defines + (KERNELS / name).read_text(),
        "naive.h": (KERNELS / "naive.h").read_text(),
        "reach.h": (KERNELS / "reach.h").read_text(),
    }


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker() as w:
        yield w


def beside_the_best(worker: Worker, name: str, defines: str = "",
                    timeout_s: float | None = None,
                    best: dict[str, str] | None = None) -> EvalResult:
    """``name`` as the commit gate measures it, ``best`` (the honest kernel unless given) as
    the best version."""
    request = EvalRequest(TARGET, sources(name, defines), quick=True, measure_baselines=False,
                          incumbent=best or sources("honest.c"),
                          gate=GatePlan(cap_s=GATE_CAP_S))
    return worker.evaluate(request, timeout_s=timeout_s)


def assert_reached_nothing(result: EvalResult) -> None:
    assert result.failure is None, result.failure
    assert result.correct and all(c.passed for c in result.configs)


# -- reaching into the other runner -------------------------------------------------------------


def test_pinning_and_renicing_the_other_runner_is_refused(worker: Worker) -> None:
    # affinity, nice, SCHED_IDLE, I/O priority, and nice for every process of its user
    result = beside_the_best(worker, "pins_the_other_runner.c")
    assert_reached_nothing(result)
    assert result.incumbent_gain is not None and result.incumbent_gain < GAINS_NOTHING


def test_signalling_the_other_runner_is_refused_by_every_route(worker: Worker) -> None:
    # kill, and a pipe whose signal owner is the other runner (F_SETOWN, F_SETSIG, FIOSETOWN)
    result = beside_the_best(worker, "signals_the_other_runner.c")
    assert_reached_nothing(result)  # the best's runner was not signalled: it did not fail


@pytest.mark.skipif(landlock_abi() == 0, reason="walling /proc off needs Landlock")
def test_the_other_runner_cannot_be_watched_through_proc(worker: Worker) -> None:
    result = beside_the_best(worker, "reads_the_other_runner.c")
    assert_reached_nothing(result)


def test_two_versions_of_one_lineage_cannot_signal_each_other_through_locks(worker: Worker
                                                                          ) -> None:
    # both runners of the decision try every kind of lock on one file, and look for the other's
    older = sources("signals_by_lock.c")
    result = beside_the_best(worker, "signals_by_lock.c", "#define VERSION 2\n", best=older)
    assert_reached_nothing(result)  # neither spoiled its output: every lock call was refused
    assert not result.same_as_incumbent and result.incumbent_gain is not None


CHANNELS = {1: "System V shared memory", 2: "a System V semaphore",
            3: "a System V message queue", 4: "a POSIX message queue", 5: "the user keyring",
            6: "its stderr read back", 7: "a file in /dev/shm", 8: "a file in /tmp",
            9: "the page cache"}


@pytest.mark.parametrize("channel", sorted(CHANNELS), ids=list(CHANNELS.values()))
def test_a_count_kept_by_one_launch_is_invisible_to_the_next(worker: Worker, channel: int
                                                             ) -> None:
    # Every launch reads the count its earlier launches left and adds one: a count found
    # spoils the output. Runners are renewed within an evaluation, so a channel that outlived
    # one would show here, as it would from one evaluation to the next.
    request = EvalRequest(TARGET, sources("keeps_a_count.c", f"#define CHANNEL {channel}\n"),
                          quick=True, measure_baselines=False)
    for _ in range(2):
        assert_reached_nothing(worker.evaluate(request))


# -- failing on purpose ----------------------------------------------------------------------


def test_a_crash_when_losing_is_the_candidates_rejection(worker: Worker) -> None:
    result = beside_the_best(worker, "fails_when_losing.c", "#define FAILURE 1\n")
    assert result.failure is not None and result.failure.kind == "crash", result.failure
    assert result.failure.phase == "beside the best"
    assert "SIGABRT" in result.failure.message and not result.worker_restarted


def test_a_hang_when_losing_is_the_candidates_rejection(worker: Worker) -> None:
    restarts = worker.restarts
    result = beside_the_best(worker, "fails_when_losing.c", "#define FAILURE 2\n",
                             timeout_s=HANG_TIMEOUT_S)
    assert result.failure is not None and result.failure.kind == "hang", result.failure
    assert result.failure.phase == "beside the best"
    assert not result.worker_restarted and worker.restarts == restarts


def test_killing_the_best_when_losing_is_refused(worker: Worker) -> None:
    result = beside_the_best(worker, "fails_when_losing.c", "#define FAILURE 3\n")
    assert_reached_nothing(result)  # no incumbent_failed: the best's runner lived on
    assert result.incumbent_gain is not None and result.incumbent_gain < 1  # it loses, as it is


LAST_WORDS = r"""
#include <stdio.h>
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    fprintf(stderr, "last words\n");
    fflush(stderr);
    *(volatile int *)0 = 1;
}
"""


def test_what_a_runner_prints_comes_back_through_its_own_pipe(worker: Worker) -> None:
    request = EvalRequest(TARGET, {"last_words.c": LAST_WORDS,
                                   "naive.h": (KERNELS / "naive.h").read_text()},
                          quick=True, measure_baselines=False)
    result = worker.evaluate(request)
    assert result.failure is not None and result.failure.kind == "crash", result.failure
    assert "SIGSEGV" in result.failure.message and "last words" in result.failure.message
    assert "last words" not in worker.log_tail()  # never the worker's log, which it could read


# -- a runner changed from outside while it is frozen -------------------------------------------


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[RunnerKernel, int]]:
    """The honest kernel in a runner of its own, staged on the first timed configuration."""
    from avo_tui.evaluation.toolchains.c import FLAGS

    build = tmp_path / "build"
    build.mkdir()
    for name, text in sources("honest.c").items():
        (build / name).write_text(text)
    library = build / "kernel.so"
    subprocess.run(["cc", *FLAGS, "-o", str(library), str(build / "honest.c"), "-lm"],
                   check=True, capture_output=True)
    target = get_target(TARGET)
    config = target.grid(True)[0]
    kernel = RunnerKernel(library.read_bytes(), target.entry, target.problem)
    inputs = make_inputs(config, torch.Generator().manual_seed(0), "cpu")
    kernel.stage(config, inputs, empty_outputs(config, "cpu"))
    kernel.fire()
    try:
        yield kernel, kernel._proc.pid  # type: ignore[union-attr]
    finally:
        kernel.close()


def test_a_runner_reniced_while_frozen_is_interference(runner: tuple[RunnerKernel, int]
                                                       ) -> None:
    kernel, pid = runner
    os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + 5)
    with pytest.raises(KernelInterfered, match="nice value changed"):
        kernel.fire()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two CPUs")
def test_a_runner_pinned_while_frozen_is_interference(runner: tuple[RunnerKernel, int]) -> None:
    kernel, pid = runner
    os.sched_setaffinity(pid, {min(os.sched_getaffinity(pid))})
    with pytest.raises(KernelInterfered, match="CPU affinity changed"):
        kernel.fire()


def test_a_runner_woken_while_frozen_is_interference(runner: tuple[RunnerKernel, int]) -> None:
    kernel, pid = runner
    os.kill(pid, signal.SIGCONT)  # what the O_ASYNC route could send
    with pytest.raises(KernelInterfered, match=r"woken|ran while"):
        kernel.fire()


def test_an_untouched_runner_is_timed_again_and_again(runner: tuple[RunnerKernel, int]) -> None:
    kernel, _ = runner
    assert all(kernel.fire() > 0 for _ in range(5))


# -- whose failure it is ------------------------------------------------------------------------


def test_each_runner_failure_is_blamed_on_its_own_side() -> None:
    evaluation = Evaluation(Pipeline("cpu"), EvalRequest(TARGET, {}), lambda *_: None)
    candidate, best = object(), object()
    evaluation.incumbent = best  # type: ignore[assignment]
    evaluation.phase, evaluation.at = "beside the best", "b1"

    def kind(failed: KernelFailed) -> str:
        failure = evaluation.blame(failed)
        assert failure.phase == "beside the best" and failure.config == "b1"
        return failure.kind

    assert kind(KernelFailed("died", candidate)) == "crash"
    assert kind(KernelHung("hung", candidate)) == "hang"
    assert kind(KernelFailed("died", best)) == "incumbent_failed"
    assert kind(KernelHung("hung", best)) == "incumbent_failed"
    # changed while frozen: by whoever ran meanwhile, the other kernel
    assert kind(KernelInterfered("pinned", best)) == "interference"
    assert kind(KernelInterfered("pinned", candidate)) == "incumbent_failed"
    evaluation.incumbent = None
    assert kind(KernelInterfered("pinned", candidate)) == "interference"


def test_a_runner_killed_while_frozen_is_interference(runner: tuple[RunnerKernel, int]) -> None:
    kernel, pid = runner
    os.kill(pid, signal.SIGKILL)  # what the O_ASYNC route delivered before issue 52
    # found dead, or still on its way out (SIGKILL wakes a stopped process to end it)
    with pytest.raises(KernelInterfered, match=r"died with SIGKILL|woken|ran while"):
        kernel.fire()
