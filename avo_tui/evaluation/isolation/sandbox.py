"""Confining the process a CPU candidate runs in, before the candidate's library is loaded.

The runner (runner.py) dlopens a shared library an agent wrote, and dlopen already runs the
library's constructors, so the runner confines itself first. The worker freezes the runner with
SIGSTOP between launches and times it from outside; that is sound only if nothing the candidate
does can outlive or escape the freeze, or reach the worker. And the commit gate keeps two
runners alive at once, the candidate's and the best version's, frozen in turn: neither may
reach the other, or a candidate could slow the best down and win (docs/architecture.md, "What
a kernel can reach"). So:

- no new processes (a child would go on running while its parent is stopped), no exec;
- no ptrace or cross-process memory access, no counting or comparing another process
  (perf_event_open, kcmp), no signals to any process but its own, by any route (kill and its
  kin, pidfd, and a file's signal owner: fcntl F_SETOWN/F_SETSIG, ioctl FIOSETOWN);
- no timers (timer_create, setitimer, alarm): one would signal the runner while it is frozen,
  to end it or wake it;
- no scheduling of another process: affinity, priority, policy, I/O priority, limits, memory
  placement act on the runner's own process only;
- no System V or POSIX IPC and no keyrings: each would outlive the runner, a counter kept from one
  evaluation to the next, or a channel between two runners;
- no locks (fcntl's record and open file description locks and leases, flock): a lock on a file
  both runners may read is a line between them;
- no eviction from, filling of or probing of the page cache (fadvise64, readahead, mincore,
  cachestat, preadv2's flags, madvise past the runtime's advice): a page evicted by one
  evaluation and found missing by the next is a counter, one found cached a sign of another;
- no writes to files: no opening for writing, renaming, unlinking, linking, chmod, chown...,
  nor io_uring, which does such work in the kernel where no filter sees it;
- no new sockets: no talking to any process or service but the worker, on the socket it gave;
- where the kernel has Landlock, files are read only from the system's and Python's
  directories and the runner's own library: no other process's /proc, no other runner's
  library (restrict_files);
- no namespaces (unshare, setns), no watching of files (inotify, fanotify, dnotify), no Linux
  AIO, no sync or syncfs, no leaving the worker's process group (setsid, setpgid), no sysinfo:
  each a line between runners, or a lever on the whole machine;
- no memory outside its address space (memfd_create, memfd_secret, fallocate), an address space
  limited to its arena twice over and a few GiB (RLIMIT_AS), and the OOM killer's first choice
  (oom_score_adj 1000): what runs out when a kernel takes too much is that runner;
- root drops to a user of the runner's own (a uid no other runner has), losing CAP_SYS_PTRACE,
  CAP_SYS_NICE, CAP_KILL and the override of file modes; the runner becomes undumpable;
- it dies with its parent (PR_SET_PDEATHSIG), so no runner outlives the worker.

The worker makes itself undumpable (make_undumpable) so that a process of its own user cannot
ptrace it or open /proc/<worker>/mem.

Imported by the runner as a file (``python -I -S``), so this module uses the standard library and
ctypes only and imports nothing from its package. Nothing here raises on a platform that lacks a
mechanism: each step returns a sentence saying what took effect, which the caller records.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import os
import signal
import struct
import sys
import types
from collections.abc import Iterable, Sequence
from typing import NamedTuple

# prctl options (linux/prctl.h)
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38

# seccomp (linux/seccomp.h)
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1  # every thread of the process gets the filter, not only the caller
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

# classic BPF (linux/filter.h)
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at offset k of seccomp_data
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K: jump if A & k
BPF_RET_K = 0x06  # BPF_RET | BPF_K

# struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }
NR_OFFSET, ARCH_OFFSET, ARGS_OFFSET = 0, 4, 16

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000  # x86_64 kernels also take x32 calls, under the same audit arch

CLONE_THREAD = 0x00010000
# O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND: the same values on x86_64 and aarch64.
# O_TMPFILE needs O_WRONLY or O_RDWR, so it is covered too.
WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000


def _sibling(name: str) -> types.ModuleType:
    """``name``.py beside this file, loaded as this file is (the runner loads files, not the
    package), when this file is: before the runner drops root, which may lose it the right to
    read them."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"avo_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


landlock = _sibling("landlock")
SYSCALLS: dict[str, dict[str, int]] = _sibling("syscalls").SYSCALLS  # per architecture

# When a rule refuses its calls.
ALWAYS = "always"
IF_ANY_BIT = "if any bit"  # args[arg] & value != 0
UNLESS_BIT = "unless bit"  # args[arg] & value == 0
UNLESS_SELF = "unless self"  # args[arg] != this process's pid
# args[arg] is neither 0 (the caller) nor this process's pid, or args[which] != value: the
# scheduling calls, whose pid 0 means the calling thread
UNLESS_OWN = "unless own"
IF_ONE_OF = "if one of"  # args[arg] is one of values
UNLESS_ONE_OF = "unless one of"  # args[arg] is none of values

# fcntl commands and ioctl requests that name a process to signal when a file is ready
F_SETOWN, F_SETSIG, F_SETOWN_EX = 8, 10, 15
FIOSETOWN, SIOCSPGRP = 0x8901, 0x8902
# fcntl commands that take, test or lease a lock: record locks (F_GETLK names the holder's
# pid), open file description locks, and leases
F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 5, 6, 7, 36, 37, 38
F_SETLEASE = 1024
F_NOTIFY = 1026  # dnotify: a directory's changes signalled to the caller
LOCK_COMMANDS = (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE)
PRIO_PROCESS = 0  # setpriority(which, ...): one process, not a group or a user's processes
IOPRIO_WHO_PROCESS = 1
# preadv2's and pwritev2's flags (linux/fs.h), their sixth argument (after pos_h) on x86_64 and
# aarch64 alike; rwf_t is an int, so the filter's 32 bits are all of it
RWF_NOWAIT, RWF_DONTCACHE, EVERY_FLAG, PREADV2_FLAGS_ARG = 0x8, 0x80, 0xFFFFFFFF, 5
# The madvise advice (asm-generic/mman-common.h) a runner's runtime gives: glibc's malloc and
# thread stacks (DONTNEED; FREE, HUGEPAGE, NOHUGEPAGE, guard pages 102 and 103 in other
# versions), fork and dump marks (10, 11, 16-19). Not WILLNEED or POPULATE_READ (a file's pages
# read in without a read), COLD or PAGEOUT (pushed out: a count), SEQUENTIAL or RANDOM (what a
# fault reads in), MERGEABLE (KSM: a page shared with another process's equal one).
MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE = 4, 8, 14, 15
RUNTIME_ADVICE = (0, MADV_DONTNEED, MADV_FREE, 10, 11, MADV_HUGEPAGE, MADV_NOHUGEPAGE, 16, 17,
                  18, 19, 102, 103)


class Rule(NamedTuple):
    """Refuse the named calls (those the architecture has) with ``error`` when ``when`` holds.

    ``group`` says what the rule stops; tests leave a group out to show that it is what does.
    """

    group: str
    names: tuple[str, ...]
    when: str = ALWAYS
    arg: int = 0
    value: int = 0
    error: int = errno.EPERM
    values: tuple[int, ...] = ()  # IF_ONE_OF's
    which: int | None = None  # UNLESS_OWN: the argument that must equal ``value``, if any


RULES: tuple[Rule, ...] = (
    # A child process would run on while the worker has the runner stopped.
    Rule("processes", ("fork", "vfork")),
    Rule("processes", ("clone",), UNLESS_BIT, arg=0, value=CLONE_THREAD),  # threads stop too
    # clone3 passes its flags in memory, which a filter cannot read. ENOSYS makes glibc's
    # pthread_create and posix_spawn fall back to clone, whose flags it can.
    Rule("processes", ("clone3",), error=errno.ENOSYS),
    Rule("exec", ("execve", "execveat")),
    # Reaching into another process (the worker) or taking its file descriptors.
    Rule(
        "ptrace",
        ("ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd"),
    ),
    # abort(), raise() and pthread_kill() signal the process itself: tgkill(getpid(), tid).
    Rule(
        "signals",
        ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"),
        UNLESS_SELF,
        arg=0,
    ),
    Rule("signals", ("pidfd_open", "pidfd_send_signal")),
    Rule("writes", ("open",), IF_ANY_BIT, arg=1, value=WRITE_FLAGS),
    Rule("writes", ("openat",), IF_ANY_BIT, arg=2, value=WRITE_FLAGS),
    Rule("writes", ("openat2",), error=errno.ENOSYS),  # flags in memory; glibc falls back
    Rule("writes", ("creat",)),
    Rule(
        "files",
        (
            "rename", "renameat", "renameat2", "unlink", "unlinkat", "link", "linkat",
            "symlink", "symlinkat", "mkdir", "mkdirat", "mknod", "mknodat", "rmdir",
            "truncate", "chmod", "fchmod", "fchmodat", "fchmodat2",
            "chown", "fchown", "lchown", "fchownat",
            "setxattr", "lsetxattr", "fsetxattr", "setxattrat",
            "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
            "open_by_handle_at",
        ),
    ),
    # io_uring performs opens, writes and renames in the kernel, where no filter sees them.
    Rule("io_uring", ("io_uring_setup", "io_uring_enter", "io_uring_register")),
    # No new sockets: no reaching a helper process, a local service or the network (the
    # runner talks to the worker on a socket it was handed before it was confined).
    Rule("network", ("socket", "socketpair")),
    # Another runner's CPUs, priority or policy: the gate's other kernel slowed down, pinned to
    # one CPU at nice 19, read as a 10x gain (issue 52). Pid 0 is the calling thread; another
    # thread of the runner's own is refused too, which a filter cannot tell from a stranger.
    # The getters answer ENOSYS, which glibc's pthread_getattr_np takes as "no such thing".
    Rule(
        "scheduling",
        ("sched_setaffinity", "sched_setparam", "sched_setscheduler", "sched_setattr",
         "prlimit64", "migrate_pages", "move_pages"),
        UNLESS_OWN,
    ),
    Rule(
        "scheduling",
        ("sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_getattr",
         "sched_rr_get_interval", "get_robust_list"),
        UNLESS_OWN,
        error=errno.ENOSYS,
    ),
    Rule("scheduling", ("setpriority", "getpriority"), UNLESS_OWN, arg=1, which=0,
         value=PRIO_PROCESS),
    Rule("scheduling", ("ioprio_set", "ioprio_get"), UNLESS_OWN, arg=1, which=0,
         value=IOPRIO_WHO_PROCESS),
    # A timer of its own signals the runner while it is frozen: SIGKILL, to die while the
    # other kernel runs, or SIGCONT, to wake and run beside the other's launch (issue 69).
    # Nothing a runner needs arms one: neither glibc, libgomp nor the runner's Python.
    Rule("timers", ("timer_create", "setitimer", "alarm")),
    # A file's signal owner: written to, a pipe set O_ASYNC signals whoever F_SETOWN named,
    # SIGKILL included (F_SETSIG), a route around the kill rule.
    Rule("signals", ("fcntl",), IF_ONE_OF, arg=1, values=(F_SETOWN, F_SETSIG, F_SETOWN_EX)),
    Rule("signals", ("ioctl",), IF_ONE_OF, arg=1, values=(FIOSETOWN, SIOCSPGRP)),
    # A lock on a file every runner may read (the system's, Python's) is a line between two
    # runners: two versions of one lineage tell each other "I am alive" (a lock held, a lock
    # refused; F_GETLK even names the holder's pid), and the older slows itself beside the
    # newer. Record locks, open file description locks, flock and leases alike.
    Rule("locks", ("fcntl",), IF_ONE_OF, arg=1, values=LOCK_COMMANDS),
    Rule("locks", ("flock",)),
    # Watching another process: comparing its resources, or counting its work.
    Rule("observing", ("kcmp", "perf_event_open", "process_mrelease")),
    # System V and POSIX IPC objects and keys outlive the runner: a counter kept across
    # evaluations (telling a first reading from the gate), or a line between two runners.
    Rule(
        "ipc",
        ("shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop",
         "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
         "mq_timedreceive", "mq_notify", "mq_getsetattr"),
    ),
    Rule("keyrings", ("add_key", "request_key", "keyctl")),
    # The page cache outlives the runner and is every process's: a page of a file any runner
    # may read, evicted (fadvise64's DONTNEED) and then found there or not (mincore,
    # cachestat), is a count kept across evaluations, or a line between two runners.
    # readahead fills it without a read. Linux itself answers mincore and cachestat truly only
    # for a file the caller owns or could write, which a runner as a user's own (not root)
    # may: its Python's. Timing a read tells the same and cannot be refused; without the
    # eviction it is no counter (docs/architecture.md: what that leaves a kernel).
    Rule("page cache", ("fadvise64", "readahead", "mincore", "cachestat")),
    # A read that asks whether its page is cached (RWF_NOWAIT: a successor's slot of a shared
    # file found cached says "a successor exists", issue 84) or leaves it uncached
    # (RWF_DONTCACHE). A runner needs no flag, so a later kernel's is refused unknown. Advice
    # that reads pages in, pushes them out or merges them: readahead and eviction renamed.
    Rule("page cache", ("preadv2", "pwritev2"), IF_ANY_BIT, arg=PREADV2_FLAGS_ARG,
         value=EVERY_FLAG),
    Rule("page cache", ("madvise",), UNLESS_ONE_OF, arg=2, values=RUNTIME_ADVICE),
    # Memory no process maps (a memfd's pages, filled with fallocate) is charged to no one:
    # the OOM killer, when the machine runs out, would end the worker rather than the runner
    # that took it, and RLIMIT_AS does not count it. memfd_secret's is out of reach besides.
    Rule("memory", ("memfd_create", "memfd_secret", "fallocate")),
    # A namespace of its own (a user namespace holds every capability within it, an IPC
    # namespace fresh objects) or another's (setns): nothing a runner needs either.
    Rule("namespaces", ("unshare", "setns")),
    # Watching files any runner may read: inotify and fanotify report another process's opens
    # and reads (a runner that opens a rarely read file says "I am alive" to one watching it),
    # dnotify (fcntl F_NOTIFY) a directory's changes.
    Rule("watching", ("inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init",
                      "fanotify_mark")),
    Rule("watching", ("fcntl",), IF_ONE_OF, arg=1, values=(F_NOTIFY,)),
    # Linux AIO: its contexts are counted machine-wide (aio-max-nr: one runner's use shows in
    # another's io_setup failing), and the kernel does its I/O where no filter sees it.
    Rule("aio", ("io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
                 "io_pgetevents")),
    # The machine's, not the runner's: sync and syncfs write every process's dirty pages out (a
    # stall the other kernel pays for); setsid and setpgid leave the worker's process group,
    # which it ends as one when its own parent is gone; sysinfo tells the machine's load, free
    # memory and number of processes, where another runner shows. glibc asks sysinfo only for
    # sysconf's memory sizes, which no kernel needs.
    Rule("system", ("sync", "syncfs", "setsid", "setpgid", "sysinfo")),
)

Instruction = tuple[int, int, int, int]  # struct sock_filter: code, jt, jf, k


def _statement(code: int, k: int) -> Instruction:
    return (code, 0, 0, k)


def _jump(code: int, k: int, jt: int, jf: int) -> Instruction:
    return (code, jt, jf, k)


def _argument(index: int) -> Instruction:
    """Load the low 32 bits of args[index] (little-endian): all the kernel reads of an int."""
    return _statement(BPF_LD_W_ABS, ARGS_OFFSET + 8 * index)


def _verdict(rule: Rule, pid: int) -> list[Instruction]:
    """What runs once the call number matched: a return where the rule refuses the call, else
    its last instruction, which puts the call's number back for the rules after it (a call may
    be named by several: fcntl's signal owners, locks and watches)."""
    refuse = _statement(BPF_RET_K, SECCOMP_RET_ERRNO | (rule.error & 0xFFFF))
    pass_on = _statement(BPF_LD_W_ABS, NR_OFFSET)
    if rule.when == ALWAYS:
        return [refuse]
    if rule.when == IF_ANY_BIT:
        return [_argument(rule.arg), _jump(BPF_JSET_K, rule.value, 0, 1), refuse, pass_on]
    if rule.when == UNLESS_BIT:
        return [_argument(rule.arg), _jump(BPF_JSET_K, rule.value, 1, 0), refuse, pass_on]
    if rule.when == UNLESS_SELF:
        return [_argument(rule.arg), _jump(BPF_JEQ_K, pid, 1, 0), refuse, pass_on]
    if rule.when == UNLESS_OWN:
        own = [_argument(rule.arg), _jump(BPF_JEQ_K, 0, 2, 0), _jump(BPF_JEQ_K, pid, 1, 0),
               refuse, pass_on]
        if rule.which is None:
            return own
        # args[which] != value: on to the refusal, past the three tests of ``own``
        return [_argument(rule.which), _jump(BPF_JEQ_K, rule.value, 0, 3), *own]
    if rule.when == IF_ONE_OF:
        last = len(rule.values) - 1
        # each value found jumps to the refusal; the last value not found, past it
        tests = [_jump(BPF_JEQ_K, value, last - index, int(index == last))
                 for index, value in enumerate(rule.values)]
        return [_argument(rule.arg), *tests, refuse, pass_on]
    if rule.when == UNLESS_ONE_OF:
        last = len(rule.values) - 1
        # each value found jumps past the refusal; the last not found falls into it
        tests = [_jump(BPF_JEQ_K, value, last - index + 1, 0)
                 for index, value in enumerate(rule.values)]
        return [_argument(rule.arg), *tests, refuse, pass_on]
    raise ValueError(f"unknown condition {rule.when!r}")


def build_filter(arch: str, rules: Iterable[Rule], pid: int) -> list[Instruction]:
    """The BPF program for ``arch``: calls of another ABI kill the process, then each rule in
    turn; a call none of them refuses is allowed."""
    numbers = SYSCALLS[arch]
    kill = _statement(BPF_RET_K, SECCOMP_RET_KILL_PROCESS)
    program = [
        # An i386 (int 0x80) or arm32 call carries other numbers: judged by this table, fork
        # would pass as something else. Nothing in a 64-bit process makes such calls.
        _statement(BPF_LD_W_ABS, ARCH_OFFSET),
        _jump(BPF_JEQ_K, AUDIT_ARCH[arch], 1, 0),
        kill,
        _statement(BPF_LD_W_ABS, NR_OFFSET),
    ]
    if arch == "x86_64":
        program += [_jump(BPF_JSET_K, X32_SYSCALL_BIT, 0, 1), kill]
    for rule in rules:
        verdict = _verdict(rule, pid)
        for name in rule.names:
            if name in numbers:
                program += [_jump(BPF_JEQ_K, numbers[name], 0, len(verdict)), *verdict]
    program.append(_statement(BPF_RET_K, SECCOMP_RET_ALLOW))
    return program


class _SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def architecture() -> str | None:
    """The architecture whose filter fits this process, or None where there is none.

    The process's own ABI counts, not the kernel's: a 32-bit Python on an x86_64 kernel would be
    killed at its first call by a filter that expects x86_64 calls.
    """
    if sys.platform != "linux" or struct.calcsize("P") != 8 or sys.byteorder != "little":
        return None
    machine = os.uname().machine
    return machine if machine in SYSCALLS else None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    """prctl(option, arg2, arg3, 0, 0); the errno on failure, 0 on success.

    Every argument goes as an unsigned long: prctl is variadic, and options such as
    PR_SET_NO_NEW_PRIVS fail if the unused ones are not zero in all 64 bits.
    """
    if sys.platform != "linux":
        return errno.ENOSYS
    args = (ctypes.c_ulong(arg) for arg in (option, arg2, arg3, 0, 0))
    if _libc().prctl(*args) == 0:
        return 0
    return ctypes.get_errno()


def set_parent_death_signal() -> str:
    """SIGKILL this process when its parent dies, so that no runner outlives its worker.

    "Parent" is the thread that started it: the worker must spawn runners from a thread that
    lives as long as they should. A change of credentials clears the setting, so set it again
    after drop_privileges (confine does). The caller should also check, after this, that
    os.getppid() is still the parent it started with: one that died before has been missed.
    """
    error = _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return "SIGKILL when the parent dies" if error == 0 else f"unavailable: {os.strerror(error)}"


def make_undumpable() -> str:
    """PR_SET_DUMPABLE 0: processes of the same user can no longer ptrace this one or open its
    /proc/<pid>/mem (the worker calls it on itself: it holds the timer, the reference and the
    comparator; a runner too, so that another runner of the same user cannot read it or take
    its files). It also turns off core dumps. Root keeps access through CAP_SYS_PTRACE, which is
    why a runner started by root drops its privileges."""
    error = _prctl(PR_SET_DUMPABLE, 0)
    return "not dumpable" if error == 0 else f"unavailable: {os.strerror(error)}"


# A runner's address space (RLIMIT_AS): its arena, mapped from the worker, as much again for a
# kernel's own buffers, and room for Python, the libraries and the candidate's threads (each
# reserves 8 MiB of stack and, once it allocates, a 64 MiB glibc malloc arena). An honest CPU
# kernel maps about 80 MiB besides (the shipped seeds, 64 MiB arena included).
MEMORY_BASE_BYTES = 4 << 30
MEMORY_PER_CPU_BYTES = 256 << 20
RLIMIT_AS = 9  # asm-generic/resource.h: x86_64 and aarch64 alike


def address_space_limit(arena_bytes: int) -> int:
    """How much address space a runner whose arena is ``arena_bytes`` may map."""
    return 2 * arena_bytes + MEMORY_BASE_BYTES + MEMORY_PER_CPU_BYTES * (os.cpu_count() or 1)


def limit_address_space(limit_bytes: int) -> str:
    """RLIMIT_AS, soft and hard, at ``limit_bytes`` (or a lower limit already set): past it an
    allocation fails. Without it a runner could take the machine's memory, and the OOM killer
    could end the worker rather than it. Only a privileged process may raise a hard limit."""
    if sys.platform != "linux":
        return f"unavailable: no RLIMIT_AS on {sys.platform}"
    libc = _libc()
    limits = (ctypes.c_uint64 * 2)()  # struct rlimit: rlim_cur, rlim_max
    if libc.getrlimit(RLIMIT_AS, limits) != 0:
        return f"unavailable: {os.strerror(ctypes.get_errno())}"
    limit = min(limit_bytes, limits[1])  # RLIM_INFINITY is the largest value
    limits[0] = limits[1] = limit
    if libc.setrlimit(RLIMIT_AS, limits) != 0:
        return f"unavailable: {os.strerror(ctypes.get_errno())}"
    return f"at most {limit / (1 << 30):.1f} GiB of address space (RLIMIT_AS)"


def volunteer_for_the_oom_killer() -> str:
    """oom_score_adj 1000: where the machine's memory runs out, the OOM killer ends this process
    before any other (a runner, never the worker). A process may always raise its own; once it
    has dropped root and become undumpable, its /proc files are root's, so this comes first."""
    try:
        with open("/proc/self/oom_score_adj", "w") as adjust:
            adjust.write("1000")
    except OSError as error:
        return f"unavailable: {error.strerror}"
    return "the OOM killer's first choice (oom_score_adj 1000)"


def _unprivileged_user() -> tuple[int, int, str]:
    try:
        import pwd  # Unix only

        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid, "nobody"
    except (ImportError, KeyError):
        return 65534, 65534, "uid 65534"


# A runner's own uid: RUNNER_UIDS + its pid. Two runners alive at once have two pids, so two
# uids, and the kernel's own rules then keep them apart whatever the filter lets through
# (signals, affinity and priority of another user's process, its /proc/<pid>/mem and fds). The
# range is far above any account's (Linux pids stay under 2**22).
RUNNER_UIDS = 1_900_000_000


def drop_privileges(own_uid: bool = True) -> str:
    """As root, become a user no other process has (RUNNER_UIDS + pid; with ``own_uid`` false,
    or where the uid cannot be had, as in a user namespace that maps few ids: nobody), with
    nobody's group and no supplementary groups.

    Root's CAP_SYS_PTRACE would open any process's memory whatever its dumpable flag,
    CAP_DAC_OVERRIDE any file whatever its mode, CAP_SYS_NICE and CAP_KILL any process's
    scheduling and signals; the new user has none of these. Real, effective and saved ids all
    change, so there is no way back. Not root: nothing to do (the filter and Landlock then keep
    two runners of one user apart).
    """
    if not hasattr(os, "geteuid"):
        return "no user ids on this platform: kept"
    if os.geteuid() != 0:
        return f"not root (uid {os.geteuid()}): kept"
    nobody, gid, name = _unprivileged_user()
    notes = []
    try:
        os.setgroups([])
    except OSError as error:  # a user namespace may deny setgroups
        notes.append(f"kept supplementary groups ({error.strerror})")
    try:
        os.setresgid(gid, gid, gid)
    except OSError as error:
        return f"still root: could not take group {gid} ({error.strerror})"
    choices = [(RUNNER_UIDS + os.getpid(), "a uid of its own")] if own_uid else []
    for uid, who in [*choices, (nobody, name)]:
        try:
            os.setresuid(uid, uid, uid)
        except OSError as error:
            notes.append(f"could not become {who} ({error.strerror})")
            continue
        return ", ".join([f"dropped root: now uid {uid} gid {gid} ({who})", *notes])
    return "still root: " + "; ".join(notes)


def install_seccomp(rules: Sequence[Rule] = RULES) -> str:
    """Set no_new_privs and install the filter built from ``rules`` on every thread.

    Returns a sentence starting with "installed" or "not installed" (an unknown architecture,
    a kernel or container without seccomp); it never raises for those.
    """
    arch = architecture()
    if arch is None:
        machine = os.uname().machine if hasattr(os, "uname") else "?"
        bits = struct.calcsize("P") * 8
        return f"not installed: no filter for {bits}-bit {sys.platform} on {machine}"
    program = build_filter(arch, rules, os.getpid())
    instructions = (_SockFilter * len(program))(*(_SockFilter(*i) for i in program))
    fprog = _SockFprog(len(program), instructions)
    # Without CAP_SYS_ADMIN the kernel takes a filter only under no_new_privs (exec can then
    # never gain privileges, e.g. through a setuid binary).
    error = _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if error:
        return f"not installed: PR_SET_NO_NEW_PRIVS failed ({os.strerror(error)})"
    libc = _libc()
    # SPEC_ALLOW: a filter would otherwise make older kernels (before 5.16) turn on the
    # speculative store bypass mitigation for the runner, slowing the very code being timed.
    # It guards a process against itself; here the process is the untrusted party.
    # Kernels before 4.17 know no SPEC_ALLOW and refuse the flags: then TSYNC alone.
    tsync = SECCOMP_FILTER_FLAG_TSYNC
    for flags in (tsync | SECCOMP_FILTER_FLAG_SPEC_ALLOW, tsync):
        result = libc.syscall(
            ctypes.c_long(SYSCALLS[arch]["seccomp"]),
            ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
            ctypes.c_ulong(flags),
            ctypes.byref(fprog),
        )
        error = ctypes.get_errno() if result < 0 else 0
        if result >= 0 or error != errno.EINVAL:
            break
    if result > 0:  # TSYNC: a thread that could not take the filter; nothing was installed
        return f"not installed: thread {result} could not be synchronised"
    if error == errno.ENOSYS:  # a kernel before 3.17: prctl, for the calling thread only
        error = _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
    if error:
        return f"not installed: seccomp refused the filter ({os.strerror(error)})"
    groups = ", ".join(dict.fromkeys(rule.group for rule in rules))
    restricted = sum(name in SYSCALLS[arch] for rule in rules for name in rule.names)
    return f"installed: {arch} filter on {restricted} system calls ({groups})"


def confine(rules: Sequence[Rule] = RULES, library: str | None = None,
            own_uid: bool = True, arena_bytes: int = 0) -> dict[str, str]:
    """Everything the runner does to itself before loading a candidate, in the order that works.

    The OOM killer is told to take it first while its /proc files are still its own. Privileges
    drop next (a filter that refused setuid would otherwise have to be loosened for it), then
    the parent-death signal is set, since the credential change cleared it, then the process
    becomes undumpable, its address space is limited (``arena_bytes``: the arena it maps), and
    it narrows what it may read (Landlock, ``library``'s directory among what it keeps); the
    filter comes last. Returns what each step did, for the worker to record.

    Import everything the process will need before calling it: once root has become nobody, a
    Python installed under a private home (/root is 0700) can no longer read its own standard
    library, and once the filter is in, nothing can be started to find a library (ldconfig).
    """
    set_parent_death_signal()  # already, in case the parent dies while this runs
    oom = volunteer_for_the_oom_killer()
    privileges = drop_privileges(own_uid)
    return {
        "oom": oom,
        "privileges": privileges,
        "parent_death_signal": set_parent_death_signal(),
        "dumpable": make_undumpable(),
        "memory": limit_address_space(address_space_limit(arena_bytes)),
        "landlock": landlock.restrict_files(landlock.readable_paths(library)),
        "seccomp": install_seccomp(rules),
    }
