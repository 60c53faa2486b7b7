"""Running C kernels: each loaded candidate in a process of its own (runner.py), on shared memory.

The worker holds the clock, the reference, the comparator and the baselines; the candidate's
native code never enters it. The runner is confined before the library loads (sandbox.py: no
new processes, no signals, scheduling or ptrace of others, no IPC, no file writes, a uid of its
own) and frozen with SIGSTOP whenever the worker is not timing one of its launches, so nothing
it starts can run while inputs are written, outputs read, baselines or another kernel timed. A
launch is timed by the worker, from outside: from waking the runner to its answer. Work left
running after a launch returns is caught by an idle probe after each configuration.

Whatever goes wrong in a runner is raised as a KernelFailed naming the runner, so the evaluation
can say whose failure it was: a death (KernelCrashed), a launch past its limit (KernelHung, the
runner killed, the worker kept), or a change made to it from outside while it was frozen
(KernelInterfered: its threads' CPU affinity, nice value or scheduling policy differ from what
they were when it stopped, or it ran while stopped). A frozen runner cannot change itself, so
such a change is another process's doing: in the gate, the other kernel's. A death while frozen
is the runner's own (KernelCrashed) all the same: no other kernel can signal it, and what else
could end it then is its own doing, a timer it armed (walled since issue 69) or the memory it
took (the OOM killer's first choice is a runner).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import platform
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch

from ..declarations.contract import MissingEntry
from ..targets.problem import Config, InputSet, OutputSet, Problem
from ..toolchains.c import cpu_model
from .frozen import IDLE_CPU_LIMIT_S, ThreadState, dying, interference, thread_states
from .power import Sample, WallClock, no_samples
from .timing import sequence_wall

RUNNER = Path(__file__).parents[1] / "isolation" / "runner.py"
# A parameter's kind -> its letter in the runner's signature, and how a message holds it
# (runner.FIELDS): a pointer as its byte offset in the arena, a 32-bit int, a 32-bit float.
LETTERS = {"input": "p", "output": "p", "int": "i", "float": "f"}
STRUCT_CODES = {"p": "Q", "i": "i", "f": "f"}
READY, MISSING, DONE = b"R", b"M", b"D"
TENSOR_ALIGN = 64  # bytes: each tensor in the arena starts on a cache line
MIN_ARENA_BYTES = 64 << 20  # sparse: only the pages a launch touches are ever allocated
STARTUP_TIMEOUT_S = 60.0
# A launch's limit where the parent gave the worker no silence limit (a runner used directly).
LAUNCH_TIMEOUT_S = 600.0
# While a launch runs, the worker tells its parent it is alive this often, so that the
# parent's silence limit never ends a hang the worker can pin on one runner.
ALIVE_EVERY_S = 1.0
OUTPUT_TAIL_BYTES = 2000  # of what a runner printed, kept to explain its death
IDLE_PROBE_S = 0.02
# More than this in one probe is work, whatever the machine's load. Less (but over the limit) is
# looked at again: on a loaded virtual machine, time the hypervisor steals while the waking
# runner is the current task is charged to it (7 ms was seen in CI for an honest kernel).
IDLE_CPU_SURE_S = IDLE_PROBE_S / 2
# A thread of a runner killed while frozen passes in microseconds from SIGKILL pending to
# exiting; a second and third look, a few ms apart, find it on one side or the other.
DYING_LOOKS, DYING_GAP_S = 3, 0.002
# How a runner dies when an allocation failed: a fault or an abort after malloc returned NULL,
# or the OOM killer's SIGKILL.
MEMORY_DEATHS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGKILL})
# The runner sees only these: no API keys or other secrets of the user's environment.
RUNNER_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES")


class KernelFailed(RuntimeError):
    """Something went wrong in the process of ``kernel`` (a RunnerKernel); ``kind`` is the
    failure kind it stands for (results.FAILURE_KINDS)."""

    kind = "crash"

    def __init__(self, message: str, kernel: object = None) -> None:
        super().__init__(message)
        self.kernel = kernel


class KernelCrashed(KernelFailed):
    """The kernel's process died (a fault, a forbidden system call, an abort, an exit)."""


class KernelHung(KernelFailed):
    """A launch ran past its limit; the kernel's process was killed."""

    kind = "hang"


class KernelInterfered(KernelFailed):
    """The kernel's process was changed from outside while it was frozen."""

    kind = "interference"


class RunnerOutput:
    """What a runner writes to its stdout and stderr: a pipe of its own, drained by a thread
    of the worker, its tail kept. Never a file another runner could open or read back."""

    def __init__(self, stream: object) -> None:
        self._fd = stream.fileno()  # type: ignore[attr-defined]
        self._tail = b""
        self._thread = threading.Thread(target=self._drain, name="runner-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self._tail = (self._tail + chunk)[-OUTPUT_TAIL_BYTES:]

    def tail(self) -> str:
        """The last lines it wrote, once it has ended (waiting briefly for the pipe's end)."""
        self._thread.join(timeout=1.0)
        lines = [line for line in self._tail.decode(errors="replace").splitlines()
                 if line.strip()]
        return "\n".join(lines[-5:])


def signal_name(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return name + (" (a forbidden system call)" if number == signal.SIGSYS else "")
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class RunnerKernel:
    """The worker's handle on one candidate library loaded in its own runner process."""

    def __init__(self, artifact: bytes, entry: str, problem: Problem,
                 launch_limit_s: float = LAUNCH_TIMEOUT_S,
                 alive: Callable[[], None] | None = None) -> None:
        self._launch_limit_s = launch_limit_s
        self._alive = alive
        self._dir = tempfile.mkdtemp(prefix="avo-lib-")
        os.chmod(self._dir, 0o755)  # the runner may run as an unprivileged user
        self._library = Path(self._dir) / "kernel.so"
        self._library.write_bytes(artifact)
        os.chmod(self._library, 0o644)
        self._entry = entry
        self._problem = problem
        self._signature = "".join(LETTERS[p.kind] for p in problem.parameters)
        self._launch = struct.Struct(
            "<" + "".join(STRUCT_CODES[letter] for letter in self._signature))
        self._proc: subprocess.Popen[bytes] | None = None
        self._status: int | None = None  # the runner's wait status once it has ended
        self._conn: socket.socket | None = None
        self._arena_fd = -1
        # a byte view over the shared memory; numpy copies on one thread, where torch's
        # parallel copies stall for a scheduler tick whenever another process holds a core
        self._arena: np.ndarray | None = None
        self._arena_bytes = 0
        self._message = b""
        # (parameter name, byte offset, byte count) of each tensor of the staged launch
        self._layout: list[tuple[str, int, int]] = []
        self.confinement: dict[str, object] = {}
        self._output: RunnerOutput | None = None
        self._stopped_as: dict[int, ThreadState] = {}  # its threads as it was frozen
        self._spawn(MIN_ARENA_BYTES)

    # -- the runner's life -----------------------------------------------------------------

    def _spawn(self, arena_bytes: int) -> None:
        self._end_runner()
        self._arena_fd = os.memfd_create("avo-arena")
        os.ftruncate(self._arena_fd, arena_bytes)
        self._arena_bytes = arena_bytes
        mapping = mmap.mmap(self._arena_fd, arena_bytes)
        self._arena = np.frombuffer(mapping, dtype=np.uint8)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items() if k in RUNNER_ENVIRONMENT}
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # idle OpenMP threads sleep rather than spin
        self._proc = subprocess.Popen(
            [
                sys.executable, "-I", "-S", str(RUNNER), str(child.fileno()),
                str(self._arena_fd), str(arena_bytes), str(self._library), self._entry,
                self._signature,
            ],
            pass_fds=(child.fileno(), self._arena_fd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self._output = RunnerOutput(self._proc.stdout)
        child.close()
        self._conn = parent
        limit = min(STARTUP_TIMEOUT_S, self._launch_limit_s)
        if not self._answered_within(limit):
            self._end_runner()
            raise KernelHung(f"the kernel did not load within {limit:.0f} s; its process was "
                             "killed", self)
        try:
            reply = parent.recv(1 << 16)
        except OSError:
            reply = b""
        if reply.startswith(MISSING):
            self._end_runner()
            raise MissingEntry(
                f"the library exports no function {self._entry}; "
                "declare it with external linkage (not static)"
            )
        if not reply.startswith(READY):
            detail = reply[1:].decode(errors="replace") or self._death("while loading")
            self._end_runner()
            raise OSError(detail)
        self.confinement = json.loads(reply[1:] or b"{}")
        self._freeze()

    def _answered_within(self, limit_s: float) -> bool:
        """Whether the runner's answer came within ``limit_s``; meanwhile the worker's parent
        hears every ALIVE_EVERY_S that the worker itself is alive."""
        assert self._conn is not None
        deadline = time.perf_counter() + limit_s
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            readable, _, _ = select.select([self._conn], [], [], min(left, ALIVE_EVERY_S))
            if readable:
                return True
            if self._alive is not None:
                self._alive()

    def _freeze(self) -> None:
        """SIGSTOP the runner and wait until it has stopped: from here on, nothing of the
        candidate's runs (it cannot make processes the signal would miss). Its threads'
        states are noted, for _thaw to find them unchanged."""
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGSTOP)
        _, status = os.waitpid(self._proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            self._ended(status)
            raise KernelCrashed(self._death_message("as it was being frozen"), self)
        self._stopped_as = thread_states(self._proc.pid)

    def _thaw(self) -> None:
        """SIGCONT, once the runner is found as it was frozen (KernelInterfered otherwise)."""
        assert self._proc is not None
        self.check_untouched()
        os.kill(self._proc.pid, signal.SIGCONT)

    def check_untouched(self) -> None:
        """Raise KernelInterfered if the frozen runner was changed from outside (interference):
        a runner that is frozen cannot have changed itself; KernelCrashed if it died, a death
        that is its own (the module's docstring says why), found dead or on its way out."""
        assert self._proc is not None
        pid, status = os.waitpid(self._proc.pid, os.WNOHANG)
        if pid:
            self._died_frozen(status)
        changed = interference(self._stopped_as, thread_states(self._proc.pid))
        if changed is None:
            return
        if self._dying():  # its threads change as they exit
            self._died_frozen(os.waitpid(self._proc.pid, 0)[1])
        self._end_runner()
        raise KernelInterfered(changed, self)

    def _dying(self) -> bool:
        assert self._proc is not None
        for look in range(DYING_LOOKS):
            if look:
                time.sleep(DYING_GAP_S)
            if dying(self._proc.pid):
                return True
        return False

    def _died_frozen(self, status: int) -> NoReturn:
        self._ended(status)
        raise KernelCrashed(self._death_message(
            "while it was frozen between launches: no other kernel can signal it, so this "
            "death is its own"), self)

    def _ended(self, status: int) -> None:
        assert self._proc is not None
        self._status = status
        self._proc.returncode = os.waitstatus_to_exitcode(status)

    def _death(self, when: str) -> str:
        assert self._proc is not None
        if self._status is None:
            _, status = os.waitpid(self._proc.pid, 0)
            self._ended(status)
        return self._death_message(when)

    def _death_message(self, when: str) -> str:
        """Its death, ``when`` it came, in words, with what may explain it: its memory limit,
        and what it printed last."""
        assert self._status is not None
        return (f"the kernel's process died with {signal_name(self._status)} {when}"
                f"{self._memory_note()}{self._printed()}")

    def _memory_note(self) -> str:
        """Its memory limit, where an allocation that failed may explain its death (a fault or
        an abort after malloc returned NULL, or the OOM killer's SIGKILL)."""
        assert self._status is not None
        memory = self.confinement.get("memory")
        if not (isinstance(memory, str) and memory.startswith("at most")
                and os.WIFSIGNALED(self._status)
                and os.WTERMSIG(self._status) in MEMORY_DEATHS):
            return ""
        return (f"; its process may map {memory}: past that an allocation fails (malloc "
                "returns NULL), and where the machine runs out of memory first, the OOM "
                "killer ends a runner")

    def _printed(self) -> str:
        """What the runner printed last, for a message about its death."""
        tail = self._output.tail() if self._output is not None else ""
        return f"; it printed:\n{tail}" if tail else ""

    def _end_runner(self) -> None:
        if self._proc is not None:
            if self._status is None:
                # os.kill, not Popen.kill, which would reap it first (polling) and leave
                # nothing for the wait here
                os.kill(self._proc.pid, signal.SIGKILL)  # also ends a stopped process
                _, status = os.waitpid(self._proc.pid, 0)
                self._ended(status)
            self._proc = None
            self._status = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._arena = None
        self._output = None
        if self._arena_fd >= 0:
            os.close(self._arena_fd)
            self._arena_fd = -1

    # -- launches ---------------------------------------------------------------------------

    def stage(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        """Copy the inputs and the poisoned output into the arena, while the runner is frozen,
        each tensor's bytes at an offset aligned to TENSOR_ALIGN; the message holds every
        parameter in the entry point's order (runner.py)."""
        parameters = self._problem.parameters
        tensors = inputs.named | outs.named
        total = sum(_aligned(t.numel() * t.element_size()) for t in tensors.values())
        if total > self._arena_bytes:
            self._spawn(max(2 * self._arena_bytes, total))
        assert self._arena is not None
        scalars = self._problem.scalars(config)
        self._layout = []
        values: list[int | float] = []
        start = 0
        for parameter in parameters:
            if not parameter.is_tensor:
                values.append(scalars[parameter.name])
                continue
            raw = _bytes(tensors[parameter.name])
            self._arena[start : start + raw.size] = raw
            self._layout.append((parameter.name, start, raw.size))
            values.append(start)
            start += _aligned(raw.size)
        self._message = self._launch.pack(*values)

    def fire(self) -> float:
        """One launch, timed by the worker: from waking the runner to its answer."""
        assert self._conn is not None and self._proc is not None
        self.check_untouched()
        start = time.perf_counter_ns()
        os.kill(self._proc.pid, signal.SIGCONT)
        with contextlib.suppress(OSError):  # it died: no answer comes, and its death says why
            self._conn.send(self._message)
        if not self._answered_within(self._launch_limit_s):
            self._end_runner()
            raise KernelHung(f"a launch ran past {self._launch_limit_s:g} s; the kernel's "
                             "process was killed", self)
        try:
            reply = self._conn.recv(16)
        except OSError:
            reply = b""
        elapsed = (time.perf_counter_ns() - start) * 1e-9
        if reply != DONE:
            raise KernelCrashed(self._death("during a launch"), self)
        self._freeze()
        return elapsed

    def launcher(self, config: Config, inputs: InputSet, outs: OutputSet
                 ) -> Callable[[], None]:
        """A launch on these tensors: each call stages them into the arena, which holds one
        launch's tensors at a time, then fires."""
        def again() -> None:
            self.stage(config, inputs, outs)
            self.fire()
        return again

    def settle(self, inputs: InputSet, outs: OutputSet) -> None:
        """Copy the outputs, and the inputs as the kernel left them, back from the arena."""
        assert self._arena is not None
        tensors = inputs.named | outs.named
        for name, offset, count in self._layout:
            np.copyto(_bytes(tensors[name]), self._arena[offset : offset + count])

    def launch(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        self.stage(config, inputs, outs)
        self.fire()
        self.settle(inputs, outs)

    def renew(self) -> None:
        """A new runner process, the library loaded afresh. Seen on the CPU target: one process
        could run the same code measurably slower than another for its whole life (its stack and
        mappings land elsewhere), which timing rounds within one process cannot average out."""
        self._spawn(self._arena_bytes)

    @property
    def writes_in_place(self) -> bool:
        return False  # settle copies the last launch's outputs back from the arena

    @property
    def fresh_on_renew(self) -> bool:
        return True

    def signature(self, config: Config) -> None:
        """Nothing beyond the code: the harness calls every C kernel the same way."""

    def check_idle(self) -> str | None:
        """Let the runner run with nothing to do for a moment: an honest one stays asleep."""
        if self._proc is None or self._status is not None or self._conn is None:
            return None
        return idle_problem(self._idle_probe)

    def _idle_probe(self) -> float | None:
        """The CPU the runner used in one probe while asked nothing; None if it spoke."""
        assert self._proc is not None and self._conn is not None
        before = _cpu_seconds(self._proc.pid)
        self._thaw()
        readable, _, _ = select.select([self._conn], [], [], IDLE_PROBE_S)
        self._freeze()
        return None if readable else _cpu_seconds(self._proc.pid) - before

    def close(self) -> None:
        self._end_runner()
        shutil.rmtree(self._dir, ignore_errors=True)


def idle_problem(probe: Callable[[], float | None]) -> str | None:
    """What an idle runner did wrong, from ``probe`` (its CPU in one idle window; None when it
    sent a message): CPU past the limit in a window, where a use under IDLE_CPU_SURE_S must
    show again in a second window (a hog thread does; an accounting blip does not)."""
    used = probe()
    if used is not None and IDLE_CPU_LIMIT_S < used <= IDLE_CPU_SURE_S:
        used = probe()
    if used is None:
        return "the kernel's process sent a message nobody asked for"
    if used > IDLE_CPU_LIMIT_S:
        return (
            f"the kernel's process used {used * 1e3:.1f} ms of CPU in the "
            f"{IDLE_PROBE_S * 1e3:.0f} ms after its launches returned, with nothing asked of "
            "it; a launch must finish its work before it returns"
        )
    return None


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``."""
    return sum(state.cpu_s for state in thread_states(pid).values())


class CpuDevice:
    """The CPU as an evaluation device: wall-clock timing, host facts, a measured GEMM peak."""

    name = "cpu"
    arch = None  # the C toolchain builds for the host (-march=native)
    consistency_factor = 2.0  # single CPU launches vary more than GPU ones on a busy machine
    # A busy CPU moves a kernel and torch alike by 15-25% between evaluations either way; timing
    # the baseline again on every evaluation would cost more than it steadies.
    reuses_baselines = True
    time_sequence = staticmethod(sequence_wall)

    def __init__(self) -> None:
        self._peak: float | None = None
        self._launch_limit_s = LAUNCH_TIMEOUT_S
        self._alive: Callable[[], None] | None = None

    def watch_launches(self, limit_s: float, alive: Callable[[], None] | None) -> None:
        """Runners loaded from now on end a launch (or a load) that runs past ``limit_s`` as
        a hang, and call ``alive`` meanwhile to keep the worker's parent from giving up first."""
        self._launch_limit_s = limit_s
        self._alive = alive

    def load(
        self, artifact: bytes, entry: str, declarations: object, defines: dict[str, object],
        problem: Problem,
    ) -> RunnerKernel:
        return RunnerKernel(artifact, entry, problem, self._launch_limit_s, self._alive)

    def generator(self, seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    def synchronize(self) -> None:
        pass

    def stretch_clock(self) -> WallClock:
        return WallClock()

    def power_samples(self) -> AbstractContextManager[list[Sample]]:
        return no_samples()

    def flush_cache(self) -> None:
        """Nothing: the CPU target's inputs are small and every subject sees them written
        just before its launch alike."""

    def peak_flops(self) -> float:
        """float32 matmul FLOP/s on this machine, measured once: attention cannot beat it."""
        if self._peak is None:
            n = 1024
            a, b = torch.randn(n, n), torch.randn(n, n)
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                a @ b
                best = min(best, time.perf_counter() - start)
            self._peak = 2 * n**3 / best
        return self._peak

    # The CPU's inputs are written just before each launch and its caches never flushed, so a
    # launch's bytes may come from cache rather than memory: a memcpy's rate bounds nothing.
    bandwidth_note = ("on the CPU a launch's inputs are written just before it and its caches "
                      "are not flushed, so its bytes may come from cache rather than memory: no "
                      "measured bandwidth bounds them")

    def peak_bandwidth(self) -> float | None:
        return None

    def facts(self) -> dict[str, object]:
        """What the agent is told about this machine, its GEMM peak measured (not part of
        host_info, which keys reused baseline timings: a measurement would change it)."""
        return {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "peak_fp32_gflops": round(self.peak_flops() / 1e9, 1),
        }

    def host_info(self) -> dict[str, object]:
        return {
            "device": "cpu",
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch": str(torch.__version__),  # a plain str: unpickled, TorchVersion imports torch
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        }


def _aligned(size: int) -> int:
    return -(-size // TENSOR_ALIGN) * TENSOR_ALIGN


def _bytes(tensor: torch.Tensor) -> np.ndarray:
    """A contiguous CPU tensor's memory as numpy bytes (any dtype, bool included)."""
    return tensor.reshape(-1).view(torch.uint8).numpy()
