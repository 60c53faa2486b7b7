"""The pool of evaluation workers (pool/): each worker leased to one evaluation at
a time, evaluations from several threads side by side, workers pinned to their GPU, ``avo run
--gpus`` and ``--workers`` checked and kept by the session. No GPU is needed: GPU facts are
given by stand-in workers, and a pinned worker's environment is read at its spawn."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from avo_tui.cli import main
from avo_tui.commands.run import prepare_run, run_args
from avo_tui.engine import Evaluator, RunSettings
from avo_tui.engine.evaluator import MAX_LOST, host_key
from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import EvalRequest, EvalResult, Worker, get_target
from avo_tui.evaluation.paired import GatePlan
from avo_tui.pool import (
    GpuSpecError,
    WorkerLost,
    WorkerPool,
    local_pool,
    parse_gpus,
    resolve_gpus,
)
from avo_tui.store import Score, Session

CPU = get_target("cpu-attention")
MHA = get_target("mha")
GUARD_S = 120  # only a broken pool waits this long: the test then fails instead of hanging
FILES = {"attention.c": "// a candidate\n"}


def h200(index: int, uuid: str) -> dict[str, object]:
    return {"device": "cuda", "gpu": "NVIDIA H200", "gpu_index": index,
            "uuid": f"GPU-{uuid}", "driver": "580.1", "torch": "2.9"}


class StandIn:
    """A worker that answers at once with its own host facts, recording each request; an
    evaluation waits for ``gate`` (when given) while it counts as in flight."""

    def __init__(self, info: dict[str, object], gate: Callable[[StandIn], None] | None = None,
                 lose: int = 0) -> None:
        self.info = dict(info)
        self.gate = gate
        self.lose = lose  # the first ``lose`` evaluations are lost with the worker
        self.requests: list[EvalRequest] = []
        self.active = 0
        self.most_at_once = 0
        self.interrupted: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        pass

    def stop(self, kill: bool = False) -> None:
        pass

    def wait_ready(self) -> dict[str, object]:
        return dict(self.info)

    def interrupt(self, reason: str) -> bool:
        self.interrupted.append(reason)
        return True

    def check_target(self, ref: str) -> None:
        pass

    def evaluate(self, request: EvalRequest, timeout_s: float | None = None,
                 on_progress: Callable[[str, str], None] | None = None) -> EvalResult:
        with self._lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
            self.requests.append(request)
        try:
            if self.gate is not None:
                self.gate(self)
            if self.lose:
                self.lose -= 1
                raise WorkerLost("its Ray actor was lost while timing: ActorDiedError")
            return EvalResult(target=CPU.name, toolchain=CPU.toolchain, device="cpu",
                              unit=CPU.unit, seed=1, quick=True, host=dict(self.info))
        finally:
            with self._lock:
                self.active -= 1


def in_threads(count: int, call: Callable[[], EvalResult]
               ) -> tuple[list[threading.Thread], list[EvalResult], threading.Condition]:
    """``count`` threads making ``call``; the condition is notified as each result comes."""
    results: list[EvalResult] = []
    done = threading.Condition()

    def run() -> None:
        result = call()
        with done:
            results.append(result)
            done.notify_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results, done


def test_concurrent_evaluations_each_lease_a_worker_of_their_own() -> None:
    """Three callers, two workers: two evaluations run at once, one on each worker; the third
    gets the worker that is let go first, never the one still busy."""
    in_flight = threading.Condition()
    running: list[StandIn] = []
    release: dict[int, threading.Event] = {}

    def hold(worker: StandIn) -> None:
        with in_flight:
            running.append(worker)
            in_flight.notify_all()
        assert release[id(worker)].wait(GUARD_S)
        with in_flight:
            running.remove(worker)

    first, second = workers = [StandIn(h200(n, f"{n}" * 8), hold) for n in range(2)]
    release.update({id(w): threading.Event() for w in workers})
    evaluator = Evaluator(MHA, WorkerPool(workers))
    threads, results, done = in_threads(3, lambda: evaluator.evaluate(FILES))
    with in_flight:
        assert in_flight.wait_for(lambda: len(running) == 2, GUARD_S)
        assert {id(w) for w in running} == {id(first), id(second)}
    release[id(first)].set()
    with done:  # the first worker's evaluation, then the third caller's on that worker
        assert done.wait_for(lambda: len(results) == 2, GUARD_S)
    assert (len(first.requests), len(second.requests)) == (2, 1) and second.active == 1
    release[id(second)].set()
    for thread in threads:
        thread.join(GUARD_S)
    assert len(results) == 3 and evaluator.count == 3
    assert [w.most_at_once for w in workers] == [1, 1]
    assert sorted(str(r.host["uuid"]) for r in results) == ["GPU-00000000"] * 2 + ["GPU-11111111"]


def test_an_evaluator_of_one_worker_is_as_before() -> None:
    """Given one worker (every caller before pools), it is the evaluator's ``worker``, callers
    queue on it, and results carry no word on which GPU."""
    worker = StandIn(h200(0, "a" * 8))
    evaluator = Evaluator(MHA, worker)
    assert evaluator.worker is worker and evaluator.workers == [worker]
    threads, results, _ = in_threads(4, lambda: evaluator.evaluate(FILES))
    for thread in threads:
        thread.join(GUARD_S)
    assert len(results) == 4 and worker.most_at_once == 1
    assert all(not r.notes for r in results)  # one GPU: nothing to say about which


def test_several_cpu_workers_evaluate_side_by_side() -> None:
    """Real CPU workers: two evaluations in flight at once, each in its own worker process."""
    both = threading.Barrier(2, timeout=GUARD_S)
    pids: list[int] = []

    class Recording(Worker):
        def evaluate(self, *args: Any, **kwargs: Any) -> EvalResult:
            both.wait()  # both leased at once, or this breaks and the test fails
            result = super().evaluate(*args, **kwargs)
            assert self._proc is not None
            pids.append(self._proc.pid)
            return result

    with WorkerPool([Recording("cpu"), Recording("cpu")]) as pool:
        evaluator = Evaluator(CPU, pool, quick=True)
        threads, results, _ = in_threads(2, lambda: evaluator.evaluate(seed_files(CPU)))
        for thread in threads:
            thread.join(GUARD_S * 2)
    assert len(results) == 2 and all(r.correct for r in results), [r.summary() for r in results]
    assert len(set(pids)) == 2
    assert len(evaluator.baselines) == 1  # one host: the baselines of both are one set


def test_interrupt_cuts_every_worker_of_the_pool() -> None:
    workers = [StandIn(h200(n, "c" * 8)) for n in range(3)]
    evaluator = Evaluator(MHA, WorkerPool(workers))
    assert evaluator.interrupt("cut by the operator")
    assert [w.interrupted for w in workers] == [["cut by the operator"]] * 3


def test_a_result_says_which_gpu_when_there_are_several() -> None:
    pool = WorkerPool([StandIn(h200(3, "8e5c1a2b-77")), StandIn(h200(5, "ffff"))])
    result = Evaluator(MHA, pool).evaluate(FILES)
    assert result.host["uuid"] == "GPU-8e5c1a2b-77" and result.host["gpu_index"] == 3
    assert result.notes == ["on GPU 3 (NVIDIA H200, GPU-8e5c1a2b)"]


def test_baselines_are_kept_per_gpu_and_old_host_facts_do_not_match() -> None:
    """The uuid is a host fact, so each GPU reuses only its own baselines; a session stored
    before the uuid was recorded has them measured again; where a GPU is listed does not
    matter."""
    timing = {"t": {"median_s": 1e-3, "spread_pct": 1.0, "reps": 10, "min_s": 1e-3}}
    info = h200(0, "aaaa")
    old = {k: v for k, v in info.items() if k not in ("uuid", "gpu_index")}
    moved = h200(4, "aaaa")  # the same GPU, listed at another place
    other = h200(0, "bbbb")
    stored = {host_key(old): {"cfg-old": timing}, host_key(info): {"cfg": timing}}
    assert host_key(moved) == host_key(info) != host_key(other)

    for facts, expected in ((info, {"cfg"}), (moved, {"cfg"}), (other, set()),
                            (old, {"cfg-old"})):
        worker = StandIn(facts)
        Evaluator(MHA, worker, baselines=stored).evaluate(FILES)
        assert set(worker.requests[0].known_baselines) == expected, facts


def test_a_try_lost_with_its_worker_is_asked_again() -> None:
    worker = StandIn(h200(0, "dddd"), lose=1)
    progress: list[tuple[str, str]] = []
    result = Evaluator(MHA, worker).evaluate(FILES, on_progress=lambda *p: progress.append(p))
    assert result.correct and len(worker.requests) == 2
    assert result.notes == ["a try was lost (its Ray actor was lost while timing: "
                            "ActorDiedError) and evaluated again"]
    assert progress[0][0] == "retrying"


def test_the_gates_pair_never_spans_two_gpus() -> None:
    """Eight lanes ask the gate at once on four GPUs, one GPU's first try lost (a Ray actor
    killed): every request reaches one worker whole, the candidate and the best it is timed
    beside together (two GPUs' clocks differ), and each result is that one GPU's; the lost
    pair is asked again whole, on one GPU, once."""
    workers = [StandIn(h200(n, f"{n}" * 8), lose=int(n == 2)) for n in range(4)]
    evaluator = Evaluator(MHA, WorkerPool(workers))
    best = {"attention.c": "// the best\n"}
    plan = GatePlan(cap_s=10.0)
    threads, results, _ = in_threads(8, lambda: evaluator.evaluate(FILES, incumbent=best,
                                                                   gate=plan))
    for thread in threads:
        thread.join(GUARD_S)
    assert len(results) == 8 and all(r.correct for r in results)
    requests = [(w, r) for w in workers for r in w.requests]
    assert len(requests) == 9  # eight pairs, one of them asked again after its loss
    assert all(r.sources == FILES and r.incumbent == best and r.gate == plan
               for _, r in requests)
    served = Counter(str(r.host["uuid"]) for r in results)
    assert sum(served.values()) == 8 and all(w.most_at_once == 1 for w in workers)
    lost = [r for r in results if any(n.startswith("a try was lost") for n in r.notes)]
    assert len(lost) == 1 and lost[0].host["uuid"] != "GPU-22222222"
    for result in results:  # the GPU the result names is the one that served it, whole
        assert f"GPU-{str(result.host['gpu_index']) * 8}" == result.host["uuid"]


def test_a_request_lost_every_time_is_interrupted_not_failed() -> None:
    worker = StandIn(h200(0, "eeee"), lose=MAX_LOST)
    result = Evaluator(MHA, worker).evaluate(FILES)
    assert result.failure is not None and result.failure.kind == "interrupted"
    assert "every try was lost" in result.failure.message
    assert len(worker.requests) == MAX_LOST


# -- pinning and --gpus ------------------------------------------------------------------------


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, str]]]:
    """The environment of every worker process spawned meanwhile."""
    seen: list[dict[str, str]] = []
    real = subprocess.Popen

    def recording(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        if "avo_tui.evaluation.isolation.worker" in args[0]:
            seen.append(dict(kwargs["env"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording)
    yield seen


def test_a_pinned_worker_starts_with_its_gpu_only(
    spawned: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,2,3")
    with Worker("cpu", gpu=3) as pinned:
        assert pinned.wait_ready()["device"] == "cpu"  # the process it spawned is up
    with Worker("cpu"):
        pass
    assert spawned[0]["CUDA_VISIBLE_DEVICES"] == "3"
    assert spawned[1]["CUDA_VISIBLE_DEVICES"] == "1,2,3"  # unpinned: this process's, as before


def test_gpus_name_the_gpus_this_process_sees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    assert [w.gpu for w in local_pool(MHA, "all").workers] == ["4", "5", "6"]  # type: ignore[attr-defined]
    assert [w.gpu for w in local_pool(MHA, "0,2").workers] == ["4", "6"]  # type: ignore[attr-defined]
    assert [w.gpu for w in local_pool(MHA).workers] == [None]  # type: ignore[attr-defined]
    assert resolve_gpus("1", visible=["GPU-aa", "GPU-bb"]) == ["GPU-bb"]
    with pytest.raises(GpuSpecError, match=r"there is no GPU 3; this machine shows 3 \(0-2\)"):
        local_pool(MHA, "0,3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(GpuSpecError, match="no NVIDIA GPU is visible here"):
        local_pool(MHA, "all")


@pytest.mark.parametrize("text", ["", "0,", "x", "0;1", "-1", "1.5", "0,0", "all,1"])
def test_a_bad_gpus_value_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--gpus"):
        parse_gpus(text)


def test_gpus_parse_to_one_form() -> None:
    assert parse_gpus(" all ") == "all"
    assert parse_gpus("3, 1,0") == "3,1,0"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--target", "mha", "--gpus", "0,x"],
         "argument --gpus: --gpus takes 'all' or GPU numbers such as 0,1,3, not '0,x'"),
        (["--target", "cpu-attention", "--gpus", "0"],
         "--gpus applies to GPU targets; cpu-attention runs on the CPU"),
        (["--target", "mha", "--gpus", "2"], "--gpus 2: there is no GPU 2; this machine shows 2"),
        (["--target", "mha", "--gpus", "0", "--ray", "auto"], "give --workers N"),
        (["--target", "mha", "--workers", "2"], "--workers applies to the CPU target and to --ray"),
    ],
)
def test_avo_run_refuses_a_placement_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    flags: list[str], message: str,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    sessions = tmp_path / "sessions"
    code: str | int | None = None
    try:
        code = main(["--sessions-dir", str(sessions), "run", "--session", "s", "--headless",
                     "--operator", "tuner", *flags])
    except SystemExit as exit:  # argparse's own error: usage, then one line
        code = exit.code
    err = capsys.readouterr().err
    assert code in (1, 2) and message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert not (sessions / "s").exists()


# -- kept by the session -----------------------------------------------------------------------


def opened(root: Path, name: str, **flags: object) -> list[Any]:
    """The workers ``avo run --session NAME`` would evaluate on (none is started)."""
    prepared = prepare_run(run_args(name, sessions_dir=root, **flags),
                           Console(file=None, quiet=True))
    prepared.session.close()
    return prepared.pool.workers


def stored_session(root: Path, name: str, target: str, **settings: Any) -> None:
    Session.create(root / name, target=target, operator="tuner",
                   seed_files={"kernel": "// seed\n"}, score=Score(1.0),
                   settings=RunSettings(quick=True, **settings).to_doc()).close()


def test_a_resume_keeps_the_gpus_unless_given_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7,8,9")
    stored_session(tmp_path, "g", "mha", gpus="0,1")
    assert [w.gpu for w in opened(tmp_path, "g")] == ["7", "8"]
    assert [w.gpu for w in opened(tmp_path, "g", gpus="all")] == ["7", "8", "9"]
    assert [w.gpu for w in opened(tmp_path, "g")] == ["7", "8", "9"]  # kept for later runs
    with Session.open(tmp_path / "g", writable=False) as session:
        assert session.state["gpus"] == "all"


def test_a_resume_keeps_the_cpu_workers_unless_given_again(tmp_path: Path) -> None:
    stored_session(tmp_path, "c", "cpu-attention", workers=2)
    assert len(opened(tmp_path, "c")) == 2
    assert len(opened(tmp_path, "c", workers=1)) == 1  # at most one per core: CI has 2
    assert len(opened(tmp_path, "c")) == 1
    stored_session(tmp_path, "plain", "cpu-attention")  # a session from before pools
    assert len(opened(tmp_path, "plain")) == 1


# -- orphans -----------------------------------------------------------------------------------


def gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status


HANGING_PARENT = """
import sys, threading
from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import EvalRequest, Worker, get_target
files = seed_files(get_target("cpu-attention"))
name = next(iter(files))
call = "        attend_block(q + qo,"
files[name] = files[name].replace(call, "        for (volatile int s = 1; s; ) {}\\n" + call, 1)
checking = threading.Event()
worker = Worker("cpu")
threading.Thread(target=lambda: worker.evaluate(
    EvalRequest("cpu-attention", files, quick=True), timeout_s=600,
    on_progress=lambda phase, _: phase == "check" and checking.set()), daemon=True).start()
checking.wait()
print(worker._proc.pid, flush=True)
threading.Event().wait()
"""


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_a_worker_whose_parent_dies_mid_evaluation_ends_with_its_kernel() -> None:
    """A worker outliving its parent (a Ray actor killed) would go on timing its kernel beside
    the next worker's on the same GPU; here its kernel never ends. Both end instead."""
    parent = subprocess.Popen([sys.executable, "-c", HANGING_PARENT], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        doomed = [pid, *children(pid)]  # the worker and the process running its kernel
        assert len(doomed) >= 2 and not any(gone(p) for p in doomed)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + GUARD_S
    while not all(gone(p) for p in doomed):
        assert time.monotonic() < deadline, f"{doomed} outlived their parent"
        time.sleep(0.1)
