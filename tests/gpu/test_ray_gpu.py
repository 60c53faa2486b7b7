"""``avo run --ray`` on a GPU node (issue 73): a Ray cluster holding every GPU of this machine,
one lane per GPU on mha. The run starts one actor per GPU, its evaluations run on every GPU
(each lane's in-flight candidate names the GPU its actor holds), an actor killed mid-run is
replaced and its evaluation asked again once, and the run stops with no step lost and no actor
left. Marked ``gpu``; skipped without two CUDA GPUs or without Ray."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ray_pool import actors_of, retried, state_of
from test_run_cli import wait_until

from avo_tui.cli import main
from avo_tui.store import RunState, Session

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.device_count() < 2,
                       reason="needs two CUDA GPUs"),
]

AVO = [sys.executable, "-m", "avo_tui.cli"]
START_S = 600  # Ray, an actor per GPU and each one's warm worker; mha's first compiles


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray holding every GPU of this machine; its address."""
    ray = pytest.importorskip("ray")
    gpus = torch.cuda.device_count()
    ray.init(address="local", num_cpus=gpus + 2, num_gpus=gpus, include_dashboard=False,
             namespace="avo", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def gpus_in_flight(path: Path) -> set[str]:
    lanes = RunState.from_doc(state_of(path)).lanes
    return {lane.in_flight.gpu for lane in lanes.values()
            if lane.in_flight is not None and lane.in_flight.gpu is not None}


def test_a_lane_per_gpu_on_ray_uses_every_gpu_and_survives_a_killed_actor(
        cluster: str, tmp_path: Path) -> None:
    import ray

    gpus = int(torch.cuda.device_count())
    sessions = tmp_path / "sessions"
    path = sessions / "gpuray"
    proc = subprocess.Popen(
        [*AVO, "--sessions-dir", str(sessions), "run", "--target", "mha", "--session",
         "gpuray", "--headless", "--quick", "--operator", "tuner", "--lanes", str(gpus),
         "--max-steps", "200", "--rng-seed", "5", "--ray", cluster],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen: set[str] = set()
    try:
        def every_gpu_seen() -> bool:
            seen.update(gpus_in_flight(path))
            return len(seen) == gpus

        wait_until(every_gpu_seen, proc, START_S)
        actors = actors_of("gpuray")
        assert len(actors) == gpus, actors  # one per GPU, placed by Ray
        wait_until(lambda: bool(gpus_in_flight(path)), proc, START_S)
        ray.kill(ray.get_actor(actors[0], namespace="avo"), no_restart=True)
        wait_until(lambda: retried(path), proc, START_S)
        assert main(["--sessions-dir", str(sessions), "send", "gpuray", "stop"]) == 0
        out, _ = proc.communicate(timeout=START_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert seen == {str(n) for n in range(gpus)}
    with Session.open(path, writable=False) as session:
        state = session.run_state
        attempts = [session.attempt(f"a{n}") for n in range(1, session.attempt_count + 1)]
        assert state.status == "stopped" and state.in_flight is None, out
        assert sum(lane.failed_steps for lane in state.lanes.values()) == 0, out
        assert not [a.id for a in attempts if a.outcome in ("crash", "internal")], out
        assert sum("a try was lost" in a.detail for a in attempts) == 1
    assert actors_of("gpuray") == []  # the run stopped its actors
