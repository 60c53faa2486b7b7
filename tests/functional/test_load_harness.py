"""scripts/test-under-load (issue 83): its flake census, on a tiny suite of its own whose tests
fail by construction (always, on every other run, never), and its busy processes, gone once it
ends, whether it finished or was interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "scripts" / "test-under-load"
SUITE = """
from pathlib import Path

RUNS = Path(__file__).parent / "runs"


def test_always_fails():
    assert False


def test_fails_on_every_other_run():
    RUNS.write_text(RUNS.read_text() + "x" if RUNS.exists() else "x")
    assert len(RUNS.read_text()) % 2 == 0


def test_passes():
    pass
"""
# It waits asleep: a third busy core beside the harness's two would only slow the suite's other
# tests, and the harness is interrupted while a test runs either way.
WAITS_FOR_A_SIGNAL = """
import time
from pathlib import Path


def test_waits():
    (Path(__file__).parent / "started").touch()
    while True:
        time.sleep(0.1)
"""


def suite(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "test_fake.py").write_text(text)
    return folder


def harness(*args: str) -> list[str]:
    return [sys.executable, str(HARNESS), "--python", sys.executable, *args,
            "-p", "no:cacheprovider", "-p", "no:randomly"]


def as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


def signal_handling(pid: int) -> str:
    """The process's ignored, blocked, caught and pending signal masks, as /proc shows them."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return " ".join(line.replace("\t", "") for line in status
                    if line.startswith(("SigIgn", "SigBlk", "SigCgt", "SigPnd", "ShdPnd")))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child not yet waited for is a zombie, which no longer runs.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def spinner_pids(output: str) -> list[int]:
    found = re.search(r"^busy: ([\d ]+)$", output, re.MULTILINE)
    assert found is not None, output
    return [int(pid) for pid in found[1].split()]


def test_the_census_counts_the_runs_each_test_failed_in(tmp_path: Path) -> None:
    folder = suite(tmp_path / "fake", SUITE)
    done = subprocess.run(harness("--busy", "1", "--runs", "3", "--logs", str(tmp_path / "logs"),
                                  str(folder)),
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "flake census: 2 test(s) failed in 3 run(s)" in out, out
    assert re.search(r"^  3/3  \S*test_fake\.py::test_always_fails$", out, re.MULTILINE), out
    # Runs 1 and 3 of the counter fail, run 2 passes.
    assert re.search(r"^  2/3  \S*test_fake\.py::test_fails_on_every_other_run$", out,
                     re.MULTILINE), out
    assert "test_passes" not in out.split("flake census")[1], out
    runs = re.findall(r"^run (\d): (.*) in \d+ s \(exit (\d)\)$", out.split("flake census")[1],
                      re.MULTILINE)
    assert runs == [("1", "2 failed, 1 passed", "1"), ("2", "1 failed, 2 passed", "1"),
                    ("3", "2 failed, 1 passed", "1")], out
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        "run-1.log", "run-2.log", "run-3.log"]
    assert not any(alive(pid) for pid in spinner_pids(out)), out


def test_an_interrupted_harness_ends_its_busy_processes(tmp_path: Path) -> None:
    """Ctrl-C in the middle of a run: the census of no finished run, and no spinner left."""
    folder = suite(tmp_path / "fake", WAITS_FOR_A_SIGNAL)
    started = folder / "started"
    # As from a terminal: SIGINT handled by default and not blocked, whatever this worker
    # process was left with by the tests before it (a child inherits an ignored or blocked
    # signal; twice in a full suite the harness never answered the Ctrl-C in 120 s).
    proc = subprocess.Popen(harness("--busy", "2", "--runs", "1", str(folder)), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=as_from_a_terminal)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # the command
        busy = proc.stdout.readline()
        pids = spinner_pids(busy)
        assert len(pids) == 2 and all(alive(pid) for pid in pids), busy
        # The fake test has begun once it made its file; the deadline only bounds a hang.
        for _ in range(600):
            if started.exists():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert started.exists()
        # Ctrl-C to the harness alone: in a terminal the spinners would get it too, and would
        # end by themselves, which tests nothing of the harness.
        handling = signal_handling(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the harness did not end in 120 s after SIGINT; before it: {handling}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    assert not any(alive(pid) for pid in pids), out
