"""The isolated evaluation worker: a spawned process per device, kept warm, killed when it hangs.

A candidate's code runs only in the worker. The parent talks to it over a socket pair
(multiprocessing's Connection framing), never over stdout, so a kernel that prints cannot
corrupt the protocol; the worker's stdout and stderr go to a log file whose tail explains a
crash. The parent waits for progress messages: a worker silent for longer than the timeout is
presumed hung, killed and respawned, and the candidate fails with the phase it was in.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

from ..results import EvalRequest, EvalResult, Failure
from ..targets.api import TargetFileError
from ..targets.file import get_target
from ..targets.spec import UnknownTarget
from .sandbox import make_undumpable

ProgressCallback = Callable[[str, str], None]
STARTUP_TIMEOUT_S = 180.0
RECYCLE_AFTER = 500  # evaluations; bounds what a long run's kernels can leak into the worker
LOG_TAIL_BYTES = 4000
PARENT_POLL_S = 1.0  # how often a worker looks whether its parent is still there


# A candidate's code may read its process's environment: keys and tokens stay with avo.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|AUTH", re.IGNORECASE)


def worker_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}


class WorkerError(RuntimeError):
    """The worker could not be started: a problem with this machine, not with a candidate."""


def signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "an unknown cause"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class Worker:
    """The parent's handle on one worker process. Not thread-safe across callers: one lock."""

    def __init__(
        self,
        device: str = "cpu",
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        *,
        gpu: str | int | None = None,
    ) -> None:
        self.device = device
        # The CUDA_VISIBLE_DEVICES value the worker's process is started with, so it sees one
        # GPU only (a pool leases each GPU to one evaluation at a time); None: this process's.
        self.gpu = None if gpu is None else str(gpu)
        self.startup_timeout_s = startup_timeout_s
        self.restarts = 0
        self.evaluations = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._log_path: Path | None = None
        self._lock = threading.Lock()
        self._cut_lock = threading.Lock()  # interrupt() against the start and end of evaluate()
        self._evaluating = False
        self._cut_reason: str | None = None
        self.info: dict[str, object] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the process; it imports torch while the caller carries on."""
        if self._proc is not None:
            return
        parent_sock, child_sock = socket.socketpair()
        fd, log_name = tempfile.mkstemp(prefix="avo-worker-", suffix=".log")
        self._log_path = Path(log_name)
        # PASSIVE: torch's OpenMP threads in the worker sleep once their work is done. Left
        # spinning, they would hold cores while a CPU candidate runs in its own process, and a
        # kernel's threads would gain little (seen on two cores: well under what they gain
        # beside a sleeping worker).
        env = dict(worker_environment(), PYTHONFAULTHANDLER="1", PYTHONUNBUFFERED="1",
                   OMP_WAIT_POLICY="PASSIVE")
        if self.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "avo_tui.evaluation.isolation.worker",
                "--fd",
                str(child_sock.fileno()),
                "--device",
                self.device,
            ],
            pass_fds=(child_sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the parent, which stops the worker itself
        )
        os.close(fd)
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self._ready = False

    def _await_ready(self) -> Connection:
        self.start()
        assert self._conn is not None and self._proc is not None
        if self._ready:
            return self._conn
        if not self._conn.poll(self.startup_timeout_s):
            self.stop(kill=True)
            raise WorkerError(
                f"the evaluation worker did not start within {self.startup_timeout_s:.0f} s"
            )
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.wait()
            tail = self.log_tail()
            self._discard()
            raise WorkerError(
                f"the evaluation worker exited during startup ({signal_name(code)}):\n{tail}"
            ) from None
        if kind == "error":
            self.stop(kill=True)
            raise WorkerError(f"the evaluation worker cannot run here: {payload}")
        self.info = payload
        self._ready = True
        return self._conn

    def wait_ready(self) -> dict[str, object]:
        """Start the worker if needed and wait until it is ready; its host facts."""
        with self._lock:
            self._await_ready()
            return dict(self.info)

    def stop(self, kill: bool = False) -> None:
        proc, conn = self._proc, self._conn
        if proc is None:
            return
        if not kill and conn is not None:
            try:
                conn.send(("stop", None))
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                kill = True
        if kill or proc.poll() is None:
            proc.kill()
            proc.wait()
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
        self._proc = self._conn = self._log_path = None
        self._ready = False

    def _restart(self) -> None:
        self.stop(kill=True)
        self.restarts += 1
        self.start()

    def log_tail(self) -> str:
        if self._log_path is None:
            return ""
        try:
            with open(self._log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
                return f.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(
        self,
        request: EvalRequest,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EvalResult:
        """Run one evaluation; a hang or a crash becomes the candidate's failure, never ours."""
        target = get_target(request.target)
        silence_limit = timeout_s if timeout_s is not None else target.timeout_s
        with self._lock:
            if self.evaluations >= RECYCLE_AFTER:
                self._restart()
                self.evaluations = 0
            conn = self._await_ready()
            self.evaluations += 1
            with self._cut_lock:
                self._cut_reason, self._evaluating = None, True
            try:
                return self._exchange(conn, replace(request, silence_s=silence_limit),
                                      silence_limit, on_progress)
            finally:
                with self._cut_lock:
                    self._evaluating = False
                    killed_late = self._cut_reason is not None and self._proc is not None
                if killed_late:  # cut just after its result came: the next one starts afresh
                    self._discard_dead()

    def check_target(self, ref: str) -> None:
        """Check the target ``ref`` names in the worker as ``avo targets check`` does, all but
        its seed (its draws; its reference, honest computation and baselines on its edge
        configurations under every input case), before anything is scored on it; raises
        TargetFileError with check's one line where it is unusable."""
        limit = get_target(ref).timeout_s
        with self._lock:
            conn = self._await_ready()
            conn.send(("check", ref))
            try:
                if not conn.poll(limit):
                    self._restart()
                    raise TargetFileError(
                        f"checking the target went silent for {limit:g} s (its reference, "
                        "honest computation or baselines, on its edge configurations)")
                kind, payload = conn.recv()
            except (EOFError, OSError):
                assert self._proc is not None
                code = self._proc.wait()
                tail = _last_lines(self.log_tail(), 3)
                self._discard()
                raise WorkerError(f"the evaluation worker died with {signal_name(code)} while "
                                  f"checking the target:\n{tail}") from None
        if kind == "target_error":
            raise TargetFileError(payload)
        if kind == "error":
            raise WorkerError(f"checking the target failed in the worker:\n{payload}")

    def interrupt(self, reason: str) -> bool:
        """Cut the evaluation in flight short, from any thread: the worker is killed and that
        evaluation returns the failure ``interrupted`` with ``reason``, not ``crash``: nothing
        went wrong with the kernel. False when no evaluation was running."""
        with self._cut_lock:
            if not self._evaluating or self._proc is None:
                return False
            self._cut_reason = reason
            self._proc.kill()
            return True

    def _exchange(
        self,
        conn: Connection,
        request: EvalRequest,
        silence_limit: float,
        on_progress: ProgressCallback | None,
    ) -> EvalResult:
        conn.send(("evaluate", request))
        phase = "starting"
        while True:
            try:
                if not conn.poll(silence_limit):
                    return self._give_up(
                        request,
                        "timeout",
                        f"no progress for {silence_limit:g} s while {phase}; the worker "
                        "was killed and restarted",
                    )
                kind, payload = conn.recv()
            except (EOFError, OSError):
                if self._cut_reason is not None:
                    self._discard_dead()
                    return self._give_up(request, "interrupted",
                                         f"{self._cut_reason} while {phase}", restart=False)
                assert self._proc is not None
                code = self._proc.wait()
                tail = self.log_tail()
                detail = f"\n{_last_lines(tail, 3)}" if tail else ""
                return self._give_up(
                    request,
                    "crash",
                    f"the worker died with {signal_name(code)} while {phase}; it was "
                    f"restarted{detail}",
                )
            except KeyboardInterrupt:
                self._restart()
                raise
            if kind == "alive":  # a long launch of a C kernel: the worker is still in charge
                continue
            if kind == "progress":
                phase = f"{payload[0]} {payload[1]}".strip()
                if on_progress is not None:
                    on_progress(*payload)
            elif kind == "result":
                result: EvalResult = payload
                if result.failure is not None and result.failure.kind == "cuda_error":
                    self._restart()
                    result.worker_restarted = True
                return result
            elif kind == "error":
                return self._give_up(request, "internal", payload, restart=False)

    def _discard_dead(self) -> None:
        """Forget a worker that was killed; the next evaluation starts a new one when needed
        (not now: a run that is stopping has no use for it)."""
        if self._proc is not None:
            self._proc.wait()
        self._discard()

    def _give_up(
        self, request: EvalRequest, kind: str, message: str, restart: bool = True
    ) -> EvalResult:
        target = get_target(request.target)
        if restart:
            self._restart()
        result = EvalResult(
            target=target.name,
            toolchain=target.toolchain,
            device=self.device,
            unit=target.unit,
            seed=request.seed if request.seed is not None else -1,
            quick=request.quick,
            failure=Failure(kind, message),
            host=dict(self.info),
            worker_restarted=restart,
        )
        return result


def _last_lines(text: str, count: int) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])


# -- the worker process ------------------------------------------------------------------------


def serve(conn: Connection, device: str) -> None:
    try:
        from ..pipeline import Pipeline

        pipeline = Pipeline(device)
        info = pipeline.host_info()
    except Exception as error:  # reported to the parent, which explains it
        conn.send(("error", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", info))
    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:
            return  # the parent went away
        if kind == "stop":
            return
        if kind == "check":
            conn.send(_check_target(payload))
            continue
        if kind != "evaluate":
            continue
        try:
            result = pipeline.run(
                payload, lambda phase, detail: conn.send(("progress", (phase, detail))),
                alive=lambda: conn.send(("alive", None)),
            )
        except Exception:  # a harness bug must not take the worker down
            conn.send(("error", traceback.format_exc()))
            continue
        conn.send(("result", result))
        if pipeline.poisoned:
            return  # the CUDA context is unusable; the parent starts a fresh worker


def _check_target(ref: str) -> tuple[str, str | None]:
    """Worker.check_target's answer: ("checked", None), ("target_error", its one line), or
    ("error", a traceback) where the check itself failed."""
    from ..measurement.target_check import check_target, numerics_device  # torch: the worker's

    try:
        spec = get_target(ref)
        check_target(spec, numerics_device(spec))
    except (TargetFileError, UnknownTarget) as error:
        return ("target_error", str(error))
    except Exception:  # a harness bug must not take the worker down
        return ("error", traceback.format_exc())
    return ("checked", None)


def watch_parent(parent: int) -> None:
    """End this worker, and the processes of its kernels, once its parent is gone (a Ray actor
    killed, avo killed with -9): an orphan's timings would otherwise share the GPU with the
    next worker's, and a hung kernel would spin on."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        if os.getpgid(0) == os.getpid():  # started in a session of its own (Worker.start)
            os.killpg(0, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="avo-tui evaluation worker (started by avo)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the worker stops
    make_undumpable()  # no process of the same user may read or patch the harness's memory
    conn = Connection(args.fd)
    watch_parent(os.getppid())
    started = time.monotonic()
    try:
        serve(conn, args.device)
    finally:
        conn.close()
        print(f"worker exiting after {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
