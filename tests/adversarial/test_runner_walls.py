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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target
from avo_tui.evaluation.devices.cpu import (
    KernelCrashed,
    KernelFailed,
    KernelHung,
    KernelInterfered,
    RunnerKernel,
)
from avo_tui.evaluation.devices.frozen import dying
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


def test_what_the_machine_shares_is_out_of_reach(worker: Worker) -> None:
    # namespaces, watches on files, Linux AIO, sync, a session of its own, sysinfo
    result = beside_the_best(worker, "reaches_the_machine.c")
    assert_reached_nothing(result)


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


# -- memory ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("way", [1, 2], ids=["a memfd filled with fallocate", "memfd_secret"])
def test_memory_no_process_is_charged_for_is_refused(worker: Worker, way: int) -> None:
    request = EvalRequest(TARGET, sources("takes_memory.c", f"#define MEMORY {way}\n"),
                          quick=True, measure_baselines=False)
    assert_reached_nothing(worker.evaluate(request))


def test_a_kernel_past_its_memory_limit_is_told_why_it_died(worker: Worker) -> None:
    request = EvalRequest(TARGET, sources("takes_memory.c", "#define MEMORY 3\n"),
                          quick=True, measure_baselines=False)
    result = worker.evaluate(request)
    assert result.failure is not None and result.failure.kind == "crash", result.failure
    assert "SIGSEGV" in result.failure.message
    assert "GiB of address space (RLIMIT_AS): past that an allocation fails" in (
        result.failure.message)
    assert not result.worker_restarted  # the runner died, the worker lived on


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


TIMERS = {1: "timer_create SIGKILL", 2: "timer_create SIGKILL to a thread",
          3: "setitimer SIGALRM", 4: "alarm", 5: "timer_create SIGCONT"}


@pytest.mark.parametrize("timer", sorted(TIMERS), ids=list(TIMERS.values()))
def test_a_timer_of_its_own_cannot_end_or_wake_a_frozen_candidate(worker: Worker, timer: int
                                                                   ) -> None:
    # Armed at the end of a launch beside the best, a timer fired while the candidate was
    # frozen and the best ran: its death, or its waking, read as the best's doing (issue 69).
    result = beside_the_best(worker, "dies_while_frozen.c", f"#define TIMER {timer}\n")
    assert_reached_nothing(result)  # each timer refused: it stayed the honest kernel


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


# -- a runner changed from outside, or dead, while it is frozen ------------------------------------


def honest_runner(build: Path) -> RunnerKernel:
    """The honest kernel, built in ``build``, in a runner of its own, staged on the first timed
    configuration and launched once (so frozen)."""
    from avo_tui.evaluation.toolchains.c import FLAGS

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
    return kernel


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[RunnerKernel, int]]:
    kernel = honest_runner(tmp_path / "build")
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
    # a death while frozen: its own, whichever side died
    assert kind(KernelCrashed("died while it was frozen", candidate)) == "crash"
    assert kind(KernelCrashed("died while it was frozen", best)) == "incumbent_failed"
    assert kind(KernelHung("hung", best)) == "incumbent_failed"
    # changed while frozen: by whoever ran meanwhile, the other kernel
    assert kind(KernelInterfered("pinned", best)) == "interference"
    assert kind(KernelInterfered("pinned", candidate)) == "incumbent_failed"
    evaluation.incumbent = None
    assert kind(KernelInterfered("pinned", candidate)) == "interference"


def test_a_runner_killed_while_frozen_died_by_its_own_hand(runner: tuple[RunnerKernel, int]
                                                            ) -> None:
    kernel, pid = runner
    os.kill(pid, signal.SIGKILL)  # standing in for a timer of its own (walled: issue 69)
    # still on its way out (SIGKILL wakes a stopped process's threads to end them), most likely
    # at once: its threads' change is no interference
    with pytest.raises(KernelCrashed, match="died with SIGKILL while it was frozen"):
        kernel.fire()


def test_a_runner_found_dead_after_its_freeze_died_by_its_own_hand(
    runner: tuple[RunnerKernel, int]
) -> None:
    kernel, pid = runner
    os.kill(pid, signal.SIGKILL)
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        time.sleep(0.01)  # until it has ended, left for the kernel to reap
    with pytest.raises(KernelCrashed, match="died with SIGKILL while it was frozen"):
        kernel.fire()


def test_a_candidate_that_dies_while_frozen_beside_the_best_is_rejected(tmp_path: Path) -> None:
    # The red team's attack (issue 69): a timer of its own, armed at the end of a launch, ended
    # the candidate while only the best version's runner ran, and the gate read it as the
    # best's doing (incumbent_failed: a second look). Timers are walled now; its death, here
    # dealt from outside while the best is what runs, is the candidate's own.
    evaluation = Evaluation(Pipeline("cpu"), EvalRequest(TARGET, {}), lambda *_: None)
    candidate, best = honest_runner(tmp_path / "candidate"), honest_runner(tmp_path / "best")
    evaluation.incumbent = best
    evaluation.phase, evaluation.at = "beside the best", "b1"
    try:
        os.kill(candidate._proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        best.fire()
        with pytest.raises(KernelCrashed) as died:
            candidate.fire()
        failure = evaluation.blame(died.value)
        assert failure.kind == "crash", failure
        assert "while it was frozen" in failure.message
        best.fire()  # the best lives on, untouched
    finally:
        candidate.close()
        best.close()


PTHREAD_EXIT = r"""
#include <pthread.h>
#include <unistd.h>
static void *wait(void *unused) { (void)unused; sleep(60); return 0; }
int main(void) {
    pthread_t thread;
    pthread_create(&thread, 0, wait, 0);
    pthread_exit(0); /* the main thread ends; the process lives on in the other */
}
"""


def test_a_thread_that_ended_is_no_death_of_its_process(tmp_path: Path) -> None:
    # What a death while frozen is told by (dying): a process whose main thread ended, a
    # zombie beside a live thread, is not on its way out, and no wait for it may begin.
    (tmp_path / "main.c").write_text(PTHREAD_EXIT)
    subprocess.run(["cc", "-pthread", "-o", str(tmp_path / "main"), str(tmp_path / "main.c")],
                   check=True, capture_output=True)
    proc = subprocess.Popen([str(tmp_path / "main")])
    try:
        deadline = time.monotonic() + 30  # a bound, not a sleep the test depends on
        while "Z" not in Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1][:3]:
            assert time.monotonic() < deadline, "the main thread did not end"
            time.sleep(0.01)
        assert not dying(proc.pid)
        proc.kill()
        assert dying(proc.pid) or proc.poll() is not None
    finally:
        proc.kill()
        proc.wait()
