"""Correctness, and the checks on timed launches.

Correctness comes first: every configuration, the fixed edge shapes, and shapes and input cases
drawn from the evaluation's seed (knowledge/kernel-contract.md), each on fresh inputs with a
NaN-poisoned output, against a float64 reference, within a tolerance derived from the error an
honest computation at the target's precision makes on the same inputs. The first failure ends
the evaluation and the candidate scores zero everywhere.

Timed launches (measure.py) are judged here too: no work left running in the background
(check_idle), checked launches like the launches next to them (check_consistent), and timed
launches not far slower than the first launch (check_steady).
"""

from __future__ import annotations

import statistics
from typing import NamedTuple

from ..declarations import contract
from ..devices.device import Kernel
from ..devices.timing import SUSPECT_TIMING_FACTOR, Subject, is_unsteady, steadiness
from ..results import ConfigResult, Timing
from ..targets.problem import Config, InputSet, OutputSet, case_inputs
from ..targets.spec import draw_edge_configs
from .heartbeat import heartbeat
from .judge import Rejected, draw_samples, judge_output, judge_output_sampled, judge_sample
from .stage import CHECKING, IDLE_CHECK, Stage
from .tensors import empty_outputs, make_inputs

AGAIN_STREAM = 1 << 20  # the inputs of a first launch measured again (check_steady)
AGAIN_LOOKS = 3  # fresh first launches that must all be slow before the machine is blamed
AGAIN_AFTER = 3  # launches after a first launch again, in its process (first_launch_again)
CONSISTENCY_SAMPLES = 5  # checked launches over the grid before their times are judged


class Check(NamedTuple):
    """One launch of the correctness pass: a configuration, under a case; ``edge``: not a
    timed one as timed (no first launch time is kept); ``sampled``: judged on sampled rows."""

    config: Config
    edge: bool
    case: str
    sampled: bool = False


def never_twice_in_a_row(todo: list[Check]) -> list[Check]:
    """``todo`` in its order, except that a configuration is never launched twice in a row
    where another can come between. Timing launches one configuration back to back; were the
    correctness pass to do the same (a timed shape under each hostile case), a kernel that
    tells the timing from a repeat would be caught here by accident, and the timing's own
    defences against it (stale outputs, checked launches) would go untested."""
    left, ordered = list(todo), list[Check]()
    while left:
        last = ordered[-1].config if ordered else None
        index = next((i for i, check in enumerate(left) if check.config != last), 0)
        ordered.append(left.pop(index))
    return ordered


class Checks(Stage):
    """The stages that check the candidate's outputs and its timed launches."""

    def check_all(self, kernel: Kernel) -> None:
        """Check every configuration (on drawn inputs, and under every hostile case on
        sampled rows), edge shape and drawn case, remembering each timed configuration's
        first launch time."""
        target = self.target
        declared = target.tolerance.note()
        if declared:
            self.result.notes.append(declared)
        grid = target.grid(self.request.quick)
        todo = [Check(c, False, "normal") for c in grid]
        # Every timed shape under every hostile case too: a kernel wrong only at the timed
        # width (a path taken there alone) is never seen at the drawn and edge shapes.
        hostile = [case for case in target.problem.input_cases if case != "normal"]
        todo += [Check(c, True, case, sampled=True) for c in grid for case in hostile]
        todo += [Check(c, True, "normal") for c in target.edge_configs]
        todo += [Check(c, True, case) for c, case in draw_edge_configs(target, self.draws)]
        todo = never_twice_in_a_row(todo)
        self.phase = CHECKING
        for index, (config, edge, case, sampled) in enumerate(todo):
            self.at = config.name
            self.progress("check", f"{config.name}, {case_inputs(case)} "
                                   f"({index + 1}/{len(todo)})")
            entry = ConfigResult(
                config, edge=edge, primary_baseline=target.baselines[0], case=case
            )
            self.result.configs.append(entry)
            inputs = make_inputs(config, self.generator(index), self.device.name, case)
            pristine = inputs.clone()
            outs = empty_outputs(config, self.device.name)
            start = self.now()
            try:
                kernel.launch(config, inputs, outs)
            except contract.ContractError as error:  # geometry or a tensor map, per config
                raise Rejected("contract", str(error), config.name) from None
            self.device.synchronize()
            if not edge:
                self.first_launch_s[config] = self.now() - start
            if not inputs.equal(pristine):
                entry.passed = False
                raise Rejected("inputs_modified", f"{inputs.described()} changed during the launch",
                               config.name)
            with heartbeat(self.alive, self.request.silence_s):
                if sampled:
                    judge_output_sampled(self.target.tolerance_for, pristine, outs,
                                         draw_samples(outs, self.draws), entry)
                else:
                    self.check_output(pristine, outs, entry)

    def check_output(self, inputs: InputSet, outs: OutputSet, entry: ConfigResult) -> None:
        judge_output(self.target.tolerance_for, inputs, outs, entry)

    def check_rows(self, config: Config, inputs: InputSet, outs: OutputSet) -> None:
        with heartbeat(self.alive, self.request.silence_s):
            judge_sample(self.target.tolerance_for, config, inputs, outs,
                         draw_samples(outs, self.draws))
        if self.alive is not None:
            # a launch checked is progress: the silence limit is for a kernel that hangs, and
            # checking a timed launch of a wide CPU target takes seconds of the worker's own
            self.alive()

    def check_idle(self, kernel: Kernel, incumbent: Kernel | None, config: str) -> None:
        timing, self.phase, self.at = self.phase, IDLE_CHECK, config
        problem = kernel.check_idle()
        if problem:
            raise Rejected("background_work", problem, config)
        problem = incumbent.check_idle() if incumbent is not None else None
        if problem:
            raise Rejected("incumbent_failed", f"the best version, timed beside the "
                           f"candidate, failed a check: background_work: {problem}", config)
        self.phase = timing

    def check_consistent(self, timed: list[ConfigResult]) -> None:
        """The checked launches are a random sample of all: each must look like the launches of the
        same kernel next to it (ConfigResult.checked_ratios), taken together over the whole grid,
        once there are CONSISTENCY_SAMPLES of them. Compared with the median of all launches of a
        configuration instead, honest kernels on a busy machine were rejected: a load that came and
        went made a single checked launch twice the rest or more; and two checked launches, each
        over twice its neighbours, were seen beside a slow best under a CPU hog. Which launches are
        checked is drawn after nothing the kernel can see, so a few slow ones are noise; this rule
        is a backstop, and judges only a sample."""
        ratios = [r for entry in timed for r in entry.checked_ratios]
        if len(ratios) < CONSISTENCY_SAMPLES:
            return
        factor = statistics.median(ratios)
        if factor > self.device.consistency_factor:
            worst = max((e for e in timed if e.checked_ratios),
                        key=lambda e: statistics.median(e.checked_ratios))
            raise Rejected(
                "inconsistent_timing",
                f"the {len(ratios)} timed launches checked against the reference took a median "
                f"of {factor:.1f}x the launches of the same kernel next to them; a kernel must "
                "not work differently when it is checked",
                worst.name,
            )

    def check_steady(self, kernel: Kernel, config: Config, timing: Timing | None) -> None:
        """Timed launches far slower than a first launch (the fastest of the checks' and, for
        a kernel in a process of its own, each round's or sweep's: warm_up) are the kernel's doing,
        unless a first launch measured again now is as slow (timing.steadiness), AGAIN_LOOKS
        times in a row: then the machine's load is named in the result's notes, and the
        kernel is not rejected. One look was not enough: on a busy two-core machine a load
        spike made the fresh first launch of a kernel that works less on its first launch
        slow too, and the kernel passed (1 clean-clone suite run in 4). Timed launches only
        somewhat slower (SUSPECT_TIMING_FACTOR) are looked at again too, as a spike on the
        first launch can hide the rest of the gap. A look rejects only where its fresh first
        launch is UNSTABLE_TIMING_FACTOR faster than both the timed median and the launches
        right after it in its process (any of AGAIN_LOOKS: a loaded machine slows some);
        suspects no look rejects say nothing."""
        first_s = min([self.first_launch_s[config], *self.fresh_first_s.get(config, ())])
        if timing is None or not is_unsteady(first_s, timing.median_s, SUSPECT_TIMING_FACTOR):
            return
        suspect_only = not is_unsteady(first_s, timing.median_s)
        for _ in range(AGAIN_LOOKS):
            again = self.first_launch_again(kernel, config)
            if suspect_only and again is None:
                return  # no fresh first launch to be had (CUDA): only 4x its first rejects
            verdict = steadiness(first_s, timing.median_s, *(again or (None, None)))
            if verdict.kernel:
                raise Rejected("unstable_timing", verdict.message, config.name)
        if not suspect_only:
            self.result.notes.append(f"{config.name}: {verdict.message}")

    def warm_up(self, kernel: Kernel, order: list[Subject], candidate: Subject,
                config: Config, fresh: bool = True) -> None:
        """One untimed launch of each subject in ``order``, in a renewed process: what a
        subject does only once (loading, paging in) is not timed. Where it is the first launch
        of a new process (``fresh``, and a C kernel's), the candidate's launch is timed all the
        same, as a fresh process's first launch: check_steady compares the timed launches
        with these beside the checks' first launch. A load spike on that one launch hid a
        kernel ten times slower after its first launch (CI, a busy two-core machine); with a
        first launch in every round or sweep, every one of them must be slowed so."""
        for subject in order:
            if subject is candidate and fresh and kernel.fresh_on_renew:
                seconds = self.device.time_sequence([], [(subject, False)])[0]
                self.fresh_first_s.setdefault(config, []).append(seconds)
            else:
                self.device.time_sequence([subject], [])

    def first_launch_again(self, kernel: Kernel, config: Config) -> tuple[float, float] | None:
        """A first launch of ``kernel`` on ``config`` once more, timed as check_all times it,
        in a fresh process (none of what the kernel did before is left to it), and the median
        of the AGAIN_AFTER launches right after it in that process, timed alike. None where
        renewing gives no fresh process (a CUDA kernel)."""
        if not kernel.fresh_on_renew:
            return None
        kernel.renew()
        inputs = make_inputs(config, self.generator(AGAIN_STREAM), self.device.name)
        outs = empty_outputs(config, self.device.name)
        self.at = config.name
        times = []
        for _ in range(1 + AGAIN_AFTER):
            start = self.now()
            kernel.launch(config, inputs, outs)
            self.device.synchronize()
            times.append(self.now() - start)
        return times[0], statistics.median(times[1:])
