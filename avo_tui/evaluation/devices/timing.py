"""Timing launches of subjects (the candidate, the incumbent, the baselines) in a given order,
after a warm-up of each, every launch prepared untimed (fresh inputs, a poisoned output), some
checked at random right after they ran.

Every launch looks the same to the kernel: new input values, an output full of NaN, a cold
cache. Which launches are checked is drawn by the harness before the loop and never visible to
the kernel, so a kernel that skips, caches or defers work on any share of its launches is caught
by the checks with high probability, and one that does so on fewer than half of them gains
nothing on the median.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..results import Timing

MIN_REPS = 3
MAX_REPS = 10_000
GPU_BATCH = 8  # launches queued back to back between host synchronisations
# A steady-state launch this many times slower than the (cold) first one, and by more than
# UNSTABLE_MIN_S, is not honest work, unless the machine itself slowed down (steadiness).
UNSTABLE_TIMING_FACTOR = 4.0
UNSTABLE_MIN_S = 1e-3
# Timed launches this many times slower than the first are looked at again (a fresh first
# launch, where one can be had), though only UNSTABLE_TIMING_FACTOR rejects: a load spike of
# 2.5x on the one first launch timed hid a kernel 10x slower after it (1 suite run in 2).
SUSPECT_TIMING_FACTOR = 2.0


@dataclass
class Subject:
    name: str
    prepare: Callable[[], None]  # untimed, before every launch
    run: Callable[[], float | None]  # the timed launch; may return its own (outside) timing
    verify: Callable[[], None] | None = None  # untimed, right after a launch chosen for checking


def choose_verified(rng: random.Random, expected: int, count: int) -> set[int]:
    """``count`` launch indices spread uniformly over the ``expected`` launches of a round."""
    return set(rng.sample(range(max(expected, count)), count))


def draw_checks(rng: random.Random, positions: int, chance_total: float, sure: bool
                ) -> set[int]:
    """Which of a kernel's ``positions`` launches are checked: each on its own, with a chance
    of ``chance_total / positions``, and one more at a drawn position where ``sure``.

    Independent, because a kernel sees a check after the fact (the pause it leaves: a GPU
    kernel reads %globaltimer, and a C runner its clock). Were the checks a fixed number, a
    kernel that saw them all could skip the rest of its launches unseen, and it did: beside
    the best, with one check per block, skipping a block's launches after its check passed
    the gate in 20 of 30 evaluations (tests/adversarial/test_check_watching.py). With each
    launch checked on its own chance, a check seen says nothing of the next launch."""
    chance = min(1.0, chance_total / max(positions, 1))
    checked = {index for index in range(positions) if rng.random() < chance}
    if sure and positions:
        checked.add(rng.randrange(positions))
    return checked


def summarize(samples: list[float]) -> Timing:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4)
    else:
        q1, q3 = ordered[0], ordered[-1]
    spread = (q3 - q1) / median * 100 if median > 0 else 0.0
    return Timing(median_s=median, spread_pct=spread, reps=len(ordered), min_s=ordered[0])


@dataclass(frozen=True)
class Unsteady:
    """Timed launches far slower than the first: the kernel's doing, or the machine's."""

    kernel: bool  # True: the kernel works differently after its first launch
    message: str


def is_unsteady(first_s: float, median_s: float,
                factor: float = UNSTABLE_TIMING_FACTOR) -> bool:
    return median_s > factor * first_s and median_s - first_s > UNSTABLE_MIN_S


def steadiness(first_s: float, median_s: float, again_s: float | None,
               after_s: float | None = None) -> Unsteady:
    """Whose doing it is that timed launches (median ``median_s``) are far slower than the
    kernel's first launch (``first_s``; see is_unsteady). ``again_s`` is a first launch measured
    again right after the timing, in a fresh process (None where a launch cannot be a first
    one again: a CUDA module stays loaded), and ``after_s`` the median of the launches right
    after it in that process. A kernel that does less on its first launch is as fast as before
    on that one, and as slow as the timed launches right after it; if the first launch is now
    as slow as the timed launches, or the launches right after it as fast as it, the machine's
    load came and went between the readings (other work competing for it), and the kernel is
    not to blame. Without the launches right after, a short honest kernel on a busy two-core
    machine could read a quiet first launch against a loaded median."""
    slower = (f"the first launch took {first_s * 1e3:.3g} ms but timed launches take a median "
              f"of {median_s * 1e3:.3g} ms ({median_s / first_s:.1f}x slower)")
    if again_s is None:
        return Unsteady(True, f"{slower}; a kernel must do the same work on every launch")
    again = f"a first launch again in a fresh process just now took {again_s * 1e3:.3g} ms"
    if after_s is not None:
        again += f" and the launches right after it a median of {after_s * 1e3:.3g} ms"
    if is_unsteady(again_s, median_s) and (after_s is None or is_unsteady(again_s, after_s)):
        return Unsteady(True, f"{slower}, and {again}: a kernel must do the same work on every "
                              "launch")
    return Unsteady(False, f"machine load suspected: {slower}, but {again}: the machine slowed "
                           "down, not the kernel, and this score was measured under that load")


Launch = tuple[Subject, bool]  # a subject's launch, and whether it is checked right after
NEIGHBOURS = 3  # launches on either side a checked one is compared with


def neighbour_ratios(times: list[float], checked: list[bool]) -> list[float]:
    """Each checked launch's time over the median of its own kernel's launches next to it
    (NEIGHBOURS on either side): a machine whose load comes and goes slows the neighbours as
    much, a kernel that works differently when it is checked does not."""
    ratios = []
    for index, (seconds, flag) in enumerate(zip(times, checked, strict=True)):
        if not flag:
            continue
        near = [times[j] for j in range(max(0, index - NEIGHBOURS),
                                        min(len(times), index + NEIGHBOURS + 1)) if j != index]
        if near:
            ratios.append(seconds / statistics.median(near))
    return ratios


def launches_text(times: list[float], checked: list[bool]) -> str:
    """Launch times in ms, checked ones in brackets ('0.61 0.6 [1.9] 0.62'): what a failure
    of the consistency rule shows, so that a reader can tell a kernel that works differently
    when checked from a load that came and went."""
    return " ".join(f"[{t * 1e3:.2g}]" if flag else f"{t * 1e3:.2g}"
                    for t, flag in zip(times, checked, strict=True))


def beside_logs(sequence: list[tuple[str, float]], reference: str) -> dict[str, list[float]]:
    """For each launch of a subject other than ``reference``: the log of its time over the mean
    of the ``reference``'s nearest launches before and after it in ``sequence`` (the one there
    is, at either end), grouped by subject. Launches side by side run at the same clock, so
    their ratio holds while the clock under sustained load drifts and takes both medians with
    it."""
    def nearest(order: list[int]) -> dict[int, float]:
        """Each launch's nearest reference launch time, walking ``order``."""
        found: dict[int, float] = {}
        last: float | None = None
        for index in order:
            name, seconds = sequence[index]
            if name == reference:
                last = seconds if seconds > 0 else last
            elif last is not None:
                found[index] = last
        return found

    before = nearest(list(range(len(sequence))))  # two passes: launches number thousands
    after = nearest(list(range(len(sequence) - 1, -1, -1)))
    logs: dict[str, list[float]] = {}
    for index, (name, seconds) in enumerate(sequence):
        near = [t for t in (before.get(index), after.get(index)) if t is not None]
        if name != reference and seconds > 0 and near:
            logs.setdefault(name, []).append(math.log(seconds / statistics.fmean(near)))
    return logs


def beside_timing(samples_s: list[float], logs: list[float] | None, reference: Timing) -> Timing:
    """A baseline's timing with its median taken beside ``reference`` (the candidate's): the
    reference's median times the median of the baseline's beside_logs, so that its ratio to
    the candidate is the one measured side by side, and stays so when the timing is reused by
    a later evaluation. Its spread and fastest launch are its own. Without logs, its own."""
    own = summarize(samples_s)
    if not logs:
        return own
    return replace(own, median_s=reference.median_s * math.exp(statistics.median(logs)))


def sequence_wall(warm: list[Subject], launches: list[Launch]) -> list[float]:
    """On the CPU: one untimed launch of each ``warm`` subject, then ``launches`` in order,
    each on the wall clock of this process (or its own outside timing), a checked one checked
    before the next starts."""
    for subject in warm:
        subject.prepare()
        subject.run()
    times = []
    for subject, check in launches:
        subject.prepare()
        start = time.perf_counter_ns()
        measured = subject.run()
        times.append(measured if measured is not None
                     else (time.perf_counter_ns() - start) * 1e-9)
        if check and subject.verify is not None:
            subject.verify()
    return times


def sequence_events(warm: list[Subject], launches: list[Launch]) -> list[float]:
    """On a GPU: as sequence_wall, each launch between its own pair of CUDA events, queued in
    batches of up to GPU_BATCH so the GPU never idles between them; a checked launch ends its
    batch and is checked before anything else runs."""
    import torch

    for subject in warm:
        subject.prepare()
        subject.run()
    times: list[float] = []
    index = 0
    while index < len(launches):
        batch: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        check: Subject | None = None
        while index < len(launches) and len(batch) < GPU_BATCH and check is None:
            subject, checked = launches[index]
            index += 1
            subject.prepare()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            subject.run()
            end.record()
            batch.append((start, end))
            if checked and subject.verify is not None:
                check = subject
        batch[-1][1].synchronize()
        times += [start.elapsed_time(end) * 1e-3 for start, end in batch]
        if check is not None and check.verify is not None:
            check.verify()
    return times
