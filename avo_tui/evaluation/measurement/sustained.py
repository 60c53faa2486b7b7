"""The sustained reading: each subject alone, back to back at the power limit, as users run it.

The evaluator's timing interleaves the candidate with the baselines launch by launch, so each
launch starts at the clock its neighbour left, and a kernel that draws more power per FLOP
does not pay for it there. In training and inference attention runs back to back with the GPU
at its power limit, where the clock falls until the board's power is at the limit: there the
work per joule decides the rate (issue 70). So each subject here runs back to back for a set
time after a warm-up long enough for the power controller to settle, the SM clock and board
power sampled meanwhile, every subject once per round, each round in a fresh random order (no
subject always follows the same one), and each subject's figures are its medians over the
rounds.

Everything device-specific is passed in (the launches, a device clock, a power source:
devices/power.py), so a GPU run and a test on the CPU go through the same code. Imports only
the standard library.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from ..devices.power import DeviceClock, Sample

BATCH = 4  # launches queued between synchronisations: the host stays a few launches ahead
# The defaults of a reading back to back, here (no torch) as the command line's parsers read them
SUSTAINED_ROUNDS = 3
SUSTAINED_S = 0.5  # per subject and round, after a warm-up as long: the clock settles in it
MOST_SUSTAINED_S = 10.0  # a stretch and its warm-up stay well inside a target's silence limit


@dataclass(frozen=True)
class Run:
    """One subject back to back once: the mean device time of a launch, and the power samples
    taken while it ran (the warm-up left out)."""

    seconds_each: float
    launches: int
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Figures:
    """A subject's sustained figures: its rate (the target's unit, TFLOP/s for attention), the
    mean SM clock and board power, and its work per energy (TFLOP/kJ for attention)."""

    rate: float
    mhz: float
    watts: float
    per_kj: float


def figures(run: Run, throughput: Callable[[float], float]) -> Figures:
    """``run``'s figures; ``throughput`` turns the seconds of one launch into the rate. With no
    power sample, clock, power and work per energy read 0 (unknown)."""
    rate = throughput(run.seconds_each)
    mhz = statistics.fmean(s[0] for s in run.samples) if run.samples else 0.0
    watts = statistics.fmean(s[1] for s in run.samples) if run.samples else 0.0
    # rate per second over joules per second: work per joule; x1000 for per kJ
    return Figures(rate, mhz, watts, rate / watts * 1000.0 if watts else 0.0)


def back_to_back(launch: Callable[[], object], seconds: float, warmup: float,
                 clock: DeviceClock, power: Callable[[], AbstractContextManager[list[Sample]]],
                 now: Callable[[], float] = time.perf_counter) -> Run:
    """``launch`` back to back for ``warmup`` seconds, then for ``seconds`` timed and sampled."""
    until = now() + warmup
    while now() < until:
        for _ in range(BATCH):
            launch()
        clock.synchronize()
    with power() as samples:
        clock.start()
        launches, until = 0, now() + seconds
        while launches == 0 or now() < until:
            for _ in range(BATCH):
                launch()
            launches += BATCH
            clock.synchronize()
        elapsed = clock.stop()
        taken = tuple(samples)
    return Run(elapsed / launches, launches, taken)


def round_orders(names: Sequence[str], rounds: int, rng: random.Random) -> list[list[str]]:
    """The order of each round: a fresh random permutation of ``names`` per round."""
    orders = []
    for _ in range(rounds):
        order = list(names)
        rng.shuffle(order)
        orders.append(order)
    return orders


def median(rounds: Sequence[Figures]) -> Figures:
    """The rate's, the clock's and the power's medians over the rounds, and the work per
    energy of those two medians: the median of each round's own differed from it widely on an
    H200 (two short rounds, whose power had not settled), and a table whose columns disagree
    reads as an error."""
    rate, mhz, watts = (statistics.median(getattr(r, field) for r in rounds)
                        for field in ("rate", "mhz", "watts"))
    return Figures(rate, mhz, watts, rate / watts * 1000.0 if watts > 0 else 0.0)


@dataclass(frozen=True)
class Measured:
    """Every subject's figures per round, and the orders the rounds ran in."""

    orders: list[list[str]]
    rounds: dict[str, list[Figures]]

    def medians(self) -> dict[str, Figures]:
        return {name: median(runs) for name, runs in self.rounds.items()}


def measure(subjects: Mapping[str, Callable[[], object]], throughput: Callable[[float], float],
            *, seconds: float, warmup: float, rounds: int, rng: random.Random,
            clock: DeviceClock, power: Callable[[], AbstractContextManager[list[Sample]]],
            now: Callable[[], float] = time.perf_counter,
            before: Callable[[str], None] = lambda name: None,
            after: Callable[[str], None] = lambda name: None) -> Measured:
    """Each of ``subjects`` (name: one launch) back to back, ``rounds`` times in random orders;
    ``before`` and ``after`` each stretch (a subject's name), outside its time."""
    orders = round_orders(list(subjects), rounds, rng)
    runs: dict[str, list[Figures]] = {name: [] for name in subjects}
    for order in orders:
        for name in order:
            before(name)
            run = back_to_back(subjects[name], seconds, warmup, clock, power, now)
            after(name)
            runs[name].append(figures(run, throughput))
    return Measured(orders, runs)
