"""Evaluations across nodes: each slot of the pool is a Ray actor holding a warm Worker.

Ray places the actors (one whole GPU each on a GPU target: ``num_gpus=1``; one CPU on the CPU
target) and sets ``CUDA_VISIBLE_DEVICES`` in each, which its Worker's process inherits. The
session stays in this process, its one writer: an actor returns the EvalResult (pickled, as a
local worker's socket carries it) and never sees the store. An actor that dies with its
evaluation (its node lost, killed) raises WorkerLost here; the evaluator asks again on the next
free slot, and this one starts a new actor when next used, which Ray places where it can.

Imported only when ``avo run --ray`` is given: Ray is an optional dependency.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any

from ..evaluation import (
    EvalRequest,
    EvalResult,
    TargetFileError,
    TargetSpec,
    Worker,
    WorkerError,
)
from ..evaluation.results import Failure
from ..evaluation.targets.file import get_target
from .protocol import ProgressCallback, WorkerLost, WorkerPool

try:
    import ray
    import ray.exceptions as ray_errors
except ImportError:  # the message is tested in a process that cannot import Ray
    ray = None  # type: ignore[assignment]

INSTALL = "pip install 'avo-tui[ray]'"
NAMESPACE = "avo"
CONNECT_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 10.0  # placing an actor (a GPU may be busy elsewhere) and its warm-up


def _lost_errors() -> tuple[type[BaseException], ...]:
    """What Ray raises when the actor or its node went away, as opposed to an error of ours."""
    assert ray is not None
    return (ray_errors.RayActorError, ray_errors.WorkerCrashedError, ray_errors.NodeDiedError,
            ray_errors.ObjectLostError, ray_errors.LocalRayletDiedError,
            ray_errors.ActorUnschedulableError)


class EvalActor:
    """Lives in a Ray worker process: one warm Worker, fed one request at a time."""

    def __init__(self, device: str) -> None:
        self.worker = Worker(device)
        self.worker.start()

    def ready(self) -> dict[str, object]:
        return self.worker.wait_ready()

    def evaluate(self, request: EvalRequest, timeout_s: float | None
                 ) -> Iterator[tuple[str, Any]]:
        """Progress as it comes, then the result: ("progress", (phase, detail)) ...
        ("result", EvalResult)."""
        updates: queue.Queue[tuple[str, Any]] = queue.Queue()

        def run() -> None:
            try:
                result = self.worker.evaluate(
                    request, timeout_s, lambda *p: updates.put(("progress", p)))
                updates.put(("result", result))
            except BaseException as error:  # raised again below, to the caller
                updates.put(("error", error))

        threading.Thread(target=run, daemon=True).start()
        while True:
            kind, payload = updates.get()
            if kind == "error":
                raise payload
            yield kind, payload
            if kind == "result":
                return

    def check_target(self, ref: str) -> None:
        self.worker.check_target(ref)

    def stop(self) -> None:
        self.worker.stop()


@functools.cache
def _actor_class() -> Any:
    return ray.remote(EvalActor)


class RayWorker:
    """One slot of the pool, seen from this process as a Worker is: its actor is started on
    first use and replaced after it died."""

    def __init__(self, device: str, options: dict[str, Any], name: str) -> None:
        assert ray is not None
        self.device = device
        self.info: dict[str, object] = {}
        self._options = options
        self._name = name
        self._started = 0
        self._actor: Any = None
        self._lock = threading.Lock()  # the actor handle, against interrupt() from any thread
        self._evaluating = False
        self._cut_reason: str | None = None

    def start(self) -> None:
        with self._lock:
            if self._actor is None:
                self._started += 1
                self.info = {}
                self._actor = _actor_class().options(
                    name=f"{self._name}.{self._started}", namespace=NAMESPACE, max_restarts=0,
                    **self._options).remote(self.device)

    def wait_ready(self) -> dict[str, object]:
        if self.info and self._actor is not None:
            return dict(self.info)
        self.start()
        try:
            self.info = ray.get(self._actor.ready.remote(), timeout=READY_TIMEOUT_S)
        except ray_errors.RayTaskError as error:
            raise _cause(error) from None
        except _lost_errors() as error:
            self._forget()
            raise WorkerLost(f"its Ray actor died while starting: {_why(error)}") from None
        except ray_errors.GetTimeoutError:
            self._forget(kill=True)
            raise WorkerLost(f"no Ray actor was ready within {READY_TIMEOUT_S:.0f} s (no free "
                             "GPU in the cluster?)") from None
        return dict(self.info)

    def evaluate(
        self,
        request: EvalRequest,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EvalResult:
        self.wait_ready()
        with self._lock:
            self._cut_reason, self._evaluating = None, True
            actor = self._actor
        phase = "starting"
        try:
            for ref in actor.evaluate.remote(request, timeout_s):
                kind, payload = ray.get(ref)
                if kind == "result":
                    return payload  # type: ignore[no-any-return]
                phase = f"{payload[0]} {payload[1]}".strip()
                if on_progress is not None:
                    on_progress(*payload)
            raise WorkerLost("its Ray actor ended the evaluation without a result")
        except ray_errors.RayTaskError as error:
            raise _cause(error) from None
        except _lost_errors() as error:
            self._forget()
            if self._cut_reason is not None:
                return self._interrupted(request, f"{self._cut_reason} while {phase}")
            raise WorkerLost(f"its Ray actor was lost while {phase}: {_why(error)}") from None
        except BaseException:  # Ctrl-C: the evaluation in flight ends with its actor, now
            self._forget(kill=True)
            raise
        finally:
            with self._lock:
                self._evaluating = False
                cut_late = self._cut_reason is not None and self._actor is not None
            if cut_late:  # killed just after its result came: the next one needs a new actor
                self._forget()

    def check_target(self, ref: str) -> None:
        self.wait_ready()
        try:
            ray.get(self._actor.check_target.remote(ref))
        except ray_errors.RayTaskError as error:
            raise _cause(error) from None
        except _lost_errors() as error:
            self._forget()
            raise WorkerLost(f"its Ray actor was lost while checking the target: "
                             f"{_why(error)}") from None

    def interrupt(self, reason: str) -> bool:
        """Cut the evaluation in flight short: its actor is killed (a new one serves the next
        evaluation), and it returns ``interrupted``."""
        with self._lock:
            if not self._evaluating or self._actor is None:
                return False
            self._cut_reason = reason
            ray.kill(self._actor, no_restart=True)
            return True

    def stop(self, kill: bool = False) -> None:
        with self._lock:
            actor, self._actor = self._actor, None
            busy = self._evaluating
        if actor is None:
            return
        if not kill and not busy:
            with contextlib.suppress(Exception):  # it is killed below either way
                ray.get(actor.stop.remote(), timeout=STOP_TIMEOUT_S)
        ray.kill(actor, no_restart=True)

    def _forget(self, kill: bool = False) -> None:
        with self._lock:
            actor, self._actor = self._actor, None
            self.info = {}
        if kill and actor is not None:
            ray.kill(actor, no_restart=True)

    def _interrupted(self, request: EvalRequest, message: str) -> EvalResult:
        target = get_target(request.target)
        return EvalResult(
            target=target.name, toolchain=target.toolchain, device=self.device,
            unit=target.unit, seed=request.seed if request.seed is not None else -1,
            quick=request.quick, failure=Failure("interrupted", message),
        )


def _cause(error: BaseException) -> BaseException:
    """What an actor raised: WorkerError (its worker cannot start there) and TargetFileError
    (the target is unusable) as one line, without the remote traceback Ray adds; anything else
    (a bug) as Ray gave it."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, WorkerError):
        return WorkerError(f"on a Ray actor: {cause}")
    if isinstance(cause, TargetFileError):
        return TargetFileError(str(cause))
    return error


def _why(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


NO_LOCAL_CLUSTER = ("no Ray cluster runs on this machine (start one with `ray start --head`, "
                    "or give --ray the head node's HOST:PORT)")


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` (``auto``: the one this machine is part of); True
    when this call connected (and so its pool disconnects when it stops)."""
    if ray is None:
        raise WorkerError(f"--ray needs Ray, which is not installed: {INSTALL}")
    if ray.is_initialized():
        return False
    _reachable(address)
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if address == "auto" and isinstance(error, ConnectionError):
            first = NO_LOCAL_CLUSTER  # Ray's own words name its flags, not avo's
        raise WorkerError(f"cannot join the Ray cluster at {address}: {first}") from None
    return True


def _reachable(address: str) -> None:
    """A HOST:PORT that does not answer is one line at once (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # auto, or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise WorkerError(f"cannot join the Ray cluster at {address}: {reason.lower()}"
                          ) from None


def actor_options(target: TargetSpec) -> dict[str, Any]:
    """Whole GPUs only: two timings never share a GPU."""
    if target.device == "cpu":
        return {"num_cpus": 1, "num_gpus": 0}
    return {"num_cpus": 1, "num_gpus": 1}


def ray_pool(target: TargetSpec, address: str, workers: int | None, name: str) -> WorkerPool:
    """A pool of ``workers`` Ray actors (default: one per GPU of the cluster on a GPU target,
    one on the CPU target), on the cluster at ``address``."""
    owned = connect(address)
    try:
        if workers is None and target.device != "cpu":
            workers = int(ray.cluster_resources().get("GPU", 0))  # type: ignore[no-untyped-call]
            if workers == 0:
                raise WorkerError(f"the Ray cluster at {address} has no GPU for {target.name}")
        tag = f"avo-{name}-{secrets.token_hex(3)}"  # one run's actors; ray list actors shows it
        slots = [RayWorker(target.device, actor_options(target), f"{tag}-{n}")
                 for n in range(workers or 1)]
    except BaseException:
        if owned:
            ray.shutdown()
        raise
    return WorkerPool(slots, on_stop=ray.shutdown if owned else None)
