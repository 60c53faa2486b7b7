"""The state of one evaluation that its stages (build.py, checks.py, measure.py) share: the
request, the target, the seed and what is drawn from it, the result being filled in, and the
pipeline that outlives the evaluation in the worker."""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import torch

from ..devices.device import Device, Kernel
from ..results import EvalRequest, EvalResult, Timing
from ..targets.file import get_target
from ..targets.problem import Config
from ..toolchains import CompileCache
from .anchor import Anchor

Progress = Callable[[str, str], None]  # (phase, detail)

# Where in an evaluation a failure happened (Failure.phase)
LOADING, CHECKING, TIMING, BESIDE_BEST, IDLE_CHECK, BACK_TO_BACK = (
    "load", "check", "time", "beside the best", "idle check", "back to back")


class PipelineState(Protocol):
    """The Pipeline (pipeline.py) as an evaluation sees it: what stays warm in the worker from
    one evaluation to the next."""

    device: Device
    cache: CompileCache
    poisoned: bool
    baseline_timings: dict[tuple[str, Config], Timing]
    said: set[str]

    def host_info(self) -> dict[str, object]: ...


class Stage:
    """The state of one evaluation, shared by its stages."""

    def __init__(self, pipeline: PipelineState, request: EvalRequest, progress: Progress,
                 alive: Callable[[], None] | None = None) -> None:
        self.pipeline = pipeline
        self.alive = alive
        self.device = pipeline.device
        self.cache = pipeline.cache
        self.request = request
        self.progress = progress
        self.target = get_target(request.target)
        self.seed = request.seed if request.seed is not None else secrets.randbits(62)
        # Shapes, input cases, which launches are checked, which rows: all from the seed, which
        # only the harness knows; --seed reproduces an evaluation.
        self.draws = random.Random(self.seed)
        self.result = EvalResult(
            target=self.target.name,
            toolchain=self.target.toolchain,
            device=self.device.name,
            unit=self.target.unit,
            seed=self.seed,
            quick=request.quick,
            host=pipeline.host_info(),
        )
        self.first_launch_s: dict[Config, float] = {}
        # the candidate's first launch in each fresh process of the timing (Measure.warm_up)
        self.fresh_first_s: dict[Config, list[float]] = {}
        self.phase = LOADING  # where it is now, and on which configuration: what a failure
        self.at: str | None = None  # is recorded with
        self.incumbent: Kernel | None = None  # the best version, timed beside the candidate
        self.anchor: Anchor | None = None  # timed beside them in the same sweeps (anchor.py)

    def now(self) -> float:
        """The clock of a first launch's time and of what bounds the timing (a round's budget,
        the gate's cap): the machine's. A modelled evaluation (tests/modelled_lineage.py)
        counts its kernels' modelled time, so that nothing it decides depends on the load."""
        return time.perf_counter()

    def generator(self, stream: int) -> torch.Generator:
        """Independent, reproducible streams of inputs: one per configuration and purpose."""
        return self.device.generator((self.seed * 1_000_003 + stream) % (1 << 63))
