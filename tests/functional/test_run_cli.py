"""``avo run --headless`` and ``avo send`` as a user drives them: real processes, real
signals, a real session on disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from avo_tui.cli import main
from avo_tui.store import RunState, Session

AVO = [sys.executable, "-m", "avo_tui.cli"]


def avo(sessions: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*AVO, "--sessions-dir", str(sessions), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(
    predicate: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"avo exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out")
        time.sleep(0.05)


STOPPING = "stopping after the current evaluation"  # what the first Ctrl-C prints


def read_until(proc: subprocess.Popen[str], text: str) -> str:
    """What ``proc`` printed up to the first line holding ``text`` (all of it, should it exit
    first); the rest is left to read."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            break
    return "".join(lines)


def reader(path: Path) -> Callable[[], dict[str, Any]]:
    """The run state as another process sees it (a read-only open never takes the lock)."""

    def state() -> dict[str, Any]:
        if not (path / "session.json").exists():
            return {}
        with Session.open(path, writable=False) as s:
            return s.state

    return state


def evaluating(state: Callable[[], dict[str, Any]], min_step: int = 0) -> Callable[[], bool]:
    return lambda: bool(RunState.from_doc(state()).in_flight) and state().get("step", 0) >= min_step


def freeze_while(
    predicate: Callable[[], bool], proc: subprocess.Popen[str], pid: int | None = None
) -> None:
    """Stop ``proc``, or its child ``pid`` (SIGSTOP), at a moment ``predicate`` holds. A state
    seen before the stop may be gone by the time it lands, so it is checked again with the
    process frozen: what the test reads next is then what it held when it stopped."""
    frozen = proc.pid if pid is None else pid
    while True:
        wait_until(predicate, proc)
        os.kill(frozen, signal.SIGSTOP)
        if predicate():
            return
        os.kill(frozen, signal.SIGCONT)


def evaluation_worker(proc: subprocess.Popen[str]) -> int:
    """The pid of the evaluation worker a run of ``avo`` has started (its one such child)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    [worker] = [int(pid) for pid in children if b"avo_tui.evaluation.isolation.worker"
                in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return worker


def test_kill_9_mid_evaluation_then_resume_loses_nothing(
    capped_template: Path, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions"
    path = sessions / "crashy"
    shutil.copytree(capped_template, path)  # a seeded session (engine_fixtures)
    proc = avo(sessions, "run", "--session", "crashy", "--headless", "--max-steps", "40",
               "--rng-seed", "3")
    state = reader(path)
    freeze_while(evaluating(state, min_step=3), proc)  # else the evaluation may end first
    with Session.open(path, writable=False) as s:
        versions_before = [v.to_doc() for v in s.lineage]
        attempts_before = s.attempt_count
        in_flight = s.run_state.in_flight
        assert in_flight is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    steps_before = state()["step"]

    resumed = avo(sessions, "run", "--session", "crashy", "--headless", "--max-steps", "2")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resuming 'crashy'" in out
    with Session.open(path, writable=False) as s:
        versions = [v.to_doc() for v in s.lineage]
        assert versions[: len(versions_before)] == versions_before  # no committed version lost
        ids = [v["id"] for v in versions]
        assert ids == [f"v{n}" for n in range(len(ids))]  # none duplicated or skipped
        attempts = [s.attempt(f"a{n}") for n in range(1, s.attempt_count + 1)]
        interrupted = [a for a in attempts if a.outcome == "interrupted"]
        assert len(interrupted) == 1
        marked = interrupted[0]
        assert marked.number == attempts_before + 1 and marked.files == in_flight.files
        assert marked.base == in_flight.base and "crash or kill" in marked.detail
        assert s.state["step"] == steps_before + 2  # --max-steps counts this run's steps
        assert s.run_state.in_flight is None
        assert s.state["status"] == "finished"


def test_ctrl_c_stops_at_a_safe_point_and_twice_stops_at_once(
    capped_template: Path, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions"
    path = sessions / "sigint"
    shutil.copytree(capped_template, path)  # a seeded session (engine_fixtures)
    state = reader(path)
    proc = avo(sessions, "run", "--session", "sigint", "--headless", "--max-steps", "40")
    wait_until(evaluating(state, min_step=1), proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert STOPPING in out and "run ended: Ctrl-C" in out
    assert state()["status"] == "stopped" and RunState.from_doc(state()).in_flight is None

    proc = avo(sessions, "run", "--session", "sigint", "--headless")
    in_flight = evaluating(state, min_step=state()["step"])
    wait_until(in_flight, proc)
    worker = evaluation_worker(proc)
    # The run handles both Ctrl-Cs while its evaluation, frozen, cannot end between them.
    freeze_while(in_flight, proc, worker)
    try:
        proc.send_signal(signal.SIGINT)
        first = read_until(proc, STOPPING)  # the first Ctrl-C was handled: now the second
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
    out = first + out
    assert STOPPING in first and proc.returncode == 130, out
    assert "recorded as interrupted" in out
    with Session.open(path, writable=False) as s:
        last = s.recent_attempts(1)[0]
        assert last.outcome == "interrupted" and "Ctrl-C" in last.detail
        assert s.state["status"] == "interrupted" and s.run_state.in_flight is None


def test_a_failing_seed_creates_no_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = tmp_path / "bad.c"
    seed.write_text("void avo_attention_fwd(void) { oops; }\n")
    sessions = tmp_path / "sessions"
    code = main(["--sessions-dir", str(sessions), "run", "--target", "cpu-attention",
                 "--session", "s", "--headless", "--seed", str(seed), "--quick"])
    assert code == 1
    assert "the seed kernel fails on cpu-attention: compile" in capsys.readouterr().err
    assert not (sessions / "s").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--session", "nope", "--headless"], "no session 'nope' yet: give --target"),
        (["run", "--session", "x", "--target", "mha-typo", "--headless"],
         "unknown target 'mha-typo'"),
        (["run", "--session", "x", "--target", "cpu-attention", "--from", "ghost", "--headless"],
         "no session named 'ghost'"),
        (["send", "nope", "pause"], "nope"),
    ],
)
def test_bad_run_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["--sessions-dir", str(tmp_path), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_send_delivers_commands_to_the_inbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import make_session

    make_session(tmp_path / "demo").close()
    base = ["--sessions-dir", str(tmp_path), "send", "demo"]
    assert main([*base, "hint", "try", "BLOCK_Q=64"]) == 0
    assert "queued hint 'try BLOCK_Q=64' for 'demo': no run is live" in capsys.readouterr().out
    assert main([*base, "rollback"]) == 1
    assert "rollback needs one version" in capsys.readouterr().err
    files = sorted((tmp_path / "demo" / "inbox").glob("*.json"))
    assert len(files) == 1 and '"try BLOCK_Q=64"' in files[0].read_text()
