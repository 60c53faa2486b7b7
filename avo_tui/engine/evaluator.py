"""The engine's side of evaluation: requests to the warm worker, baselines kept per host,
and scores in the form the store keeps."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..evaluation import EvalRequest, EvalResult, TargetSpec, Worker
from ..evaluation.results import Timing
from ..store import Score

Progress = Callable[[str, str], None]
SOFTWARE = ("driver", "driver_cuda", "cuda", "cudnn", "torch")  # host facts the agent is told


def host_key(info: Mapping[str, object]) -> str:
    """Baselines are only reused on the same machine and software (GPU, driver, torch...)."""
    text = json.dumps({k: str(v) for k, v in info.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def score_of(result: EvalResult) -> Score | None:
    if not result.correct:
        return None
    return Score(
        gmean=result.geomean,
        per_config={c.name: c.throughput for c in result.timed},
        ratio=result.ratio,
        baseline=result.timed[0].primary_baseline if result.timed else None,
        unit=result.unit,
    )


def sources_key(files: Mapping[str, str]) -> str:
    """One hash for a candidate's whole source: the same files give the same key."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


class Evaluator:
    """Scores candidates for one session. Baseline timings measured on this host are kept in
    ``baselines`` ({host key: {config: {baseline: timing}}}), which the session stores, so a
    resumed run times only the candidate too."""

    def __init__(
        self,
        target: TargetSpec,
        worker: Worker,
        *,
        quick: bool = False,
        baselines: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.target = target
        self.worker = worker
        self.quick = quick
        self.timeout_s = timeout_s
        self.baselines: dict[str, Any] = dict(baselines or {})
        self.count = 0
        self.baselines_changed = False  # new baseline timings the session has not saved yet
        self._lease = threading.Lock()  # one evaluation at a time on the worker

    def evaluate(
        self,
        files: Mapping[str, str],
        *,
        previous_best: float | None = None,
        fresh_baselines: bool = False,
        on_progress: Progress | None = None,
        quick: bool | None = None,  # None: the session's setting
        incumbent: Mapping[str, str] | None = None,  # timed beside, for the commit gate
    ) -> EvalResult:
        with self._lease:
            return self._evaluate_leased(files, previous_best, fresh_baselines, on_progress,
                                         quick, incumbent)

    def _evaluate_leased(
        self,
        files: Mapping[str, str],
        previous_best: float | None,
        fresh_baselines: bool,
        on_progress: Progress | None,
        quick: bool | None,
        incumbent: Mapping[str, str] | None,
    ) -> EvalResult:
        self.worker.wait_ready()  # its host facts say which stored baselines apply
        request = EvalRequest(
            self.target.name,
            dict(files),
            quick=self.quick if quick is None else quick,
            reuse_baselines=not fresh_baselines,
            known_baselines={} if fresh_baselines else self._known(),
            previous_best=previous_best,
            incumbent=dict(incumbent) if incumbent is not None else None,
        )
        result = self.worker.evaluate(request, timeout_s=self.timeout_s, on_progress=on_progress)
        self.count += 1
        self._remember(result)
        return result

    def host(self) -> dict[str, object]:
        return self.worker.wait_ready()

    def software(self) -> dict[str, object]:
        """The versions the worker's host reports (driver, CUDA, cuDNN, torch); empty until
        the worker is up."""
        info = self.worker.info
        return {name: info[name] for name in SOFTWARE if name in info}

    def baseline_throughputs(self) -> dict[str, dict[str, float]]:
        """{config: {baseline: throughput}} for the timed grid, as measured on this host."""
        flops = {c.name: c.flops for c in self.target.configs}
        return {
            config: {name: flops[config] / t.median_s / self.target.unit_scale
                     for name, t in timings.items() if t.median_s > 0}
            for config, timings in self._known().items() if config in flops
        }

    def _known(self) -> dict[str, dict[str, Timing]]:
        stored = self.baselines.get(host_key(self.worker.info), {}) if self.worker.info else {}
        return {
            config: {name: Timing.from_dict(doc) for name, doc in timings.items()}
            for config, timings in stored.items()
        }

    def _remember(self, result: EvalResult) -> None:
        if not result.host:
            return
        stored = self.baselines.setdefault(host_key(result.host), {})
        for config in result.timed:
            for name, timing in config.baseline_timings.items():
                per_config = stored.setdefault(config.name, {})
                if name not in per_config:
                    per_config[name] = timing.as_dict()
                    self.baselines_changed = True
