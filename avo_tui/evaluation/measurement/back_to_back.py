"""The back-to-back reading inside an evaluation (issue 70): on every timed configuration, the
candidate and the baselines this worker times, each alone and back to back for a set time
after a warm-up as long, in rounds of fresh random orders (sustained.py), with the SM clock,
board power and work per joule where the device reports them. It is what users see running
the kernel at the power limit; the score stays the interleaved reading, which the gate
decides by, so this reading is asked for (EvalRequest.sustained_s), not made by default.

Each stretch of the candidate takes SLOTS sets of inputs in turn, drawn afresh for it, their
outputs poisoned; after it, the inputs are compared with the values drawn and the outputs are
checked as a timed launch's are, so a kernel wrong when run back to back (or one that skips a
launch that follows another closely) is rejected. What a stretch cannot show is a kernel that
keeps the outputs of the inputs it saw and writes them again when they come back, as the
slots' do: its reading is withheld, with a flag, where it exceeds its interleaved rate by more
than warm caches explain (PAST_INTERLEAVED); in a run, a flag holds the commit for the
operator's review, as every plausibility flag does. The reading decides nothing else; the
interleaved one, on new inputs for every launch, does."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import partial
from statistics import geometric_mean

from ..devices.device import Kernel
from ..results import ConfigResult
from ..targets.problem import Config, InputSet, OutputSet
from .judge import Rejected
from .measure import CANDIDATE, INCUMBENT, Measure
from .stage import BACK_TO_BACK
from .sustained import SUSTAINED_ROUNDS, Figures, measure
from .tensors import empty_outputs, make_inputs

SLOTS = 2  # input sets each subject's launches take in turn within a stretch
# The most a kernel's rate back to back may exceed its interleaved one before its reading is
# withheld. Honest gains: the interleaved timing flushes the L2 before every launch, where back
# to back a small configuration's inputs stay in it (up to about 2x for a small, memory-bound
# shape), and a loaded CPU swings a reading by tens of percents; a kernel that copies the kept
# output of inputs it saw before, where it should compute, reads far more (cpu-attention's
# cache of sampled inputs: tens of times).
PAST_INTERLEAVED = 3.0
# How much slower than the best back to back an accepted candidate may read before it is
# flagged: above the reading's noise on each device. On an H200 (2026-11-27), two versions of
# mha's seed of one speed read 0.9996 +- 0.0070 of each other (sd of 26 readings, roles
# alternating; 1 under 0.985, at 0.9814): one reading under 1.5% flags about 1 such pair in
# 55 by that spread, so a first reading under it is read again (flag_slower_than_the_best),
# and both together flag about 1 in 700. On the CPU, where no power limit binds and a loaded
# machine swings a half-second stretch by tens of percents, only gross cases.
SLOWER_BACK_TO_BACK = {"cuda": 0.015, "cpu": 0.25}


def slower_back_to_back(device_name: str) -> float:
    """SLOWER_BACK_TO_BACK for a device named as the worker names it ("cpu", "cuda:0")."""
    return SLOWER_BACK_TO_BACK[device_name.partition(":")[0]]


class BackToBack(Measure):
    """The stage that reads each subject back to back, after the timing."""

    def time_back_to_back(self, kernel: Kernel) -> None:
        seconds = self.request.sustained_s
        if seconds <= 0 or self.result.failure is not None:
            return
        if self.request.gate is not None and self.result.beside.get("decision") != "accept":
            return  # read only what the gate would commit: a run's other candidates cost none
        self.phase = BACK_TO_BACK
        baselines, _ = self.measured_baselines()
        self.orders = random.Random(self.draws.getrandbits(64))
        timed = self.result.timed
        for index, entry in enumerate(timed):
            medians = self.read_back_to_back(kernel, entry, f"({index + 1}/{len(timed)})",
                                             baselines)
            ratio = medians[CANDIDATE].rate / entry.throughput if entry.throughput else 0.0
            if ratio > PAST_INTERLEAVED:
                self.result.flags.append(
                    f"back to back the kernel read {ratio:.2f}x its interleaved rate on "
                    f"{entry.name}, more than warm caches explain (a kernel that knows the "
                    "inputs of a launch before): its back-to-back reading is withheld")
                continue
            entry.sustained = {name: asdict(figures) for name, figures in medians.items()}
        self.flag_slower_than_the_best(kernel)

    def read_back_to_back(self, kernel: Kernel, entry: ConfigResult, where: str,
                          baselines: Sequence[str]) -> dict[str, Figures]:
        """One reading of ``entry``'s configuration: the candidate, the best where the gate
        loaded it, and ``baselines``, each alone and back to back; each subject's medians."""
        self.at = entry.name
        where = f"{entry.name} {where}"
        # The best is staged as the candidate is, so that neither finds its inputs in caches
        # the other does not.
        stretches = {CANDIDATE: Stretch(self, kernel, entry.config, checked=True)}
        if self.incumbent is not None:  # the gate's: the best, on inputs of its own
            stretches[INCUMBENT] = Stretch(self, self.incumbent, entry.config, checked=False)

        def before(name: str) -> None:
            self.progress("back to back", f"{where}: {name}")  # each stretch: no silence
            if name in stretches:
                stretches[name].before()

        def after(name: str) -> None:
            if name in stretches:
                stretches[name].after()

        subjects: dict[str, Callable[[], object]] = {
            name: stretch.launch for name, stretch in stretches.items()}
        # The baselines too take SLOTS sets of inputs in turn, shared among them.
        slots = [make_inputs(entry.config, self.device.generator(self.draws.getrandbits(62)),
                             self.device.name) for _ in range(SLOTS)]
        for name in baselines:
            runs = []
            for inputs in slots:
                baseline = entry.config.problem.numerics().baselines[name](entry.config)
                baseline.stage(inputs)
                runs.append(baseline.run)
            subjects[name] = in_turn(runs)
        seconds = self.request.sustained_s
        measured = measure(
            subjects, partial(self.target.throughput, entry.config), seconds=seconds,
            warmup=seconds, rounds=SUSTAINED_ROUNDS, rng=self.orders,
            clock=self.device.stretch_clock(), power=self.device.power_samples,
            before=before, after=after)
        return measured.medians()

    def flag_slower_than_the_best(self, kernel: Kernel) -> None:
        """A candidate the gate accepts, interleaved, that reads slower than the best back to
        back by more than the reading's noise (SLOWER_BACK_TO_BACK) is flagged, which holds
        its commit for the operator: at the power limit a kernel that spends more energy per
        FLOP runs at a lower clock, and its users would see it slower (issue 70). A first
        reading under the floor is read again, the two alone, and the flag stands on both
        readings together (their geometric mean): SLOWER_BACK_TO_BACK says why."""
        ratio = self.result.sustained_ratios.get(INCUMBENT)
        floor = 1.0 - slower_back_to_back(self.device.name)
        if ratio is None or ratio >= floor:
            return
        timed = self.result.timed
        again = []
        for index, entry in enumerate(timed):
            medians = self.read_back_to_back(kernel, entry,
                                             f"again ({index + 1}/{len(timed)})", ())
            again.append(medians[CANDIDATE].rate / medians[INCUMBENT].rate)
        both = math.sqrt(ratio * geometric_mean(again))
        self.result.notes.append(
            f"back to back beside the best the kernel read {ratio:.4f}x, under the "
            f"{floor:.3f} that flags it; read again, the two alone: {geometric_mean(again):.4f}x")
        if both < floor:
            self.result.flags.append(
                f"slower back to back: the kernel read {both:.4f}x the best there (two "
                f"readings), which it beats interleaved; at the power limit, where users run "
                f"it, it would be {1 - both:.2%} slower (more energy per FLOP, or more heat)")


def in_turn(runs: Sequence[Callable[[], object]]) -> Callable[[], object]:
    """One call that makes the next of ``runs``, round and round."""
    turns = itertools.cycle(runs)
    return lambda: next(turns)()


class Stretch:
    """One subject's side of one configuration's reading, the candidate's or the best's: each
    stretch launches it on SLOTS sets of inputs in turn, drawn afresh for the stretch, their
    outputs poisoned before it, each slot staged once on a GPU (Kernel.launcher; on the CPU a
    launch's staging copies its inputs into the runner, and the reading counts it). After a
    ``checked`` stretch (the candidate's), every slot's output is checked where the kernel
    writes the caller's own tensors (a GPU), the last launch's where its outputs are copied
    back (the CPU). A kernel that skips launches that follow another closely leaves a slot
    poisoned."""

    def __init__(self, stage: BackToBack, kernel: Kernel, config: Config, checked: bool
                 ) -> None:
        self.stage, self.kernel, self.config, self.checked = stage, kernel, config, checked
        self.slots: list[tuple[int, InputSet, OutputSet]] = []
        self.launches: list[Callable[[], None]] = []
        self.turn = 0

    def _drawn(self, seed: int) -> InputSet:
        generator = self.stage.device.generator(seed)
        return make_inputs(self.config, generator, self.stage.device.name)

    def launch(self) -> None:
        launch = self.launches[self.turn % len(self.launches)]
        self.turn += 1
        launch()

    def before(self) -> None:
        seeds = [self.stage.draws.getrandbits(62) for _ in range(SLOTS)]
        self.slots = [(seed, self._drawn(seed), empty_outputs(self.config,
                                                               self.stage.device.name))
                      for seed in seeds]
        self.launches = [self.kernel.launcher(self.config, inputs, outs)
                         for _, inputs, outs in self.slots]
        self.turn = 0
        self.stage.device.synchronize()

    def after(self) -> None:
        if not self.checked:
            self.slots, self.launches = [], []
            return
        last = (self.turn - 1) % len(self.slots)
        checked = (range(len(self.slots)) if self.kernel.writes_in_place else [last])
        for index in checked:
            seed, inputs, outs = self.slots[index]
            self.kernel.settle(inputs, outs)
            drawn = self._drawn(seed)
            if not inputs.equal(drawn):
                raise Rejected("inputs_modified",
                               f"{inputs.described()} changed during launches back to back",
                               self.config.name)
            self.stage.check_rows(self.config, drawn, outs)
        self.slots, self.launches = [], []
