"""The instant evaluator, in the run process: scores a kernel from its marker line alone."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING

from soak_parts.model import Marker
from soak_parts.settings import KERNEL

if TYPE_CHECKING:
    from avo_tui.evaluation import EvalRequest, EvalResult
    from avo_tui.evaluation.results import ConfigResult
    from avo_tui.pool import ProgressCallback


# -- the instant evaluator (the run process) --------------------------------------------------


class InstantWorker:
    """A pool worker (pool.EvalWorker) behind the real engine.evaluator.Evaluator, answering
    at once with a real EvalResult built from the kernel's marker line: speed() on every
    configuration, or the compile error or wrong output the marker plants. Beside an incumbent
    (first readings and the commit gate) the pair is "timed" in MIN_SWEEPS paired blocks per
    configuration, as the worker times them (evaluation/paired.py), each block's log-gain
    drawn with a 0.05% spread."""

    def __init__(self, seed: int) -> None:
        from avo_tui.evaluation import get_target

        self.target = get_target("cpu-attention")
        self.info: dict[str, object] = {"device": "cpu", "soak": True}
        self.rng = random.Random(seed)

    def start(self) -> None:
        """Nothing to start: it answers in the caller's thread."""

    def wait_ready(self) -> dict[str, object]:
        return self.info

    def check_target(self, ref: str) -> None:
        pass  # the shipped target: nothing to check

    def interrupt(self, reason: str) -> bool:
        return False  # an answer is never in flight long enough to cut short

    def stop(self, kill: bool = False) -> None:
        """Nothing to stop."""

    def evaluate(
        self,
        request: EvalRequest,
        timeout_s: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EvalResult:
        from avo_tui.engine.evaluator import sources_key
        from avo_tui.evaluation import EvalResult
        from avo_tui.evaluation.results import Failure

        if on_progress is not None:
            on_progress("timing", "")
        target, files, incumbent = self.target, request.sources, request.incumbent
        result = EvalResult(target.name, target.toolchain, target.device, target.unit,
                            seed=self.rng.randrange(2**31), quick=request.quick)
        result.kernel_id = sources_key(files)
        marker = Marker.find(files.get(KERNEL, "")) or Marker()
        if marker.fault == 1:
            result.failure = Failure("compile", f"{KERNEL}:1: error: expected ';' (soak)")
            return result
        result.configs = self._configs(marker, request.quick, incumbent)
        if marker.fault == 2:
            result.configs[0].passed = False
            result.failure = Failure("incorrect", "rel. L2 error 3.1e-2 over 2.0e-5 (soak)",
                                     result.configs[0].name)
        if incumbent is not None:
            result.incumbent_kernel_id = sources_key(incumbent)
            result.same_as_incumbent = result.incumbent_kernel_id == result.kernel_id
        return result

    def _configs(self, marker: Marker, quick: bool,
                 incumbent: Mapping[str, str] | None) -> list[ConfigResult]:
        from avo_tui.evaluation.paired import MIN_SWEEPS
        from avo_tui.evaluation.results import ConfigResult, Timing

        target = self.target
        base = target.baselines[0]
        gmean = speed(marker)
        rival = speed(Marker.find(incumbent.get(KERNEL, "")) or Marker()) if incumbent else None
        configs = []
        for n, config in enumerate(target.grid(quick)):
            throughput = gmean * (0.9 + 0.05 * n) * (1 + self.rng.gauss(0, 0.0005))
            entry = ConfigResult(config, passed=True, max_abs_err=1e-6, rel_l2_err=1e-7,
                                 primary_baseline=base, verified=3)
            entry.throughput = throughput
            work = target.work(config)
            entry.timing = Timing(work / throughput / 1e9, 0.2, 200, 0.0)
            entry.add_baseline(base, Timing(work / 20e9, 0.2, 200, 0.0), 20.0)
            if rival is not None:
                other = rival * (0.9 + 0.05 * n)
                entry.incumbent_timing = Timing(work / other / 1e9, 0.2, 200, 0.0)
                gain = math.log(throughput / other)
                entry.block_gains = [gain + self.rng.gauss(0, 0.0005)
                                     for _ in range(MIN_SWEEPS)]
            configs.append(entry)
        configs += [ConfigResult(c, edge=True, passed=True, max_abs_err=1e-6)
                    for c in target.edge_configs]
        return configs


def speed(marker: Marker) -> float:
    """1% per level; a tweak costs 0.3% to 1.5%."""
    slower = 0.003 * (1 + (marker.tweak - 1) % 5) if marker.tweak else 0.0
    return 10.0 * 1.01**marker.level * (1 - slower)
