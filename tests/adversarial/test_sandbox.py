"""The runner's confinement (evaluation/isolation/sandbox.py), tried the way a candidate would try
it.

Each test runs a fresh Python that confines itself and then attempts a real escape. Every refusal
is tried again with its rule group left out, where the same escape must work: a refusal that came
from something else (file modes, a missing binary, the kernel) would prove nothing about the
filter. Whatever the child needs is imported before it confines itself: once root has become
nobody, a Python installed under /root can no longer read its own standard library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import importlib.util
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SANDBOX = Path(__file__).parents[2] / "avo_tui" / "evaluation" / "isolation" / "sandbox.py"
CHILD_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="prctl and seccomp are Linux's")


def load_sandbox() -> ModuleType:
    """The module as the runner loads it: by path, outside its package."""
    spec = importlib.util.spec_from_file_location("avo_sandbox", SANDBOX)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sandbox = load_sandbox()


def kernel_has_seccomp() -> bool:
    try:
        return "Seccomp:" in Path("/proc/self/status").read_text()
    except OSError:
        return False


needs_filter = pytest.mark.skipif(
    sandbox.architecture() is None or not kernel_has_seccomp(),
    reason="no seccomp filter for this kernel or architecture",
)

PRELUDE = """
import ctypes, ctypes.util, errno, importlib.util, json, os, signal, sys, threading, time
ARGS = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("avo_sandbox", ARGS["sandbox"])
sandbox = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sandbox)
RULES = [rule for rule in sandbox.RULES if rule.group not in ARGS["without"]]
libc = ctypes.CDLL(None, use_errno=True)
out = {}

def attempt(action):
    try:
        action()
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))
    return "ok"

def syscall(name, *args):
    number = sandbox.SYSCALLS[sandbox.architecture()][name]
    result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
    return errno.errorcode[ctypes.get_errno()] if result < 0 else "ok"

def report(**values):
    print(json.dumps(values), flush=True)
"""


def child(
    body: str,
    *,
    confine: str | None = "install_seccomp",
    without: tuple[str, ...] = (),
    **args: Any,
) -> list[str]:
    """The command of a fresh ``python -I`` that runs ``body`` after
    ``sandbox.<confine>(RULES)``; ``args`` reach it as ARGS. It reports with report(...), one
    JSON object a line."""
    # confine() reads, past its own Python and the system's, only the library it is to load
    keeps = ', library=ARGS.get("library")' if confine == "confine" else ""
    step = f"report(confined=sandbox.{confine}(RULES{keeps}))\n" if confine else ""
    code = PRELUDE + step + textwrap.dedent(body) + "\nreport(**out)\n"
    args = {"sandbox": str(SANDBOX), "without": list(without), **args}
    return [sys.executable, "-I", "-c", code, json.dumps(args)]


def spawn(body: str, *, env: dict[str, str] | None = None, **kwargs: Any
          ) -> subprocess.CompletedProcess[str]:
    """Run child(``body``, ...) to its end."""
    return subprocess.run(child(body, **kwargs), capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S, env=env)


def run(body: str, **kwargs: Any) -> dict[str, Any]:
    """spawn(), which must exit cleanly and be confined as asked; everything it reported."""
    proc = spawn(body, **kwargs)
    assert proc.returncode == 0, proc.stderr
    found: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        found.update(json.loads(line))
    confined = found.get("confined")
    if isinstance(confined, dict):
        confined = confined["seccomp"]
    assert confined is None or confined.startswith("installed"), confined
    return found


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory anyone may read: pytest's tmp_path is private to its user, and a confined
    child that started as root runs as nobody."""
    path = Path(tempfile.mkdtemp(prefix="avo-sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- processes ----------------------------------------------------------------------------------

FORK = """
def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
out["fork"] = attempt(fork)
"""


@needs_filter
def test_fork_is_refused() -> None:
    assert run(FORK)["fork"] == "EPERM"
    assert run(FORK, without=("processes",))["fork"] == "ok"


@needs_filter
def test_threads_still_start_and_run() -> None:
    found = run(
        """
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(i * i)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out["results"] = sorted(results)
        out["clone3"] = syscall("clone3", 0, 0)  # ENOSYS: glibc falls back to clone
        """
    )
    assert found["results"] == [0, 1, 4, 9]
    assert found["clone3"] == "ENOSYS"


EXEC = """
out["exec"] = attempt(lambda: os.execv(sys.executable, [sys.executable, "-c", "print('{}')"]))
"""


@needs_filter
def test_exec_is_refused() -> None:
    assert run(EXEC)["exec"] == "EPERM"
    assert "exec" not in run(EXEC, without=("exec",))  # the process became the new program


# -- files ------------------------------------------------------------------------------------

OPEN_FOR_WRITING = """
kept, new = os.path.join(ARGS["dir"], "kept.txt"), os.path.join(ARGS["dir"], "new.txt")
out["open(w)"] = attempt(lambda: open(new, "w").close())
out["open(r+)"] = attempt(lambda: open(kept, "r+").close())
out["open(a)"] = attempt(lambda: open(kept, "a").close())
for name, flags in [
    ("O_WRONLY", os.O_WRONLY),
    ("O_RDWR", os.O_RDWR),
    ("O_APPEND", os.O_RDONLY | os.O_APPEND),
    ("O_CREAT", os.O_RDONLY | os.O_CREAT),  # creates the file, though opened to read
    ("O_TRUNC", os.O_RDONLY | os.O_TRUNC),  # truncates it, though opened to read
]:
    path = new if flags & os.O_CREAT else kept
    out[name] = attempt(lambda: os.close(os.open(path, flags, 0o644)))
if sandbox.architecture() == "x86_64":  # the old calls, which glibc no longer makes
    raw = ctypes.create_string_buffer(new.encode())
    out["open"] = syscall("open", ctypes.addressof(raw), os.O_WRONLY | os.O_CREAT, 0o644)
    out["creat"] = syscall("creat", ctypes.addressof(raw), 0o644)
out["exists"] = os.path.exists(new)
out["kept"] = open(kept).read()
"""


def fresh_files(directory: Path) -> Path:
    for path in directory.iterdir():
        path.unlink()
    (directory / "kept.txt").write_text("kept")
    return directory


@needs_filter
def test_opening_a_file_for_writing_is_refused(tmp_path: Path) -> None:
    found = run(OPEN_FOR_WRITING, dir=str(fresh_files(tmp_path)))
    attempts = {k: v for k, v in found.items() if k not in ("confined", "exists", "kept")}
    assert set(attempts.values()) == {"EPERM"}, attempts
    assert not found["exists"] and not (tmp_path / "new.txt").exists()
    assert found["kept"] == "kept"

    found = run(OPEN_FOR_WRITING, dir=str(fresh_files(tmp_path)), without=("writes",))
    attempts = {k: v for k, v in found.items() if k not in ("confined", "exists", "kept")}
    assert set(attempts.values()) == {"ok"}, attempts
    assert found["exists"] and found["kept"] == ""


CHANGE_FILES = """
directory = ARGS["dir"]
a, b, c, d = (os.path.join(directory, name) for name in ("a.txt", "b.txt", "c.txt", "d"))
uid, gid = os.getuid(), os.getgid()
actions = {
    "rename": lambda: os.rename(c, c + ".renamed"),
    "unlink": lambda: os.unlink(b),
    "mkdir": lambda: os.mkdir(d + ".new"),
    "rmdir": lambda: os.rmdir(d),
    "link": lambda: os.link(a, a + ".link"),
    "symlink": lambda: os.symlink(a, a + ".symlink"),
    "mkfifo": lambda: os.mkfifo(a + ".fifo"),
    "chmod": lambda: os.chmod(a, 0o600),
    "chown": lambda: os.chown(a, uid, gid),
    "truncate": lambda: os.truncate(a, 0),
}
for name, action in actions.items():
    out[name] = attempt(action)
out["left"] = sorted(os.listdir(directory))
"""


def files_to_change(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    (directory / "a.txt").write_text("a")
    (directory / "b.txt").write_text("b")
    (directory / "c.txt").write_text("c")
    (directory / "d").mkdir()
    return directory


@needs_filter
def test_renaming_unlinking_and_other_changes_to_files_are_refused(tmp_path: Path) -> None:
    found = run(CHANGE_FILES, dir=str(files_to_change(tmp_path / "files")))
    assert found.pop("left") == ["a.txt", "b.txt", "c.txt", "d"]
    found.pop("confined")
    assert set(found.values()) == {"EPERM"}, found
    assert (tmp_path / "files" / "a.txt").read_text() == "a"

    found = run(CHANGE_FILES, dir=str(files_to_change(tmp_path / "files")), without=("files",))
    assert found.pop("left") == [
        "a.txt", "a.txt.fifo", "a.txt.link", "a.txt.symlink", "c.txt.renamed", "d.new"
    ]
    found.pop("confined")
    assert set(found.values()) == {"ok"}, found


@needs_filter
def test_reading_files_and_scratch_memory_still_work(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("readable")
    found = run(
        """
        out["read"] = open(os.path.join(ARGS["dir"], "data.txt")).read()
        out["listdir"] = os.listdir(ARGS["dir"])
        status = open("/proc/self/status").read()
        out["seccomp"] = [line for line in status.splitlines() if line.startswith("Seccomp:")]
        out["no_new_privs"] = "NoNewPrivs:\\t1" in status
        import mmap
        scratch = mmap.mmap(-1, 1 << 20)  # memory of its own to map stays available
        scratch[:7] = b"scratch"
        out["scratch"] = scratch[:7].decode()
        print("stdout still works", file=sys.stderr)
        """,
        dir=str(tmp_path),
    )
    assert found["read"] == "readable" and found["listdir"] == ["data.txt"]
    assert found["seccomp"] == ["Seccomp:\t2"]  # 2: filter mode
    assert found["no_new_privs"] and found["scratch"] == "scratch"


@needs_filter
def test_io_uring_is_refused() -> None:
    body = 'out["io_uring_setup"] = syscall("io_uring_setup", 1, 0)'
    assert run(body)["io_uring_setup"] == "EPERM"
    # Left out, the kernel gets to judge the null pointer (or io_uring is switched off).
    assert run(body, without=("io_uring",))["io_uring_setup"] in ("EFAULT", "EPERM", "ENOSYS")


@needs_filter
def test_new_sockets_are_refused() -> None:
    body = """
import socket
out["tcp"] = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
out["unix"] = attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
out["pair"] = attempt(lambda: [s.close() for s in socket.socketpair()])
"""
    found = run(body)
    assert (found["tcp"], found["unix"], found["pair"]) == ("EPERM", "EPERM", "EPERM")
    found = run(body, without=("network",))
    assert (found["tcp"], found["unix"], found["pair"]) == ("ok", "ok", "ok")


# -- other processes ----------------------------------------------------------------------------

SIGNALS = """
out["parent"] = attempt(lambda: os.kill(os.getppid(), 0))
out["group"] = attempt(lambda: os.kill(0, 0))
out["self"] = attempt(lambda: os.kill(os.getpid(), 0))
out["pthread_kill"] = attempt(lambda: signal.pthread_kill(threading.get_ident(), 0))
received = []
signal.signal(signal.SIGUSR1, lambda number, frame: received.append(number))
signal.raise_signal(signal.SIGUSR1)  # tgkill(getpid(), gettid(), SIGUSR1), as raise() and abort()
out["raised"] = received == [signal.SIGUSR1]
"""


@needs_filter
def test_signals_reach_only_the_process_itself() -> None:
    found = run(SIGNALS)
    assert (found["parent"], found["group"]) == ("EPERM", "EPERM")
    assert (found["self"], found["pthread_kill"], found["raised"]) == ("ok", "ok", True)

    found = run(SIGNALS, without=("signals",))
    assert (found["parent"], found["group"]) == ("ok", "ok")


PTRACE = """
buffer = ctypes.create_string_buffer(b"secret")
iovec = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), len(buffer))
copy = ctypes.create_string_buffer(len(buffer))
local = (ctypes.c_void_p * 2)(ctypes.addressof(copy), len(copy))
pid = os.getpid()
out["ptrace"] = syscall("ptrace", 2, pid, ctypes.addressof(buffer), 0)  # PTRACE_PEEKDATA
out["process_vm_readv"] = syscall(
    "process_vm_readv", pid, ctypes.addressof(local), 1, ctypes.addressof(iovec), 1, 0
)
"""


@needs_filter
def test_ptrace_and_reading_process_memory_are_refused() -> None:
    found = run(PTRACE)
    assert (found["ptrace"], found["process_vm_readv"]) == ("EPERM", "EPERM")
    found = run(PTRACE, without=("ptrace",))
    # ESRCH: the process does not trace itself; reading its own memory works
    assert (found["ptrace"], found["process_vm_readv"]) == ("ESRCH", "ok")


UNDUMPABLE = """
sandbox.drop_privileges()  # as root, CAP_SYS_PTRACE would see through the flag
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:
    sandbox._prctl(sandbox.PR_SET_DUMPABLE, 1)  # as it was before root changed its ids
    if ARGS["undumpable"]:
        sandbox.make_undumpable()
    os.write(ready_w, b"x")
    time.sleep(CHILD_TIMEOUT_S)
    os._exit(0)
os.read(ready_r, 1)
out["mem"] = attempt(lambda: open(f"/proc/{pid}/mem", "rb").close())
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
""".replace("CHILD_TIMEOUT_S", str(CHILD_TIMEOUT_S))


def test_an_undumpable_process_memory_is_closed_to_its_own_user() -> None:
    # The would-be reader is the victim's parent, which even Yama's ptrace_scope 1 lets through.
    assert run(UNDUMPABLE, confine=None, undumpable=True)["mem"] == "EACCES"
    assert run(UNDUMPABLE, confine=None, undumpable=False)["mem"] == "ok"


# -- privileges and the parent ------------------------------------------------------------------


@needs_filter
def test_confine_drops_root_and_keeps_the_parent_death_signal() -> None:
    was_root = os.geteuid() == 0
    found = run(
        """
        out["euid"], out["pid"] = os.geteuid(), os.getpid()
        out["uids"], out["gids"] = os.getresuid(), os.getresgid()
        out["groups"] = os.getgroups()
        out["setuid(0)"] = attempt(lambda: os.setuid(0))
        deathsig = ctypes.c_int()
        libc.prctl(ctypes.c_ulong(sandbox.PR_GET_PDEATHSIG), ctypes.byref(deathsig))
        out["pdeathsig"] = deathsig.value
        """,
        confine="confine",
    )
    assert set(found["confined"]) == {"oom", "privileges", "parent_death_signal", "dumpable",
                                      "memory", "landlock", "seccomp"}
    assert found["pdeathsig"] == signal.SIGKILL  # set again after the change of ids cleared it
    if was_root:
        import pwd

        try:
            gid = pwd.getpwnam("nobody").pw_gid
        except KeyError:
            gid = 65534
        # a uid of its own: no other runner alive has its pid
        uid = sandbox.RUNNER_UIDS + found["pid"]
        assert found["confined"]["privileges"].startswith("dropped root")
        assert found["euid"] == uid and found["uids"] == [uid] * 3 and found["gids"] == [gid] * 3
        assert found["groups"] == []
        assert found["setuid(0)"] == "EPERM"
    else:
        assert found["confined"]["privileges"].startswith("not root")
        assert found["euid"] == os.geteuid()


MIDDLE = """
import subprocess, sys
runner = subprocess.Popen(
    [sys.executable, "-I", "-c", sys.argv[1], sys.argv[2]],
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
)
print(runner.stdout.readline().decode().strip(), flush=True)
"""  # and exits, leaving the runner behind


def process_state(pid: int) -> str | None:
    """'Z' for a zombie, None once gone (the /proc/<pid>/stat field after the name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


@needs_filter
def test_the_runner_dies_with_its_parent() -> None:
    code = PRELUDE + "sandbox.confine()\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    args = json.dumps({"sandbox": str(SANDBOX), "without": []})
    middle = subprocess.run(
        [sys.executable, "-I", "-c", MIDDLE, code, args],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert middle.returncode == 0, middle.stderr
    pid = int(middle.stdout)
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT_S  # a condition; the bound is a backstop
        while process_state(pid) not in (None, "Z", "X") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_state(pid) in (None, "Z", "X"), "the runner outlived its parent"
    finally:
        if process_state(pid) not in (None, "Z", "X"):
            os.kill(pid, signal.SIGKILL)


# -- libraries ----------------------------------------------------------------------------------


@needs_filter
def test_libraries_still_load_after_confinement() -> None:
    libm = ctypes.util.find_library("m")  # here: it runs ldconfig, which a runner could not
    if libm is None:
        pytest.skip("no libm to load")
    found = run(
        """
        cos = ctypes.CDLL(ARGS["libm"]).cos
        cos.restype, cos.argtypes = ctypes.c_double, [ctypes.c_double]
        out["cos(0)"] = cos(0.0)
        out["getpid"] = ctypes.CDLL(None).getpid() == os.getpid()
        """,
        confine="confine",
        libm=libm,
    )
    assert found["cos(0)"] == 1.0 and found["getpid"]


ESCAPING_LIBRARY = r"""
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int fork_result = 0; /* the child's pid, or -errno */
int system_errno = 0;

__attribute__((constructor)) static void escape_on_load(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) { fork_result = -errno; return; }
    fork_result = pid;
    waitpid(pid, 0, 0);
}

int shell(const char *command) {
    errno = 0;
    int status = system(command);
    system_errno = errno;
    return status;
}
"""

LOAD_ESCAPING_LIBRARY = """
library = ctypes.CDLL(ARGS["library"])  # the constructor runs here
out["fork"] = ctypes.c_int.in_dll(library, "fork_result").value
out["system"] = library.shell(b"exit 3")
out["system_errno"] = ctypes.c_int.in_dll(library, "system_errno").value
"""


def compile_library(source: str, directory: Path, *flags: str) -> Path:
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (cc)")
    (directory / "library.c").write_text(source)
    library = directory / "library.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", *flags, "-o", str(library), str(directory / "library.c")],
        check=True,
        capture_output=True,
        timeout=CHILD_TIMEOUT_S,
    )
    library.chmod(0o755)
    return library


@needs_filter
def test_a_library_cannot_fork_from_its_constructor_nor_run_a_shell(public_dir: Path) -> None:
    library = str(compile_library(ESCAPING_LIBRARY, public_dir))
    found = run(LOAD_ESCAPING_LIBRARY, confine="confine", library=library)
    assert found["fork"] == -errno.EPERM
    # glibc's system() reports a shell it could not start as one that exited with 127
    assert found["system"] == 127 << 8 and found["system_errno"] == errno.EPERM

    found = run(LOAD_ESCAPING_LIBRARY, confine="confine", library=library, without=("processes",))
    assert found["fork"] > 0
    assert found["system"] == 127 << 8  # the shell was started, but could not be executed
    # Landlock left out too: it lets a runner execute no shell either (/bin is not its to read)
    found = run(LOAD_ESCAPING_LIBRARY, library=library, without=("processes", "exec"))
    assert found["system"] == 3 << 8


OPENMP_LIBRARY = r"""
#include <omp.h>
int team_size(void) {
    int n = 0;
    #pragma omp parallel
    {
        #pragma omp single
        n = omp_get_num_threads();
    }
    return n;
}
"""


@needs_filter
def test_openmp_threads_still_start_in_a_confined_library(public_dir: Path) -> None:
    try:
        library = compile_library(OPENMP_LIBRARY, public_dir, "-fopenmp")
    except subprocess.CalledProcessError:
        pytest.skip("cc cannot build OpenMP code here")
    found = run(
        'out["team"] = ctypes.CDLL(ARGS["library"]).team_size()',
        confine="confine",
        library=str(library),
        env={"OMP_NUM_THREADS": "4", "PATH": os.environ.get("PATH", "")},
    )
    assert found["team"] == 4


OTHER_ABIS = r"""
#define _GNU_SOURCE
#include <unistd.h>
long i386_getpid(void) {  /* int 0x80: the i386 system call table, i386's getpid is 20 */
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory");
    return result;
}
long x32_getpid(void) { return syscall(0x40000000L | 39); }
"""


@needs_filter
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="i386 and x32 calls are x86_64's")
def test_calls_through_another_abi_kill_the_process(public_dir: Path) -> None:
    library = str(compile_library(OTHER_ABIS, public_dir))
    call = 'ctypes.CDLL(ARGS["library"]).{}()\nout["survived"] = True'
    # i386's fork is 2, x86_64's open: a filter that did not check the ABI would judge the
    # call by the wrong table.
    for function in ("i386_getpid", "x32_getpid"):
        unconfined = spawn(call.format(function), confine=None, library=library)
        if unconfined.returncode != 0:
            continue  # this kernel has no such ABI: the call faults, filter or not
        confined = spawn(call.format(function), library=library)
        assert confined.returncode == -signal.SIGSYS, (function, confined.stderr)


# -- without a filter ---------------------------------------------------------------------------


def test_an_unknown_architecture_is_reported_not_raised() -> None:
    found = run(
        """
        sandbox.architecture = lambda: None
        out["result"] = sandbox.confine()
        status = open("/proc/self/status").read()
        out["seccomp"] = [line for line in status.splitlines() if line.startswith("Seccomp:")]
        """,
        confine=None,
    )
    assert found["result"]["seccomp"].startswith("not installed: no filter for")
    assert found["seccomp"] in ([], ["Seccomp:\t0"])


# -- the filters, judged here for each architecture ---------------------------------------------


def judge(program: list[tuple[int, int, int, int]], arch: int, nr: int, *args: int) -> int:
    """Run a classic BPF seccomp program on one call: the few instructions the filter uses."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args, *[0] * (6 - len(args)))
    pc, accumulator = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == sandbox.BPF_LD_W_ABS:
            accumulator, pc = struct.unpack_from("<I", data, k)[0], pc + 1
        elif code == sandbox.BPF_JEQ_K:
            pc += 1 + (jt if accumulator == k else jf)
        elif code == sandbox.BPF_JSET_K:
            pc += 1 + (jt if accumulator & k else jf)
        elif code == sandbox.BPF_RET_K:
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_each_architecture_filter_judges_calls_as_meant(arch: str) -> None:
    pid = 4242
    program = sandbox.build_filter(arch, sandbox.RULES, pid)
    audit, numbers = sandbox.AUDIT_ARCH[arch], sandbox.SYSCALLS[arch]
    read = {"x86_64": 0, "aarch64": 63}[arch]
    allow, kill = sandbox.SECCOMP_RET_ALLOW, sandbox.SECCOMP_RET_KILL_PROCESS
    eperm = sandbox.SECCOMP_RET_ERRNO | errno.EPERM
    assert len(program) <= 4096 and all(jt < 256 and jf < 256 for _, jt, jf, _ in program)

    assert judge(program, audit, read) == allow
    assert judge(program, 0x40000003, 2) == kill  # i386
    assert judge(program, 0x40000028, 2) == kill  # arm32
    clone = numbers["clone"]
    assert judge(program, audit, clone, 0x3D0F00) == allow  # pthread_create's flags
    assert judge(program, audit, clone, 0x01200011) == eperm  # fork's: SIGCHLD | ...
    assert judge(program, audit, clone, 0x4111) == eperm  # posix_spawn's: VM | VFORK
    assert judge(program, audit, numbers["clone3"]) == sandbox.SECCOMP_RET_ERRNO | errno.ENOSYS
    openat = numbers["openat"]
    assert judge(program, audit, openat, 0, 0, os.O_RDONLY | os.O_CLOEXEC) == allow
    for flag in (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND):
        assert judge(program, audit, openat, 0, 0, flag) == eperm
    assert judge(program, audit, openat, 0, 0, 1 << 32) == allow  # the kernel reads an int
    for name in ("kill", "tgkill"):
        assert judge(program, audit, numbers[name], pid, 0) == allow
        assert judge(program, audit, numbers[name], pid + 1, 0) == eperm
        assert judge(program, audit, numbers[name], (1 << 32) | pid + 1, 0) == eperm
    if arch == "x86_64":
        assert judge(program, audit, 0x40000000 | 57) == kill  # x32 fork
        assert judge(program, audit, numbers["open"], 0, os.O_WRONLY) == eperm
        assert judge(program, audit, numbers["open"], 0, os.O_RDONLY) == allow
    unconditional = [
        name
        for rule in sandbox.RULES
        if rule.when == sandbox.ALWAYS
        for name in rule.names
        if name in numbers
    ]
    assert len(unconditional) > 30
    for name in unconditional:
        assert judge(program, audit, numbers[name]) & 0xFFFF0000 == sandbox.SECCOMP_RET_ERRNO


def header_numbers(path: Path) -> dict[str, int]:
    text = path.read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", text)}


@pytest.mark.parametrize(
    ("arch", "header"),
    [
        ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
        ("aarch64", "/usr/include/asm-generic/unistd.h"),  # arm64 takes the generic table
    ],
)
def test_system_call_numbers_match_the_kernel_headers(arch: str, header: str) -> None:
    if not Path(header).exists():
        pytest.skip(f"no {header}")
    known = header_numbers(Path(header))
    ours = sandbox.SYSCALLS[arch]
    compared = {name: number for name, number in ours.items() if name in known}
    assert len(compared) > 30  # calls newer than the headers (fchmodat2...) are left out
    assert compared == {name: known[name] for name in compared}
