"""The walls between two runners (issue 52), one at a time, the others left standing.

As in test_sandbox.py, each test runs a fresh Python that confines itself and then tries a real
escape, here aimed at another process: a target the test starts, standing in for the other
runner of a gate decision. Every refusal is tried again with its wall left out, where the same
escape must work, so the refusal is known to come from that wall. The filter's walls are tried
in a child that stays root (install_seccomp alone): root may renice and signal anyone, so only
the filter can refuse it. Landlock and the runner's own uid are tried with confine().
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_sandbox
from test_sandbox import child, needs_filter, run, sandbox

from avo_tui.evaluation.isolation.landlock import landlock_abi

CHILD_TIMEOUT_S = 60
public_dir = test_sandbox.public_dir  # the fixture: a directory a runner that was root may read


@pytest.fixture
def target() -> Iterator[int]:
    """A process to aim at: a sleeping Python of the test's own."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def ended_by(pid: int, timeout_s: float = 10.0) -> int | None:
    """The signal that ended the test's child ``pid``, waiting up to ``timeout_s`` for it (a
    bound, not a sleep the test depends on); None if it is still alive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        time.sleep(0.02)
    return None


# -- the filter ---------------------------------------------------------------------------------

SCHEDULING = """
pid = ARGS["target"]
out["affinity"] = attempt(lambda: os.sched_setaffinity(pid, os.sched_getaffinity(0)))
out["its affinity"] = attempt(lambda: os.sched_getaffinity(pid))  # ENOSYS: glibc reads none
out["nice"] = attempt(lambda: os.setpriority(os.PRIO_PROCESS, pid, 19))
# every process of a user: one with none, so that no test ever renices a real one
out["user's nice"] = attempt(lambda: os.setpriority(os.PRIO_USER, 1_999_999_999, 19))
out["policy"] = attempt(lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0)))
out["io priority"] = syscall("ioprio_set", 1, pid, 3 << 13)  # the idle class
out["limits"] = attempt(lambda: __import__("resource").prlimit(pid, 4, (1 << 20, 1 << 20)))
out["own affinity"] = attempt(lambda: os.sched_setaffinity(0, os.sched_getaffinity(0)))
out["own nice"] = attempt(lambda: os.setpriority(os.PRIO_PROCESS, 0, 1))
"""
AT_OTHERS = ("affinity", "nice", "policy", "io priority", "limits")


@needs_filter
def test_another_process_cannot_be_pinned_reniced_or_limited(target: int) -> None:
    found = run(SCHEDULING, target=target)
    assert {found[name] for name in (*AT_OTHERS, "user's nice")} == {"EPERM"}, found
    assert found["own affinity"] == found["own nice"] == "ok"
    assert found["its affinity"] == "ENOSYS"
    found = run(SCHEDULING, target=target, without=("scheduling",))
    assert {found[name] for name in AT_OTHERS} == {"ok"}, found
    assert found["user's nice"] == "ESRCH"  # the kernel looked: nobody has that uid


SIGNAL_OWNER = """
import fcntl
read_end, write_end = os.pipe()
out["F_SETOWN"] = attempt(lambda: fcntl.fcntl(read_end, fcntl.F_SETOWN, ARGS["target"]))
out["F_SETSIG"] = attempt(lambda: fcntl.fcntl(read_end, sandbox.F_SETSIG, signal.SIGTERM))
fcntl.fcntl(write_end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
fcntl.fcntl(read_end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
os.write(write_end, b"x")  # the write is what delivers the owner's signal
"""


@needs_filter
def test_a_pipe_cannot_signal_another_process_through_its_owner(target: int) -> None:
    found = run(SIGNAL_OWNER, target=target)
    assert (found["F_SETOWN"], found["F_SETSIG"]) == ("EPERM", "EPERM")
    assert ended_by(target, timeout_s=1.0) is None
    found = run(SIGNAL_OWNER, target=target, without=("signals",))
    assert (found["F_SETOWN"], found["F_SETSIG"]) == ("ok", "ok")
    assert ended_by(target) == signal.SIGTERM  # the route works where the wall is left out


IPC = """
libc.shmget.restype = libc.semget.restype = libc.msgget.restype = ctypes.c_int
key = 0x41560000 + os.getpid() % 0xFFFF
made = {
    "shm": libc.shmget(key, 4096, 0o1600), "sem": libc.semget(key, 1, 0o1600),
    "msg": libc.msgget(key, 0o1600),
}
for name, made_id in made.items():
    out[name] = "ok" if made_id >= 0 else errno.errorcode[ctypes.get_errno()]
    if made_id >= 0:  # IPC_RMID: nothing this test makes outlives it
        {"shm": libc.shmctl, "sem": libc.semctl, "msg": libc.msgctl}[name](made_id, 0, 0)
queue = b"avo-sandbox-test-%d" % os.getpid()  # the system call takes it without glibc's "/"
out["mq"] = syscall("mq_open", ctypes.cast(queue, ctypes.c_void_p).value, os.O_CREAT | os.O_RDWR,
                    0o600, 0)
if out["mq"] == "ok":
    syscall("mq_unlink", ctypes.cast(queue, ctypes.c_void_p).value)
"""


@needs_filter
def test_ipc_objects_cannot_be_made() -> None:
    names = ("shm", "sem", "msg", "mq")
    assert {run(IPC)[name] for name in names} == {"EPERM"}
    found = run(IPC, without=("ipc",))
    assert {found[name] for name in names} == {"ok"}, found


KEYS = """
user_keyring = -4
description = b"avo-sandbox-test-%d" % os.getpid()
def add_key():
    number = sandbox.SYSCALLS[sandbox.architecture()]["add_key"]
    libc.syscall.restype = ctypes.c_long
    key = libc.syscall(ctypes.c_long(number), b"user", description, b"1", ctypes.c_size_t(1),
                       ctypes.c_long(user_keyring))
    if key < 0:
        raise OSError(ctypes.get_errno(), "add_key")
    syscall("keyctl", 3, key)  # KEYCTL_REVOKE: nothing this test makes outlives it
out["add_key"] = attempt(add_key)
out["keyctl"] = syscall("keyctl", 0, user_keyring, 0)  # KEYCTL_GET_KEYRING_ID
"""


@needs_filter
def test_keys_cannot_be_kept() -> None:
    found = run(KEYS)
    assert (found["add_key"], found["keyctl"]) == ("EPERM", "EPERM")
    found = run(KEYS, without=("keyrings",))
    if found["keyctl"] != "ok":
        pytest.skip(f"no keyrings for this process here ({found['keyctl']})")
    assert found["add_key"] == "ok"


LOCK_HOLDER = """
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0))
fcntl.flock(fd, fcntl.LOCK_SH)
print("held", flush=True)
time.sleep(120)
"""

LOCKS = """
import struct
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
LOCK_SH, LOCK_EX, LOCK_NB = 1, 2, 4
fd = os.open(ARGS["library"], os.O_RDONLY)  # confine() keeps the library's directory readable
libc.fcntl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]

def lock(command, kind):
    # the outcome of fcntl(fd, command, &flock); for the probes, who holds a lock
    # struct flock: l_type, l_whence, l_start, l_len (0: to the end), l_pid
    packed = struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 0, 0)
    flock = ctypes.create_string_buffer(packed, len(packed))
    if libc.fcntl(fd, command, flock) != 0:
        return errno.errorcode[ctypes.get_errno()]
    found, _, _, _, pid = struct.unpack("hhqqi4x", flock.raw)
    probe = command in (sandbox.F_GETLK, sandbox.F_OFD_GETLK)
    return f"held by {pid}" if probe and found != F_UNLCK else "ok"

def outcome(result):
    return "ok" if result == 0 else errno.errorcode[ctypes.get_errno()]

out["F_GETLK"] = lock(sandbox.F_GETLK, F_WRLCK)  # who holds what a writer would wait for
out["F_OFD_GETLK"] = lock(sandbox.F_OFD_GETLK, F_WRLCK)
out["flock(LOCK_EX)"] = outcome(libc.flock(fd, LOCK_EX | LOCK_NB))  # another holds it shared
out["F_SETLK"] = lock(sandbox.F_SETLK, F_RDLCK)
out["F_SETLKW"] = lock(sandbox.F_SETLKW, F_RDLCK)
out["F_OFD_SETLK"] = lock(sandbox.F_OFD_SETLK, F_RDLCK)
out["F_OFD_SETLKW"] = lock(sandbox.F_OFD_SETLKW, F_RDLCK)
out["flock(LOCK_SH)"] = outcome(libc.flock(fd, LOCK_SH | LOCK_NB))
out["F_SETLEASE"] = outcome(libc.fcntl(fd, sandbox.F_SETLEASE, F_RDLCK))
"""


@needs_filter
def test_a_lock_on_a_file_both_may_read_is_no_line_between_runners(public_dir: Path) -> None:
    # Two versions of one lineage, each telling the other "I am alive" through a lock; here the
    # other is a process of the test's own (another user than a runner that was root), holding
    # a record lock and a flock on a file the confined runner may read.
    shared = public_dir / "shared"
    shared.write_bytes(b"x" * 4096)
    shared.chmod(0o644)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(shared)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        found = run(LOCKS, confine="confine", library=str(shared))
        found.pop("confined")
        assert set(found.values()) == {"EPERM"}, found
        found = run(LOCKS, confine="confine", library=str(shared), without=("locks",))
        # the other process, named by its pid
        assert found["F_GETLK"] == found["F_OFD_GETLK"] == f"held by {holder.pid}", found
        assert found["flock(LOCK_EX)"] == "EAGAIN"
        taken = ("F_SETLK", "F_SETLKW", "F_OFD_SETLK", "F_OFD_SETLKW", "flock(LOCK_SH)")
        assert {found[name] for name in taken} == {"ok"}, found
        assert found["F_SETLEASE"] != "EPERM"  # the kernel's own answer: not the file's owner
    finally:
        holder.kill()
        holder.wait()


PAGE_CACHE = """
import mmap
fd = os.open(ARGS["file"], os.O_RDONLY)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]

def resident():
    # mincore on a mapping of the file's first page: whether the page cache holds it
    page = libc.mmap(None, mmap.PAGESIZE, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    vector = ctypes.create_string_buffer(1)
    done = syscall("mincore", page, mmap.PAGESIZE, ctypes.addressof(vector))
    libc.munmap(ctypes.c_void_p(page), ctypes.c_size_t(mmap.PAGESIZE))
    return vector.raw[0] & 1 if done == "ok" else done

os.pread(fd, 1, 0)  # the page is in the cache now
out["resident"] = [resident()]
out["fadvise64"] = attempt(lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED))
out["resident"].append(resident())  # evicted: a count one evaluation leaves the next
out["readahead"] = syscall("readahead", fd, 0, mmap.PAGESIZE)
span, counts = (ctypes.c_uint64 * 2)(0, mmap.PAGESIZE), (ctypes.c_uint64 * 5)()
out["cachestat"] = syscall("cachestat", fd, ctypes.addressof(span), ctypes.addressof(counts), 0)
"""


def on_tmpfs(path: Path) -> bool:
    """Whether ``path`` lies in memory (tmpfs), whose pages no advice evicts."""
    mounts = [line.split()[1:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    within = [(len(mount), kind) for mount, kind in mounts
              if str(path).startswith(mount.rstrip("/") + "/")]
    return max(within, default=(0, ""))[1] == "tmpfs"


@needs_filter
def test_the_page_cache_cannot_be_evicted_or_probed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.write_bytes(b"x" * 4096)
    with open(shared, "rb+") as written:  # clean pages: the advice evicts only those
        os.fsync(written.fileno())
    found = run(PAGE_CACHE, file=str(shared))
    assert found["resident"] == ["EPERM", "EPERM"]
    assert (found["fadvise64"], found["readahead"], found["cachestat"]) == ("EPERM",) * 3
    found = run(PAGE_CACHE, file=str(shared), without=("page cache",))
    assert (found["fadvise64"], found["readahead"]) == ("ok", "ok"), found
    assert found["cachestat"] in ("ok", "ENOSYS"), found  # Linux 6.5 brought cachestat
    if not on_tmpfs(shared):
        assert found["resident"] == [1, 0], found  # there, then gone: the counter works


TIMERS = """
timer = ctypes.c_int()
# a NULL sigevent: SIGALRM to the process, the kind a runner would arm with SIGKILL or SIGCONT
out["timer_create"] = syscall("timer_create", 1, 0, ctypes.addressof(timer))  # CLOCK_MONOTONIC
out["setitimer"] = attempt(lambda: signal.setitimer(signal.ITIMER_REAL, 30))
if sandbox.architecture() == "x86_64":
    out["alarm"] = syscall("alarm", 30)
if out["setitimer"] == "ok":  # no timer outlives the report
    signal.setitimer(signal.ITIMER_REAL, 0)
"""


@needs_filter
def test_a_runner_arms_no_timer_to_signal_itself_while_frozen() -> None:
    found = run(TIMERS)
    found.pop("confined")
    assert set(found.values()) == {"EPERM"}, found
    found = run(TIMERS, without=("timers",))
    found.pop("confined")
    assert set(found.values()) == {"ok"}, found


UNCHARGED_MEMORY = """
made = libc.syscall(ctypes.c_long(sandbox.SYSCALLS[sandbox.architecture()]["memfd_create"]),
                    b"hoard", ctypes.c_uint(0))
out["memfd_create"] = "ok" if made >= 0 else errno.errorcode[ctypes.get_errno()]
fd = made if made >= 0 else os.open(sys.executable, os.O_RDONLY)
out["fallocate"] = syscall("fallocate", fd, 0, 0, 1 << 20)  # a MiB no process maps
out["memfd_secret"] = syscall("memfd_secret", 0)
"""


@needs_filter
def test_memory_no_process_is_charged_for_cannot_be_made() -> None:
    found = run(UNCHARGED_MEMORY)
    assert (found["memfd_create"], found["fallocate"], found["memfd_secret"]) == ("EPERM",) * 3
    found = run(UNCHARGED_MEMORY, without=("memory",))
    assert (found["memfd_create"], found["fallocate"]) == ("ok", "ok"), found
    assert found["memfd_secret"] in ("ok", "ENOSYS")  # where the kernel enables secret memory


ADDRESS_SPACE = """
limits = (ctypes.c_uint64 * 2)()
libc.getrlimit(sandbox.RLIMIT_AS, limits)
out["limit"] = [limits[0], limits[1]]
out["oom_score_adj"] = open("/proc/self/oom_score_adj").read().strip()
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
PROT_NONE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE = 0, 0x02, 0x20, 0x4000
size = sandbox.address_space_limit(0) + (1 << 30)  # address space only: no memory is touched
reserved = libc.mmap(None, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
out["past the limit"] = "ok" if reserved not in (None, 2**64 - 1) else errno.errorcode[
    ctypes.get_errno()]
limits[0] = limits[1] = 2 * limits[1]
out["raised"] = "ok" if libc.setrlimit(sandbox.RLIMIT_AS, limits) == 0 else errno.errorcode[
    ctypes.get_errno()]
"""


@needs_filter
@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"), reason="mmap flags")
def test_a_runner_maps_no_more_than_its_limit_and_dies_first_when_memory_runs_out() -> None:
    found = run(ADDRESS_SPACE, confine="confine")
    limit = sandbox.address_space_limit(0)
    assert found["confined"]["memory"].startswith("at most"), found["confined"]
    assert found["limit"] == [limit, limit]
    assert found["past the limit"] == "ENOMEM"
    assert found["raised"] == "EPERM"  # its hard limit too, and no longer root to raise it
    assert found["oom_score_adj"] == "1000"
    found = run(ADDRESS_SPACE, confine="install_seccomp")  # the filter alone: no limit
    assert found["past the limit"] == "ok", found
    assert found["oom_score_adj"] != "1000"


WATCH = """
import select
libc.inotify_init1.argtypes = [ctypes.c_int]
libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
IN_OPEN, DN_CREATE = 0x20, 0x4
watcher = libc.inotify_init1(0)
out["inotify_init1"] = "ok" if watcher >= 0 else errno.errorcode[ctypes.get_errno()]
if watcher >= 0:
    libc.inotify_add_watch(watcher, ARGS["file"].encode(), IN_OPEN)
    print(json.dumps({"watching": True}), flush=True)  # the test opens the file from now on
    readable, _, _ = select.select([watcher], [], [], 30)
    out["saw another's open"] = bool(readable)
out["fanotify_init"] = syscall("fanotify_init", 0, 0)  # FAN_CLASS_NOTIF
directory = os.open(os.path.dirname(ARGS["file"]), os.O_RDONLY)
libc.fcntl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long]
out["F_NOTIFY"] = "ok" if libc.fcntl(directory, sandbox.F_NOTIFY, DN_CREATE) == 0 else (
    errno.errorcode[ctypes.get_errno()])
"""


def watched(shared: Path, **kwargs: Any) -> dict[str, Any]:
    """WATCH's report, ``shared`` opened by the test meanwhile, once the child watches it."""
    proc = subprocess.Popen(child(WATCH, file=str(shared), **kwargs), stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    found: dict[str, Any] = {}
    for line in proc.stdout:
        found.update(json.loads(line))
        if "watching" in json.loads(line):
            shared.read_text()  # another process's open: the watcher is told
    assert proc.wait(timeout=CHILD_TIMEOUT_S) == 0
    return found


@needs_filter
def test_another_process_opening_a_file_cannot_be_watched(public_dir: Path) -> None:
    # A runner opening a file nobody else reads says "I am alive" to one watching it.
    shared = public_dir / "shared"
    shared.write_text("x")
    found = watched(shared)
    assert (found["inotify_init1"], found["fanotify_init"], found["F_NOTIFY"]) == ("EPERM",) * 3
    found = watched(shared, without=("watching",))
    assert found["inotify_init1"] == "ok" and found["saw another's open"], found
    assert found["F_NOTIFY"] == "ok"
    assert found["fanotify_init"] in ("ok", "EPERM")  # EPERM: the kernel's, for want of root


NAMESPACES = """
CLONE_NEWIPC = 0x08000000
own = os.open("/proc/self/ns/ipc", os.O_RDONLY)
out["setns"] = syscall("setns", own, CLONE_NEWIPC)  # joining its own: the kernel allows it
out["unshare"] = syscall("unshare", CLONE_NEWIPC)  # fresh IPC objects, seen by nobody else
"""


@needs_filter
def test_no_namespace_can_be_made_or_joined() -> None:
    assert {value for name, value in run(NAMESPACES).items() if name != "confined"} == {"EPERM"}
    found = run(NAMESPACES, without=("namespaces",))
    if os.geteuid() == 0:  # CAP_SYS_ADMIN: the kernel itself allows both
        assert (found["setns"], found["unshare"]) == ("ok", "ok"), found


AIO = """
context = ctypes.c_ulong(0)
out["io_setup"] = syscall("io_setup", 1, ctypes.addressof(context))
if out["io_setup"] == "ok":
    syscall("io_destroy", context.value)
"""


@needs_filter
def test_no_linux_aio_context_can_be_made() -> None:
    assert run(AIO)["io_setup"] == "EPERM"
    assert run(AIO, without=("aio",))["io_setup"] == "ok"


MACHINE = """
info = ctypes.create_string_buffer(256)  # struct sysinfo: uptime, loads, memory, processes
out["sysinfo"] = syscall("sysinfo", ctypes.addressof(info))
out["setpgid"] = syscall("setpgid", 0, os.getpgid(0))  # the group it is in: changes nothing
fd = os.open(ARGS["dir"], os.O_RDONLY)
out["syncfs"] = syscall("syncfs", fd)
out["sync"] = syscall("sync")
out["setsid"] = syscall("setsid")  # last: a session of its own, out of the test's group
"""


@needs_filter
def test_the_machine_cannot_be_synced_asked_about_or_left_for_a_session(tmp_path: Path
                                                                         ) -> None:
    found = run(MACHINE, dir=str(tmp_path))
    found.pop("confined")
    assert set(found.values()) == {"EPERM"}, found
    found = run(MACHINE, dir=str(tmp_path), without=("system",))
    found.pop("confined")
    assert set(found.values()) == {"ok"}, found


@needs_filter
def test_another_process_cannot_be_watched_by_counters_or_compared() -> None:
    found = run(
        """
        out["perf_event_open"] = syscall("perf_event_open", 0, ARGS["parent"], -1, -1, 0)
        out["kcmp"] = syscall("kcmp", os.getpid(), ARGS["parent"], 0, 0, 0)
        """,
        parent=os.getpid(),
    )
    assert (found["perf_event_open"], found["kcmp"]) == ("EPERM", "EPERM")


# -- Landlock -----------------------------------------------------------------------------------

READS = """
def read(path):
    with open(path, "rb") as f:
        f.read(64)
out["other's stat"] = attempt(lambda: read(f"/proc/{ARGS['target']}/stat"))
out["other's schedstat"] = attempt(lambda: read(f"/proc/{ARGS['target']}/schedstat"))
out["process list"] = attempt(lambda: os.listdir("/proc"))
out["another library"] = attempt(lambda: read(ARGS["other"]))
out["own stat"] = attempt(lambda: read("/proc/self/stat"))
out["own library"] = attempt(lambda: read(ARGS["library"]))
out["system file"] = attempt(lambda: read("/etc/os-release"))  # any runner's slate
out["system library"] = attempt(lambda: read(ARGS["system library"]))  # what dlopen reads
"""


LOADED_FROM = """
import ctypes, ctypes.util, sys
found = ctypes.util.find_library(sys.argv[1])
if found is not None:
    ctypes.CDLL(found)
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if path.endswith("/" + found) or f"/lib{sys.argv[1]}.so" in path:
            print(path)
            break
    else:
        print("unmapped " + found)
"""


def loaded_from(name: str) -> str:
    """The file the dynamic linker loads for library ``name`` in a fresh Python, as in a
    runner. Not this process's: one that imported torch has torch's own libgomp loaded
    already, a file under the virtual environment that no runner maps."""
    found = subprocess.run([sys.executable, "-I", "-S", "-c", LOADED_FROM, name],
                           capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    if not found:
        pytest.skip(f"no lib{name} here")
    assert not found.startswith("unmapped"), found
    return found


@needs_filter
@pytest.mark.skipif(landlock_abi() == 0, reason="this kernel has no Landlock")
def test_another_runner_cannot_be_read_through_proc_or_its_library(
    target: int, public_dir: Path
) -> None:
    for name in ("mine", "theirs"):
        (public_dir / name).mkdir(mode=0o755)
        (public_dir / name / "kernel.so").write_bytes(b"\x7fELF")
        (public_dir / name / "kernel.so").chmod(0o644)
    paths = {"library": str(public_dir / "mine" / "kernel.so"),
             "other": str(public_dir / "theirs" / "kernel.so"),
             "system library": loaded_from("gomp")}  # what -fopenmp links a kernel to
    found = run(READS, confine="confine", target=target, **paths)
    assert found["confined"]["landlock"].startswith("installed"), found["confined"]
    walled = ("other's stat", "other's schedstat", "process list", "another library",
              "system file")
    assert {found[name] for name in walled} == {"EACCES"}, found
    assert found["own stat"] == found["own library"] == found["system library"] == "ok"
    found = run(READS, confine="install_seccomp", target=target, **paths)  # no Landlock
    assert {found[name] for name in walled} == {"ok"}, found


# -- a uid of its own -----------------------------------------------------------------------------

FROZEN_RUNNER = """
import sys, time
sys.argv = sys.argv[:2]
import importlib.util, json
args = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("avo_sandbox", args["sandbox"])
sandbox = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sandbox)
sandbox.confine(own_uid=args["own_uid"])
print("confined", flush=True)
time.sleep(120)
"""


@needs_filter
@pytest.mark.skipif(os.geteuid() != 0, reason="a runner takes a uid of its own only as root")
def test_two_runners_are_two_users_the_kernel_keeps_apart() -> None:
    # The filter left out, the kernel itself refuses one runner the other's scheduling and
    # signals, each being another user without CAP_SYS_NICE or CAP_KILL; both as nobody, it
    # does not.
    import json

    for own_uid, expected in ((True, "EPERM"), (False, "ok")):
        args = json.dumps({"sandbox": str(sandbox.__file__), "own_uid": own_uid})
        other = subprocess.Popen([sys.executable, "-I", "-c", FROZEN_RUNNER, args],
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert other.stdout is not None and other.stdout.readline().strip() == "confined"
            # confined but for the filter's walls between processes and Landlock's signal scope
            found = run(
                """
                sandbox.drop_privileges(ARGS["own_uid"])
                sandbox.install_seccomp(RULES)
                pid = ARGS["target"]
                out["nice"] = attempt(lambda: os.setpriority(os.PRIO_PROCESS, pid, 19))
                out["signal"] = attempt(lambda: os.kill(pid, 0))
                """,
                confine=None,
                without=("scheduling", "signals"),
                target=other.pid,
                own_uid=own_uid,
            )
            assert (found["nice"], found["signal"]) == (expected, expected), (own_uid, found)
        finally:
            other.kill()
            other.wait()


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_each_architecture_filter_judges_calls_on_other_processes_as_meant(arch: str) -> None:
    pid = 4242
    program = sandbox.build_filter(arch, sandbox.RULES, pid)
    audit, numbers = sandbox.AUDIT_ARCH[arch], sandbox.SYSCALLS[arch]
    allow = sandbox.SECCOMP_RET_ALLOW
    eperm = sandbox.SECCOMP_RET_ERRNO | errno.EPERM
    enosys = sandbox.SECCOMP_RET_ERRNO | errno.ENOSYS

    def verdict(name: str, *args: int) -> int:
        return test_sandbox.judge(program, audit, numbers[name], *args)

    for name in ("sched_setaffinity", "sched_setscheduler", "prlimit64", "move_pages"):
        assert verdict(name, 0) == verdict(name, pid) == allow  # the caller, its process
        assert verdict(name, pid + 1) == verdict(name, (1 << 32) | pid + 1) == eperm
    assert verdict("sched_getaffinity", pid + 1) == enosys
    prio_process, prio_user = 0, 2
    assert verdict("setpriority", prio_process, 0) == verdict("setpriority", 0, pid) == allow
    assert verdict("setpriority", prio_process, pid + 1) == eperm
    assert verdict("setpriority", prio_user, 0) == eperm  # every process of a user
    assert verdict("ioprio_set", 1, 0) == allow and verdict("ioprio_set", 2, 0) == eperm
    f_getfl, fionread = 3, 0x541B
    for command in (sandbox.F_SETOWN, sandbox.F_SETSIG, sandbox.F_SETOWN_EX):
        assert verdict("fcntl", 3, command) == eperm
    for command in sandbox.LOCK_COMMANDS:  # fcntl's second rule, after the signal owner's
        assert verdict("fcntl", 3, command) == eperm
    assert verdict("fcntl", 3, f_getfl) == allow  # past both rules
    assert verdict("flock", 3, 1) == eperm
    for name in ("fadvise64", "readahead", "mincore", "cachestat", "timer_create", "setitimer",
                 "memfd_create", "fallocate", "unshare", "setns", "inotify_init1", "io_setup",
                 "io_submit", "sync", "syncfs", "setsid", "setpgid", "sysinfo"):
        assert verdict(name) == eperm, name
    assert verdict("fcntl", 3, sandbox.F_NOTIFY) == eperm  # fcntl's third rule
    assert verdict("ioctl", 3, sandbox.FIOSETOWN) == verdict("ioctl", 3, sandbox.SIOCSPGRP) == eperm
    assert verdict("ioctl", 3, fionread) == allow
    for name in ("shmget", "semget", "msgget", "mq_open", "add_key", "keyctl", "perf_event_open"):
        assert verdict(name) == eperm
