"""A frozen runner as the worker reads it from /proc: each thread's state, nice value,
policy, real-time priority, CPU affinity and CPU time (thread_states), read as the runner
stops and again before it is woken; what changed in between (interference); and whether it is
on its way out (dying). A frozen runner cannot change itself, so a change is another
process's doing; its death is its own (cpu.py's docstring says why), and its threads change
as they exit, which dying tells from a change.
"""

from __future__ import annotations

import os
import signal
from typing import NamedTuple

IDLE_CPU_LIMIT_S = 0.002  # CPU an idle runner may use in the probe (signal handling, wake-ups)
PF_EXITING = 0x4  # a task's flag (linux/sched.h): it is exiting
SIGKILL_PENDING = 1 << (signal.SIGKILL - 1)  # its bit in /proc's pending-signal masks


class ThreadState(NamedTuple):
    """What a frozen runner's thread cannot change about itself (cpu_s aside, which a stopped
    thread does not accrue)."""

    state: str
    nice: int
    policy: int
    rt_priority: int
    affinity: frozenset[int]
    cpu_s: float


def thread_states(pid: int) -> dict[int, ThreadState]:
    """Each thread of ``pid``: its state letter, nice value, scheduling policy and real-time
    priority (/proc/<pid>/task/<tid>/stat), CPU affinity, and CPU time. Read twice around
    every launch of a C kernel, so plain os calls rather than pathlib (a third of the cost)."""
    states = {}
    task = f"/proc/{pid}/task"
    try:
        tids = [int(name) for name in os.listdir(task)]
    except OSError:
        return {}
    for tid in tids:
        try:
            fields = _read(f"{task}/{tid}/stat").rsplit(b")", 1)[1].split()
            affinity = frozenset(os.sched_getaffinity(tid))
        except (OSError, IndexError):
            continue  # the thread ended
        try:  # the scheduler's nanosecond count where the kernel keeps one, else clock ticks
            cpu_s = int(_read(f"{task}/{tid}/schedstat").split()[0]) * 1e-9
        except (OSError, IndexError, ValueError):
            cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        # fields[0] is stat's third field: nice is its 19th, rt_priority 40th, policy 41st
        states[tid] = ThreadState(fields[0].decode(), int(fields[16]), int(fields[38]),
                                  int(fields[37]), affinity, cpu_s)
    return states


def dying(pid: int) -> bool:
    """Whether every thread of ``pid`` is on its way out: exiting or a zombie, or with SIGKILL
    pending, as a fatal signal or exit_group leaves each. A runner killed while frozen wakes its
    threads to exit them, which reads as a change (interference) until it has ended; a thread
    that merely ended (pthread_exit) leaves the others as they were."""
    task = f"/proc/{pid}/task"
    try:
        tids = os.listdir(task)
    except OSError:
        return False
    found = [leaving for leaving in (_leaving(f"{task}/{tid}") for tid in tids)
             if leaving is not None]
    return bool(found) and all(found)


def _leaving(thread: str) -> bool | None:
    """Whether the thread at /proc path ``thread`` is exiting (PF_EXITING), a zombie or has
    SIGKILL pending (its own or its process's); None once it is gone."""
    try:
        fields = _read(f"{thread}/stat").rsplit(b")", 1)[1].split()
        status = _read(f"{thread}/status")
    except (OSError, IndexError):
        return None
    # fields[0] is stat's third field, the state; fields[6] its ninth, the task's flags
    if fields[0] in (b"Z", b"X") or int(fields[6]) & PF_EXITING:
        return True
    pending = 0
    for line in status.splitlines():
        if line.startswith((b"SigPnd:", b"ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return bool(pending & SIGKILL_PENDING)


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def interference(before: dict[int, ThreadState], now: dict[int, ThreadState]) -> str | None:
    """What changed in a frozen runner between ``before`` (as it stopped) and ``now``, in
    words; None when nothing did. CPU time may grow by IDLE_CPU_LIMIT_S: the last thread to
    stop is still on its way off the CPU when the stop is reported."""
    if set(before) != set(now):
        return f"its threads changed while it was stopped ({len(before)} then {len(now)})"
    for tid, was in before.items():
        is_ = now[tid]
        if is_.state not in "Tt":
            return f"thread {tid} was woken while it was stopped (state {is_.state})"
        if is_.cpu_s - was.cpu_s > IDLE_CPU_LIMIT_S:
            return (f"thread {tid} ran while it was stopped "
                    f"({1e3 * (is_.cpu_s - was.cpu_s):.1f} ms of CPU)")
        for name in ("affinity", "nice", "policy", "rt_priority"):
            old, new = getattr(was, name), getattr(is_, name)
            if old != new:
                what = {"affinity": "CPU affinity", "nice": "nice value",
                        "policy": "scheduling policy", "rt_priority": "real-time priority"}[name]
                return (f"thread {tid}'s {what} changed from {_shown(old)} to {_shown(new)} "
                        "while it was stopped")
    return None


def _shown(value: object) -> str:
    if isinstance(value, frozenset):
        return "{" + ",".join(map(str, sorted(value))) + "}"
    return str(value)
