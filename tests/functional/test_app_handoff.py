"""A run outlives every screen (issue 53): the README's `avo run` shows the app and runs the
search in its own process; when the terminal goes away (SIGHUP: a dropped SSH connection, a
closed tmux), the run stops at its next safe point and goes on in a process of its own, as
`avo run --headless` resumes it, which `avo attach` and `avo send` then find.

The real `avo` runs the real app in a pseudo-terminal on the CPU target with the tuner; the
test hangs the terminal up as the kernel would and watches the session's lock and journal.
Every wait is for a condition, with a bound only as a backstop.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

BOUND_S = 240.0  # a backstop: a step on a loaded 2-core machine takes seconds to a minute


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {BOUND_S:.0f} s"
        time.sleep(0.2)


def lock_pid(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "lock").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def log_lines(folder: Path) -> list[str]:
    """The session's output.log: every event, as each process of the run wrote it."""
    try:
        return (folder / "output.log").read_text().splitlines()
    except OSError:
        return []


@pytest.mark.skipif(sys.platform != "linux", reason="a pseudo-terminal and SIGHUP: Linux's")
def test_a_hang_up_hands_the_run_to_a_process_of_its_own(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    env = {**os.environ, "AVO_SESSIONS_DIR": str(sessions), "TERM": "xterm-256color",
           "ANTHROPIC_API_KEY": ""}
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    app = subprocess.Popen(
        [sys.executable, "-m", "avo_tui", "run", "--session", "hup", "--target",
         "cpu-attention", "--quick", "--rng-seed", "7"],
        stdin=follower, stdout=follower, stderr=follower, env=env, start_new_session=True)
    os.close(follower)
    successor: int | None = None
    try:
        folder = sessions / "hup"

        def running_a_step() -> bool:
            with contextlib.suppress(OSError):  # the app draws into the pty: read it away,
                os.read(leader, 1 << 16)  # or it blocks on a full one
            return lock_pid(folder) == app.pid and any("step 1 done" in line
                                                       for line in log_lines(folder))

        fcntl.fcntl(leader, fcntl.F_SETFL, os.O_NONBLOCK)
        wait_for("step in the app's process", running_a_step)
        os.kill(app.pid, signal.SIGHUP)
        os.close(leader)  # the terminal is gone
        assert app.wait(timeout=BOUND_S) == 0

        wait_for("process of its own holding the session",
                 lambda: (pid := lock_pid(folder)) not in (None, app.pid) and alive(pid))
        successor = lock_pid(folder)
        assert successor is not None
        lines = log_lines(folder)
        assert any("stopped: handed to a process of its own (the terminal went away)" in line
                   for line in lines), lines[-5:]
        wait_for("step done by the process of its own",
                 lambda: any("step 2 done" in line for line in log_lines(folder)))

        stop = subprocess.run([sys.executable, "-m", "avo_tui", "send", "hup", "stop"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0 and f"pid {successor}" in stop.stdout, stop.stdout
        wait_for("stop of the process of its own", lambda: not alive(successor))
    finally:
        for pid in (app.pid, successor):
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)
        app.wait()
