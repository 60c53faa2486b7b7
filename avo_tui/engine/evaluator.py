"""The engine's side of evaluation: requests to the warm workers (one leased per evaluation),
and baselines kept per host (the scores the store keeps: scores.py)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..evaluation import EvalRequest, EvalResult, TargetSpec
from ..evaluation.paired import GatePlan
from ..evaluation.results import Failure, Timing
from ..pool import EvalWorker, WorkerLost, WorkerPool, gpu_label

Progress = Callable[[str, str], None]
Leased = Callable[[dict[str, object]], None]  # told the host facts of the worker leased
SOFTWARE = ("driver", "driver_cuda", "cuda", "cudnn", "torch")  # host facts the agent is told
# Where a GPU sits in CUDA_VISIBLE_DEVICES is not what it is: its uuid says which GPU it is.
NOT_HOST_KEY = ("gpu_index",)
MAX_LOST = 3  # tries of one request lost with their worker (a Ray actor) before it is given up


def host_key(info: Mapping[str, object]) -> str:
    """Baselines are only reused on the same machine and software (GPU, driver, torch...); on
    a GPU target that is the same GPU (its uuid is a host fact). Facts recorded before the
    uuid was make another key: their baselines are measured again."""
    facts = {k: str(v) for k, v in info.items() if k not in NOT_HOST_KEY}
    text = json.dumps(facts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stored_throughputs(target: TargetSpec, baselines: Mapping[str, Any],
                       host: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """{config: {baseline: throughput}} on the target's grids from the baseline timings a
    session stores ({host key: {config: {baseline: timing}}}), those of ``host``."""
    grid = {c.name: c for c in (*target.configs, *target.quick_configs)}
    return {
        config: {name: target.throughput(grid[config], t.median_s)
                 for name, t in timings.items() if t.median_s > 0}
        for config, timings in _stored_timings(baselines, host).items() if config in grid
    }


def _stored_timings(baselines: Mapping[str, Any], host: Mapping[str, object]
                    ) -> dict[str, dict[str, Timing]]:
    stored = baselines.get(host_key(host), {}) if host else {}
    return {
        config: {name: Timing.from_dict(doc) for name, doc in timings.items()}
        for config, timings in stored.items()
    }


def sources_key(files: Mapping[str, str]) -> str:
    """One hash for a candidate's whole source: the same files give the same key."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


class Evaluator:
    """Scores candidates for one session on a pool of warm workers (pool/): each
    evaluation leases one worker, so evaluations from several threads run side by side on
    different GPUs, and one request (the gate's candidate and best, interleaved) never spans
    two. Baseline timings measured on each host are kept in ``baselines`` ({host key: {config:
    {baseline: timing}}}), which the session stores, so a resumed run times only the candidate
    too."""

    def __init__(
        self,
        target: TargetSpec,
        worker: EvalWorker | WorkerPool,
        *,
        quick: bool = False,
        baselines: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        sustained_s: float = 0.0,
    ) -> None:
        self.target = target
        self.sustained_s = sustained_s  # EvalRequest.sustained_s, where evaluate is asked to
        self.pool = worker if isinstance(worker, WorkerPool) else WorkerPool([worker])
        self.quick = quick
        self.timeout_s = timeout_s
        self.baselines: dict[str, Any] = dict(baselines or {})
        self.count = 0
        self.baselines_changed = False  # new baseline timings the session has not saved yet
        self._books = threading.Lock()  # count and baselines, written after each evaluation

    @property
    def worker(self) -> EvalWorker:
        """The first worker: its host facts stand for the session's (``host()``)."""
        return self.pool.workers[0]

    @property
    def workers(self) -> list[EvalWorker]:
        return self.pool.workers

    def interrupt(self, reason: str) -> bool:
        """Cut every evaluation in flight short (each is recorded as ``interrupted``); False
        when none was running. Thread-safe."""
        return self.pool.interrupt(reason)

    def evaluate(
        self,
        files: Mapping[str, str],
        *,
        previous_best: float | None = None,
        fresh_baselines: bool = False,
        on_progress: Progress | None = None,
        quick: bool | None = None,  # None: the session's setting
        incumbent: Mapping[str, str] | None = None,  # timed beside, for the commit gate
        # the gate's sequential plan beside ``incumbent``; without one, a record's precision
        gate: GatePlan | None = None,
        on_lease: Leased | None = None,
        known: frozenset[str] = frozenset(),  # kernels judged before: built, not timed
        anchor: Mapping[str, str] | None = None,  # the seed as supplied (EvalRequest.anchor)
        sustained: bool = False,  # read back to back too, where the session asks (--sustained)
    ) -> EvalResult:
        """One evaluation on one leased worker (blocks until one is free). A try lost with its
        worker is asked again, noted in the result; after MAX_LOST it is ``interrupted``.
        ``on_lease`` is told the host facts (which GPU) of the worker each try leased."""
        request = EvalRequest(
            self.target.ref,
            dict(files),
            quick=self.quick if quick is None else quick,
            reuse_baselines=not fresh_baselines,
            previous_best=previous_best,
            incumbent=dict(incumbent) if incumbent is not None else None,
            gate=gate,
            known_kernels=known,
            anchor=dict(anchor) if anchor is not None else None,
            sustained_s=self.sustained_s if sustained else 0.0,
        )
        lost: list[str] = []
        while len(lost) < MAX_LOST:
            with self.pool.lease() as worker:
                try:
                    result = self._evaluate_on(worker, request, fresh_baselines, on_progress,
                                               on_lease)
                except WorkerLost as error:
                    lost.append(str(error))
                    if on_progress is not None:
                        on_progress("retrying", f"{error}; asking again")
                    continue
            result.notes.extend(f"a try was lost ({why}) and evaluated again" for why in lost)
            return result
        return self._lost(request, lost)

    def _evaluate_on(
        self,
        worker: EvalWorker,
        request: EvalRequest,
        fresh_baselines: bool,
        on_progress: Progress | None,
        on_lease: Leased | None = None,
    ) -> EvalResult:
        info = worker.wait_ready()  # its host facts say which stored baselines apply
        if on_lease is not None:
            on_lease(info)
        request.known_baselines = {} if fresh_baselines else self._known(info)
        result = worker.evaluate(request, timeout_s=self.timeout_s, on_progress=on_progress)
        with self._books:
            self.count += 1
            self._remember(result)
        where = gpu_label(result.host) if len(self.pool.workers) > 1 else None
        if where:
            result.notes.append(f"on {where}")
        return result

    def unmeasured(self, kernel: str | None, quick: bool) -> EvalResult:
        """The result of a candidate known before it is built (engine/twins.py): nothing
        compiled, checked or timed; ``kernel`` is what its twin compiled to, if known."""
        return EvalResult(
            target=self.target.name,
            toolchain=self.target.toolchain,
            device=self.target.device,
            unit=self.target.unit,
            seed=-1,
            quick=quick or self.quick,
            kernel_id=kernel,
            known_kernel=True,
        )

    def _lost(self, request: EvalRequest, lost: list[str]) -> EvalResult:
        """No try came back: no verdict on the candidate, so ``interrupted``."""
        return EvalResult(
            target=self.target.name,
            toolchain=self.target.toolchain,
            device=self.target.device,
            unit=self.target.unit,
            seed=-1,
            quick=request.quick,
            failure=Failure("interrupted", f"every try was lost with its worker: "
                            f"{'; '.join(lost)}"),
        )

    def host(self) -> dict[str, object]:
        return self.worker.wait_ready()

    def software(self) -> dict[str, object]:
        """The versions the worker's host reports (driver, CUDA, cuDNN, torch); empty until
        the worker is up."""
        info = self.worker.info
        return {name: info[name] for name in SOFTWARE if name in info}

    def baseline_throughputs(self) -> dict[str, dict[str, float]]:
        """{config: {baseline: throughput}} for the timed grid, as measured on the first
        worker's host."""
        return stored_throughputs(self.target, self.baselines, self.worker.info)

    def _known(self, info: Mapping[str, object]) -> dict[str, dict[str, Timing]]:
        return _stored_timings(self.baselines, info)

    def take_new_baselines(self) -> dict[str, Any] | None:
        """The baselines to save, if any were added since the last call; None otherwise. One
        step under the lock, so a timing added by another thread meanwhile is never lost."""
        with self._books:
            if not self.baselines_changed:
                return None
            self.baselines_changed = False
            return self.baselines

    def _remember(self, result: EvalResult) -> None:
        """Add the baselines ``result`` measured. Copied on write: a reader (the engine saving
        the state) may hold the previous dict while another thread's evaluation ends."""
        if not result.host:
            return
        key = host_key(result.host)
        stored = {config: dict(timings) for config, timings in self.baselines.get(key, {}).items()}
        added = False
        for config in result.timed:
            for name, timing in config.baseline_timings.items():
                per_config = stored.setdefault(config.name, {})
                if name not in per_config:
                    per_config[name] = timing.as_dict()
                    added = True
        if added:
            self.baselines = {**self.baselines, key: stored}
            self.baselines_changed = True
