"""``avo run --ray`` (pool/ray.py): evaluations in Ray actors, each holding a warm
worker; an actor lost with its evaluation is replaced and the request asked again, and the run
loses no step. A local Ray of two CPUs stands in for a cluster (started once for the module;
skipped where Ray is not installed); the CPU target's actors take one CPU and no GPU."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_run_cli import wait_until

from avo_tui.cli import main
from avo_tui.engine import Evaluator
from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import Worker, get_target
from avo_tui.pool import WorkerPool
from avo_tui.store import RunState, Session

CPU = get_target("cpu-attention")
AVO = [sys.executable, "-m", "avo_tui.cli"]
RAY_START_S = 300  # a busy two-core machine starts Ray, an actor and its worker slowly
HANG = "        for (volatile int spin = 1; spin; ) {}\n"


def run_python(code: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_importing_avo_does_not_import_ray() -> None:
    out = run_python("import sys, avo_tui, avo_tui.cli, avo_tui.engine, avo_tui.commands.run; "
                     "print('ray' in sys.modules)")
    assert out.stdout.strip() == "False", out.stderr


def test_avo_run_ray_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None  # as if Ray were not installed\n"
            "from avo_tui.cli import main\n"
            f"sys.exit(main(['--sessions-dir', {str(tmp_path)!r}, 'run', '--session', 'r', "
            "'--target', 'cpu-attention', '--headless', '--operator', 'tuner', "
            "'--ray', 'auto']))")
    out = run_python(code)
    assert out.returncode == 1, out.stderr
    assert out.stderr == ("avo: error: --ray needs Ray, which is not installed: "
                          "pip install 'avo-tui[ray]'\n")
    assert not (tmp_path / "r").exists()


def test_a_ray_address_that_does_not_answer_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["--sessions-dir", str(tmp_path), "run", "--session", "r", "--target",
                 "cpu-attention", "--headless", "--operator", "tuner", "--ray",
                 f"127.0.0.1:{port}"])
    assert code == 1
    assert capsys.readouterr().err == (f"avo: error: cannot join the Ray cluster at "
                                       f"127.0.0.1:{port}: connection refused\n")
    assert not (tmp_path / "r").exists()


def test_avo_run_ray_auto_without_a_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    """In a process of its own, with a Ray folder of its own, and Ray's scan of this
    machine's processes for a cluster emptied: another test's cluster (the module's, below,
    or one in another pytest worker) would be the one found."""
    pytest.importorskip("ray")
    code = ("import sys\nimport ray._private.services as services\n"
            "import functools\nservices.find_gcs_addresses = functools.cache(lambda: [])\n"
            "from avo_tui.cli import main\n"
            f"sys.exit(main(['--sessions-dir', {str(tmp_path)!r}, 'run', '--session', 'r', "
            "'--target', 'cpu-attention', '--headless', '--operator', 'tuner', "
            "'--ray', 'auto']))")
    out = run_python(code, env={"RAY_ADDRESS": "", "RAY_TMPDIR": str(tmp_path / "ray")})
    assert out.returncode == 1, out.stderr
    assert out.stderr == ("avo: error: cannot join the Ray cluster at auto: no Ray cluster runs "
                          "on this machine (start one with `ray start --head`, or give --ray "
                          "the head node's HOST:PORT)\n")
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray of two CPUs for this module; its address."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             object_store_memory=100 * 2**20, namespace="avo", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture
def slot(cluster: str) -> Iterator[Any]:
    """One Ray slot for the CPU target, stopped after the test."""
    from avo_tui.pool.ray import RayWorker, actor_options

    worker = RayWorker("cpu", actor_options(CPU), "avo-test-slot")
    try:
        yield worker
    finally:
        worker.stop(kill=True)


def test_an_evaluation_in_a_ray_actor_is_like_a_local_one(slot: Any, worker: Worker) -> None:
    files = seed_files(CPU)
    remote = Evaluator(CPU, WorkerPool([slot]), quick=True).evaluate(files)
    local = Evaluator(CPU, worker, quick=True).evaluate(files)
    assert remote.correct and local.correct, (remote.summary(), local.summary())
    assert remote.unit == local.unit and remote.target == local.target
    assert [c.name for c in remote.timed] == [c.name for c in local.timed]
    assert remote.artifact_sha256 == local.artifact_sha256  # the same compiled kernel
    assert remote.ratio is not None and remote.host["device"] == "cpu"
    assert set(remote.timed[0].baseline_timings) == set(local.timed[0].baseline_timings)


def test_an_actor_lost_between_evaluations_is_replaced_and_the_request_asked_again(
    slot: Any,
) -> None:
    import ray

    evaluator = Evaluator(CPU, WorkerPool([slot]), quick=True)
    files = seed_files(CPU)
    assert evaluator.evaluate(files).correct
    ray.kill(slot._actor, no_restart=True)  # as a node lost while the actor idled
    progress: list[tuple[str, str]] = []
    result = evaluator.evaluate(files, on_progress=lambda *p: progress.append(p))
    assert result.correct, result.summary()
    assert len(result.notes) == 1 and result.notes[0].startswith("a try was lost (its Ray "
                                                                 "actor was lost while starting")
    assert progress[0][0] == "retrying"
    assert slot._started == 2  # a second actor answered


def test_an_actor_lost_mid_evaluation_is_replaced_and_can_be_cut_short(slot: Any) -> None:
    """The first actor dies while it evaluates (its kernel never ends, so nothing else can
    have ended the evaluation); the request goes to a new actor, which the operator then
    cuts short: ``interrupted``, no failure of the kernel."""
    import ray

    files = seed_files(CPU)
    name = next(iter(files))
    hanging = {name: files[name].replace("        attend_block(q + qo,",
                                         HANG + "        attend_block(q + qo,", 1)}
    assert hanging != files
    evaluator = Evaluator(CPU, WorkerPool([slot]), quick=True, timeout_s=RAY_START_S)
    phases: list[str] = []

    def on_progress(phase: str, detail: str) -> None:
        phases.append(phase)
        if phase == "check" and phases.count("retrying") == 0 and slot._started == 1:
            ray.kill(slot._actor, no_restart=True)  # the first actor, mid-evaluation
        elif phase == "check" and slot._started == 2:
            evaluator.interrupt("cut short by the test")

    result = evaluator.evaluate(hanging, on_progress=on_progress)
    assert result.failure is not None and result.failure.kind == "interrupted", result.summary()
    assert result.failure.message.startswith("cut short by the test while check")
    assert phases.count("retrying") == 1 and slot._started == 2


# -- a whole run ---------------------------------------------------------------------------


def state_of(path: Path) -> dict[str, Any]:
    if not (path / "session.json").exists():
        return {}
    with Session.open(path, writable=False) as session:
        return session.state


def actors_of(session: str) -> list[str]:
    """The named Ray actors a run of ``session`` holds."""
    import ray

    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["name"].startswith(f"avo-{session}-")]


def retried(path: Path) -> bool:
    if not (path / "session.json").exists():
        return False
    with Session.open(path, writable=False) as session:
        attempts = [session.attempt(f"a{n}") for n in range(1, session.attempt_count + 1)]
        return any("a try was lost" in a.detail for a in attempts)


def test_a_run_on_ray_loses_no_step_when_its_actor_dies(cluster: str, tmp_path: Path) -> None:
    import ray

    sessions = tmp_path / "sessions"
    path = sessions / "onray"
    proc = subprocess.Popen(
        [*AVO, "--sessions-dir", str(sessions), "run", "--target", "cpu-attention", "--session",
         "onray", "--headless", "--quick", "--operator", "tuner", "--max-steps", "40",
         "--rng-seed", "5", "--ray", cluster, "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(lambda: bool(RunState.from_doc(state_of(path)).in_flight), proc, RAY_START_S * 2)
        actors = actors_of("onray")
        assert len(actors) == 1, actors
        ray.kill(ray.get_actor(actors[0], namespace="avo"), no_restart=True)
        wait_until(lambda: retried(path), proc, RAY_START_S * 2)
        assert main(["--sessions-dir", str(sessions), "send", "onray", "stop"]) == 0
        out, _ = proc.communicate(timeout=RAY_START_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    with Session.open(path, writable=False) as session:
        state = session.run_state
        attempts = [session.attempt(f"a{n}") for n in range(1, session.attempt_count + 1)]
        assert state.status == "stopped" and state.in_flight is None, out
        assert state.lane(1).failed_steps == 0 and state.step >= 1
        assert not [a for a in attempts if a.outcome in ("interrupted", "crash", "internal")]
        assert sum("a try was lost" in a.detail for a in attempts) == 1
    assert actors_of("onray") == []  # the run stopped its actors
