"""Landlock (linux/landlock.h), for the runner (sandbox.py): a process narrows, unprivileged,
what it may read and write of the file system, and where its ABI has scopes, which processes
it may signal.

Two runners of the gate are alive at once. Without this, one could read the other's
/proc/<pid>/stat and schedstat (its CPU time per launch: an exact "am I losing" signal), its
command line, and its library in /tmp. With it, a runner reads the system's and Python's
directories, those of the libraries it has loaded, its own /proc entry and its own library,
and nothing else; it writes nowhere.

Loaded by sandbox.py as a file, in the runner (``python -I -S``): the standard library and
ctypes only. Where the kernel has no Landlock, restrict_files says so and changes nothing.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from collections.abc import Sequence

# The system calls are numbered alike on x86_64 and aarch64 (the generic table).
CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446
PR_SET_NO_NEW_PRIVS = 38
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_ACCESS_FS_EXECUTE = 1 << 0
LANDLOCK_ACCESS_FS_READ_FILE = 1 << 2
LANDLOCK_ACCESS_FS_READ_DIR = 1 << 3
# Every file-system right each ABI knows: 13 in the first, REFER in 2, TRUNCATE in 3,
# IOCTL_DEV in 5. Handled and never granted: denied.
LANDLOCK_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
LANDLOCK_NET_RIGHTS = 0b11  # bind and connect TCP (ABI 4): sockets are refused anyway
# ABI 6: no abstract unix sockets and no signals to processes outside the runner's own
# domain, signals through a file's owner (SIGIO) included: a second wall beside the filter.
LANDLOCK_SCOPES = 0b11
# What the dynamic linker reads to find the libraries a candidate names (libgomp, libm): its
# cache, its preload list, and the multiarch and lib64 directories it searches.
LINKER_FILES = ("/etc/ld.so.cache", "/etc/ld.so.preload")
LINKER_DIRECTORIES = ("/lib64", "/usr/lib64", "/lib/{triplet}", "/usr/lib/{triplet}")
# The CPUs glibc's sysconf and libgomp count, and the devices a library may open. Not the rest
# of /sys/devices/system (each CPU's frequency and idle time, each node's meminfo) nor
# /proc/meminfo and /proc/cpuinfo: each tells how busy another process keeps the machine.
SYSTEM_FILES = ("/sys/devices/system/cpu/online", "/sys/devices/system/cpu/possible",
                "/sys/devices/system/cpu/present", "/dev/null", "/dev/zero", "/dev/urandom",
                "/dev/random")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (or it is disabled)."""
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "aarch64"):
        return 0
    result = _libc().syscall(ctypes.c_long(CREATE_RULESET), None, ctypes.c_size_t(0),
                             ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(result), 0)


def _mapped_directories() -> set[str]:
    """The directories of every file this process has mapped (Python, its extensions, libc):
    wherever this Python lives, what it loads next lives beside what it loaded."""
    found = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(None, 5)[5].strip() if line.count(" ") >= 5 else ""
                if path.startswith("/") and not path.endswith(")"):
                    found.add(os.path.dirname(path))
    except (OSError, IndexError):
        pass
    return found


def readable_paths(library: str | None = None) -> list[str]:
    """What a confined runner may read: Python's standard library, the directories of every
    library already loaded, those the dynamic linker searches, its own /proc entry, the count
    of CPUs and a few devices, and ``library``'s directory. Nothing else is a file both
    runners may read, to leave a mark in (a lock, a page found cached): not /etc, /usr, /opt,
    the virtual environment's packages, /tmp, /var/tmp or /dev/shm (another runner's library),
    another process's /proc (its CPU time, its state, its command line), the home directories."""
    triplet = getattr(sys.implementation, "_multiarch", "") or f"{os.uname().machine}-linux-gnu"
    paths = [os.path.dirname(os.__file__), *sorted(_mapped_directories()),
             *(path.format(triplet=triplet) for path in LINKER_DIRECTORIES), *LINKER_FILES,
             f"/proc/{os.getpid()}", *SYSTEM_FILES]
    if library:
        paths.append(os.path.dirname(os.path.abspath(library)))
    # A library loaded from the root, or a standard library there, would grant everything.
    return [path for path in dict.fromkeys(paths)
            if os.path.exists(path) and os.path.realpath(path) not in ("/", "/proc", "/tmp")]


def restrict_files(readable: Sequence[str]) -> str:
    """Landlock: from now on this process (and threads it starts) reads only beneath
    ``readable`` and writes nowhere; where the ABI has scopes, it signals no process outside
    its own domain. Call it while the process has one thread (Landlock binds the caller's), and
    after PR_SET_NO_NEW_PRIVS. A sentence starting with "installed" or "not installed"."""
    abi = landlock_abi()
    if abi <= 0:
        return "not installed: this kernel has no Landlock (other processes' /proc readable)"
    fs_rights = LANDLOCK_FS_RIGHTS[max(v for v in LANDLOCK_FS_RIGHTS if v <= abi)]
    attr = struct.pack("<QQQ", fs_rights, LANDLOCK_NET_RIGHTS if abi >= 4 else 0,
                       LANDLOCK_SCOPES if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    libc = _libc()
    buffer = ctypes.create_string_buffer(attr, 24)
    ruleset = libc.syscall(ctypes.c_long(CREATE_RULESET), buffer,
                           ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"not installed: Landlock refused a ruleset ({os.strerror(ctypes.get_errno())})"
    try:
        granted = 0
        for path in readable:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE
                if os.path.isdir(path):
                    rights |= LANDLOCK_ACCESS_FS_READ_DIR
                rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, fd), 12)
                if libc.syscall(ctypes.c_long(ADD_RULE),
                                ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                                rule, ctypes.c_uint32(0)) == 0:
                    granted += 1
            finally:
                os.close(fd)
        args = (ctypes.c_ulong(a) for a in (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        if libc.prctl(*args) != 0:
            return f"not installed: PR_SET_NO_NEW_PRIVS failed ({os.strerror(ctypes.get_errno())})"
        if libc.syscall(ctypes.c_long(RESTRICT_SELF), ctypes.c_int(ruleset),
                        ctypes.c_uint32(0)) != 0:
            return f"not installed: Landlock refused ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    scoped = ", no signals out of its domain" if abi >= 6 else ""
    return f"installed: Landlock ABI {abi}, reads beneath {granted} paths, no writes{scoped}"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
