"""Timing: each configuration timed launch by launch beside what the candidate is compared with.

The baselines, in three rounds (time_config); or the incumbent, the best version, in paired
blocks until the sequential rule of paired.py decides (time_beside), the baselines in the
first sweeps' blocks where they are timed afresh. With a gate's plan and no incumbent, a
record: after the rounds, blocks beside the anchor until the plan's precision (time_record).
The anchor (anchor.py) is timed afresh in every round and every block, so that the
candidate's rate against it, and the best's, come from the same minutes as everything else.
Every launch runs on input values never seen before, a poisoned output and a cold cache;
launches drawn at random are checked against the reference right after they ran, on rows of
every (batch, head) pair.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

from ..devices.device import Kernel
from ..devices.timing import (
    MAX_REPS,
    MIN_REPS,
    Launch,
    Subject,
    beside_logs,
    beside_timing,
    choose_verified,
    draw_checks,
    launches_text,
    neighbour_ratios,
    summarize,
)
from ..paired import (
    MIN_SWEEPS,
    PAIRS_PER_BLOCK,
    GatePlan,
    PairedGain,
    block_value,
    decide,
    describe,
    is_look,
)
from ..results import ConfigResult, Timing
from ..targets.problem import Config, OutputSet
from .anchor import anchor_alone, versus_anchor
from .blocks import (
    CHECK_CHANCE,
    INPUT_SLOTS,
    InputPool,
    check_chance,
    extend,
    interleaved,
    rougher_than,
)
from .checks import AGAIN_LOOKS, Checks
from .judge import Rejected
from .stage import BESIDE_BEST, TIMING
from .tensors import empty_outputs, poison_all

TIMING_ROUNDS = 3
VERIFIED_PER_ROUND = 2  # candidate launches checked in each round, on average; at least one
AGAIN_CHECKED = 8  # checked launches in each further look before a kernel is called inconsistent
AGAIN_SPACING = 4  # launches per checked one in that look
CYCLES_PER_CALL = 4  # turns of the candidate and the baselines timed between host checks
# The fewest launches of the candidate a round of time_config makes (time_cycles' loop), and so
# the fewest its checks are drawn over.
ROUND_LAUNCHES_AT_LEAST = -(-MIN_REPS // CYCLES_PER_CALL) * CYCLES_PER_CALL
# Launches of each baseline timed beside the candidate per configuration and evaluation, at
# least: below that a ratio to it swings by percents between evaluations (RESULTS.md).
BASELINE_LAUNCHES = 24
CANDIDATE = "candidate"
INCUMBENT = "incumbent"
ALONE_LAUNCHES = 20  # the most launches of a reading alone (time_alone)


class Measure(Checks):
    """The stages that time the candidate beside the baselines or the incumbent."""

    def time_all(self, kernel: Kernel, incumbent: Kernel | None) -> None:
        timed = self.result.timed
        baselines, missing = self.measured_baselines()
        known = self.pipeline.baseline_timings
        fresh: dict[str, tuple[str, ...]] = {}
        self.phase = TIMING
        for index, entry in enumerate(timed):
            reused = self.known_baselines(entry.config, baselines)
            fresh[entry.name] = tuple(name for name in baselines if name not in reused)
            if incumbent is None:
                self.at = entry.name
                self.progress("time", f"{entry.name} ({index + 1}/{len(timed)})")
                self.time_config(kernel, entry, fresh[entry.name])
            for name, timing in reused.items():
                entry.add_baseline(name, timing,
                                   self.target.throughput(entry.config, timing.median_s))
        if incumbent is not None:
            self.phase = BESIDE_BEST
            self.time_beside(kernel, incumbent, fresh)
        elif self.request.gate is not None and self.anchor is not None:
            self.time_record(kernel, self.request.gate)
        if self.anchor is not None:
            self.result.anchor = self.anchor.name
        for entry in timed:
            for name in fresh[entry.name]:
                known[name, entry.config] = entry.baseline_timings[name]
        self.judge_consistent(kernel, timed)
        for entry in timed:
            self.check_steady(kernel, entry.config, entry.timing)
        fresh_notes = [note for note in missing if note not in self.pipeline.said]
        self.pipeline.said.update(fresh_notes)  # once per worker, not on every attempt
        self.result.notes.extend(fresh_notes)

    def time_alone(self, kernel: Kernel, config: Config, budget_s: float) -> Timing:
        """``kernel``'s launches on ``config``, alone, after an untimed one: each prepared as
        a timed launch is (fresh inputs, a poisoned output, the cache flushed), none checked,
        as many as the first one's time says fit in ``budget_s`` (at least one, at most
        ALONE_LAUNCHES). A reading for a caller that scores nothing by it: the importer sizes
        a target's timed shape by it (kernelbench/target/calibrate.py)."""
        pool = InputPool(config, self.device, random.Random(self.draws.getrandbits(64)))
        subject = self._kernel_subject(CANDIDATE, kernel, config, pool)
        deadline = self.now() + budget_s
        times = self.device.time_sequence([subject], [(subject, False)])
        more = min(ALONE_LAUNCHES - 1,
                   int((deadline - self.now()) / max(times[0], 1e-6)))
        if more > 0:
            times += self.device.time_sequence([], [(subject, False)] * more)
        return summarize(times)

    def judge_consistent(self, kernel: Kernel, timed: list[ConfigResult]) -> None:
        """check_consistent, with further looks before a kernel is blamed: the configuration
        it failed on timed again, the candidate alone, with AGAIN_CHECKED launches checked at
        places drawn afresh, up to AGAIN_LOOKS times. A kernel that works differently when it
        is checked does so in every look; a machine whose load came and went does not in one
        of them, and is named instead. With one look, and then two, honest seeds were
        rejected on loaded machines; a rejection shows the last look's launches."""
        try:
            self.check_consistent(timed)
        except Rejected as first:
            if first.failure.kind != "inconsistent_timing":
                raise
            entry = next(e for e in timed if e.name == first.failure.config)
            self.at = entry.name
            factors: list[float] = []
            for _ in range(AGAIN_LOOKS):
                factor, launches = self.consistency_again(kernel, entry.config)
                factors.append(factor)
                if factors[-1] <= self.device.consistency_factor:
                    self.result.notes.append(
                        f"{entry.name}: machine load suspected: {first.failure.message}, but "
                        f"timed again, {AGAIN_CHECKED} checked launches took "
                        f"{factors[-1]:.2f}x their neighbours: the machine's load came and "
                        "went, not the kernel's work")
                    return
            looks = ", then ".join(f"{factor:.1f}x" for factor in factors)
            raise Rejected(first.failure.kind, f"{first.failure.message}; timed again "
                           f"{len(factors)} times, {AGAIN_CHECKED} checked launches each, they "
                           f"took {looks} their neighbours; the last look's launches in ms, "
                           f"checked ones in brackets: {launches}", entry.name) from None

    def consistency_again(self, kernel: Kernel, config: Config) -> tuple[float, str]:
        """The median, over AGAIN_CHECKED checked launches of ``kernel`` alone on ``config``,
        of each one's time over its neighbours' (neighbour_ratios), and the launches as text."""
        kernel.renew()
        pool = InputPool(config, self.device, random.Random(self.draws.getrandbits(64)))
        subject = self._kernel_subject(CANDIDATE, kernel, config, pool)
        count = AGAIN_CHECKED * AGAIN_SPACING
        checked = choose_verified(self.draws, count, AGAIN_CHECKED)
        flags = [index in checked for index in range(count)]
        self.progress("time", f"{config.name}: checked launches timed again")
        times = self.device.time_sequence([subject], [(subject, f) for f in flags])
        return statistics.median(neighbour_ratios(times, flags)), launches_text(times, flags)

    def measured_baselines(self) -> tuple[tuple[str, ...], list[str]]:
        """The target's baselines this process can time, and why each other one cannot (FA4
        without its package): the evaluation goes on without those."""
        if not self.request.measure_baselines:
            return (), []
        names, missing = [], []
        for name in self.target.baselines:
            why = self.target.problem.numerics().baseline_missing(name)
            if why:
                missing.append(f"{name} not measured: {why}")
            else:
                names.append(name)
        return tuple(names), missing

    def known_baselines(self, config: Config, baselines: tuple[str, ...]) -> dict[str, Timing]:
        """Baseline timings to reuse: this worker's own first, then the request's; none where
        the request or the device says to time them afresh. (A reused timing is what the
        ratio to that baseline is shown by; the anchor, a baseline or not, is timed afresh in
        every evaluation all the same.)"""
        if not (self.request.reuse_baselines and self.device.reuses_baselines):
            return {}
        given = self.request.known_baselines.get(config.name, {})
        known = self.pipeline.baseline_timings
        return {
            name: known.get((name, config)) or given[name]
            for name in baselines
            if (name, config) in known or name in given
        }

    def anchor_subject(self, config: Config, pool: InputPool) -> Subject | None:
        """The anchor's launches on ``config``: the baseline's, or the seed kernel's (never
        checked: no agent wrote it); None where there is no anchor."""
        anchor = self.anchor
        if anchor is None:
            return None
        if anchor.kernel is None:
            return self._baseline_subject(anchor.name, config, pool)
        return self._kernel_subject(anchor.name, anchor.kernel, config, pool)

    def renew(self, *kernels: Kernel) -> None:
        """A fresh process for each of ``kernels`` and for the seed as the anchor, if it is."""
        anchor = self.anchor.kernel if self.anchor is not None else None
        for kernel in (*kernels, *([anchor] if anchor is not None else [])):
            kernel.renew()

    def time_config(self, kernel: Kernel, entry: ConfigResult, baselines: tuple[str, ...]
                    ) -> None:
        """Time the candidate and the baselines launch by launch in turn, in three rounds
        (new processes for a C kernel each round, who goes first rotating), so that whatever
        slows the machine slows them alike and their ratios hold. Within a round each turn
        has an order of its own: a subject that always followed the same neighbour would run
        in its wake (a GPU at its power limit starts a launch at the clock the one before
        left it)."""
        config = entry.config
        pool = InputPool(config, self.device, random.Random(self.draws.getrandbits(64)))
        turns = random.Random(self.draws.getrandbits(64))
        candidate = self._kernel_subject(CANDIDATE, kernel, config, pool)
        cycle = [candidate, *(self._baseline_subject(name, config, pool) for name in baselines)]
        anchor = self.anchor.name if self.anchor is not None else None
        apart = None if anchor in (None, *baselines) else self.anchor_subject(config, pool)
        if apart is not None:  # the seed as the anchor, or a baseline whose timing is reused
            cycle.append(apart)
        times: dict[str, list[float]] = {s.name: [] for s in cycle}
        logs: dict[str, list[float]] = {}
        budget = self.target.time_budget_s * len(cycle) / TIMING_ROUNDS
        first_s = self.first_launch_s.get(config, 0.0)
        expected = max(1, int(0.5 * budget / len(cycle) / max(first_s, 1e-6)))
        for round_ in range(TIMING_ROUNDS):
            if round_:  # also tells the worker's watchdog that slow kernels are progressing
                self.progress("time", f"{entry.name} round {round_ + 1}/{TIMING_ROUNDS}")
            self.renew(kernel)
            order = cycle[round_ % len(cycle):] + cycle[:round_ % len(cycle)]
            self.warm_up(kernel, order, candidate, config)
            measured = self.time_cycles(order, candidate, budget,
                                        max(expected, ROUND_LAUNCHES_AT_LEAST), turns)
            for (subject, checked), seconds in measured:
                times[subject.name].append(seconds)
                if checked:
                    entry.checked_s.append(seconds)
            round_logs = beside_logs([(s.name, t) for (s, _), t in measured], CANDIDATE)
            extend(logs, round_logs)
            value = versus_anchor(round_logs, anchor) if anchor is not None else None
            if value is not None:
                entry.anchor_blocks.append(value)
            mine = [(seconds, checked) for (subject, checked), seconds in measured
                    if subject is candidate]
            entry.checked_ratios += neighbour_ratios([s for s, _ in mine], [c for _, c in mine])
            expected = len(mine)
        self.check_idle(kernel, None, entry.name)
        entry.timing = summarize(times.pop(CANDIDATE))
        entry.throughput = self.target.throughput(config, entry.timing.median_s)
        entry.verified = len(entry.checked_s)
        for name in baselines:
            timing = beside_timing(times[name], logs.get(name), entry.timing)
            entry.add_baseline(name, timing, self.target.throughput(config, timing.median_s))

    def time_cycles(self, order: list[Subject], candidate: Subject, budget_s: float,
                    expected: int, turns: random.Random) -> list[tuple[Launch, float]]:
        """``order``'s subjects launched in turn (each launched once already: warm_up), each
        turn in an order that ``turns`` draws, CYCLES_PER_CALL turns at a time, until
        ``budget_s`` has passed (and at least MIN_REPS turns, and past the last of the
        candidate's launches to check, counted among its own launches).

        The candidate's launches are checked as timing.draw_checks draws over the ``expected``
        ones (VERIFIED_PER_ROUND on average, one surely), and each launch past those on the
        same chance as it is made: a round that makes more launches than it expected (its
        first launch slower than the rest, as a cold one is) leaves none of them unchecked by
        rule, for a cheat on repeated launches to use. A round drawn over one expected launch
        of its four let such a cheat through 6 evaluations in 300."""
        chance = (VERIFIED_PER_ROUND - 1) / expected
        verified = draw_checks(self.draws, expected, VERIFIED_PER_ROUND - 1, sure=True)
        measured: list[tuple[Launch, float]] = []
        deadline = self.now() + budget_s
        last = max(verified, default=-1)
        count = 0
        while (count < MIN_REPS or count <= last
               or (self.now() < deadline and count < MAX_REPS)):
            launches: list[Launch] = []
            for _ in range(CYCLES_PER_CALL):
                for subject in turns.sample(order, len(order)):
                    checked = subject is candidate and (
                        count in verified
                        or (count >= expected and self.draws.random() < chance))
                    count += subject is candidate
                    launches.append((subject, checked))
            measured += zip(launches, self.device.time_sequence([], launches), strict=True)
        return measured

    def time_beside(self, kernel: Kernel, incumbent: Kernel,
                    baselines: dict[str, tuple[str, ...]]) -> None:
        """The candidate and the best version launch beside launch (paired.py), one block per
        configuration a sweep, until the sequential rule decides or the plan's cap is reached.
        Without a plan (a first reading), the cap is twice what timing the candidate alone
        would take, and no checked launches are required. The anchor runs in every block
        (blocks.interleaved), so that both kernels' rates against it are measured in the same
        minutes as the gain. ``baselines`` to time on each configuration run in the same
        blocks for the first MIN_SWEEPS sweeps, a launch after every two pairs, so the score's
        ratios come from the same minutes as its gain."""
        timed = self.result.timed
        plan = self.request.gate or GatePlan(
            cap_s=2 * self.target.time_budget_s * len(timed), min_checked=0, record_se=math.inf)
        pairs = {e.name: self._pair(kernel, incumbent, e.config) for e in timed}
        anchors: dict[str, Subject | None] = {}
        beside: dict[str, list[Subject]] = {}  # the baselines timed in the first sweeps
        shown: dict[str, list[Subject]] = {}  # every baseline timed, the anchor's included
        for entry in timed:
            pool = InputPool(entry.config, self.device, random.Random(self.draws.getrandbits(64)))
            anchor = anchors[entry.name] = self.anchor_subject(entry.config, pool)
            fresh = baselines.get(entry.name, ())
            beside[entry.name] = [self._baseline_subject(name, entry.config, pool)
                                  for name in fresh if anchor is None or name != anchor.name]
            shown[entry.name] = beside[entry.name] + (
                [anchor] if anchor is not None and anchor.name in fresh else [])
        baseline_s: dict[str, dict[str, list[float]]] = {
            e.name: {s.name: [] for s in shown[e.name]} for e in timed}
        baseline_logs: dict[str, dict[str, list[float]]] = {e.name: {} for e in timed}
        start = {e.name: self.draws.randrange(2) for e in timed}
        estimate = PairedGain()
        chance = check_chance(plan.min_checked, len(timed))
        times: dict[str, dict[str, list[float]]] = {e.name: {CANDIDATE: [], INCUMBENT: []}
                                                    for e in timed}
        started = self.now()
        decision = "continue"
        while decision == "continue":
            self.renew(kernel, incumbent)
            sweep = estimate.sweeps
            for entry in timed:
                self.at = entry.name
                candidate, best = pairs[entry.name]
                anchor = anchors[entry.name]
                first = (start[entry.name] + sweep) % 2
                block = self._block(candidate, best, first, sure=sweep == 0, chance=chance)
                others = beside[entry.name] if sweep < MIN_SWEEPS else []
                block = interleaved(block, anchor, others, sweep)
                subjects = [candidate, best, *others, *([anchor] if anchor else [])]
                self.warm_up(kernel, subjects, candidate, entry.config, fresh=entry is timed[0])
                measured = self.device.time_sequence([], block)
                sequence = [(s.name, t) for (s, _), t in zip(block, measured, strict=True)]
                for name, seconds in sequence:
                    if name in baseline_s[entry.name]:
                        baseline_s[entry.name][name].append(seconds)
                to_candidate = beside_logs(sequence, CANDIDATE)
                extend(baseline_logs[entry.name],
                        {k: v for k, v in to_candidate.items() if k in baseline_s[entry.name]})
                if anchor is not None:
                    self._anchor_blocks(entry, anchor.name, to_candidate, sequence)
                mine = [s for (subject, _), s in zip(block, measured, strict=True)
                        if subject is candidate]
                theirs = [s for (subject, _), s in zip(block, measured, strict=True)
                          if subject is best]
                estimate.add(entry.name, block_value(theirs, mine))
                times[entry.name][CANDIDATE] += mine
                times[entry.name][INCUMBENT] += theirs
                flags = [checked for subject, checked in block if subject is candidate]
                entry.checked_s += [s for s, checked in zip(mine, flags, strict=True) if checked]
                entry.checked_ratios += neighbour_ratios(mine, flags)
            self.check_idle(kernel, incumbent, timed[-1].name)
            elapsed = self.now() - started
            # never before MIN_SWEEPS: a standard error needs a few blocks per configuration
            final = elapsed >= plan.cap_s and estimate.sweeps >= MIN_SWEEPS
            at = f"sweep {estimate.sweeps}, {elapsed:.0f} s of {plan.cap_s:.0f} s at most"
            self.progress("time", f"{at}: {describe(estimate.log_gain, estimate.se)}")
            if final or (plan.early and is_look(estimate.sweeps)):
                decision = decide(estimate.log_gain, estimate.se, estimate.dof, plan.floor,
                                  final)
                checked = sum(len(e.checked_s) for e in timed)
                if decision == "accept" and not final and (
                        checked < plan.min_checked or rougher_than(timed, plan.record_se)):
                    decision = "continue"
        for entry in timed:
            self.at = entry.name
            self._top_up_baselines(entry.config, pairs[entry.name][0], shown[entry.name],
                                   baseline_s[entry.name], baseline_logs[entry.name])
        for entry in timed:
            entry.block_gains = list(estimate.blocks[entry.name])
            entry.timing = summarize(times[entry.name][CANDIDATE])
            entry.incumbent_timing = summarize(times[entry.name][INCUMBENT])
            entry.throughput = self.target.throughput(entry.config, entry.timing.median_s)
            entry.verified = len(entry.checked_s)
            for name, samples_s in baseline_s[entry.name].items():
                timing = beside_timing(samples_s, baseline_logs[entry.name].get(name),
                                       entry.timing)
                entry.add_baseline(name, timing,
                                   self.target.throughput(entry.config, timing.median_s))
        self.result.beside = {
            "sweeps": estimate.sweeps,
            "seconds": round(self.now() - started, 3),
            "decision": decision,
            "cap_s": plan.cap_s,
            "floor": plan.floor,
            "gate": self.request.gate is not None,
        }

    def time_record(self, kernel: Kernel, plan: GatePlan) -> None:
        """A record taken as the gate takes one (issue 84), where no best is timed beside the
        kernel: after its timing rounds, the kernel and the anchor, one block a configuration
        a sweep (2 * PAIRS_PER_BLOCK launches of the kernel, the anchor amid them as in a
        gate's block), until its rate over the anchor, the rounds' blocks included, is known
        to the plan's record_se or the plan's cap has passed. A rescore of the lineage's first
        version reads it so (engine/rescore.py), and so does a seedless session's first commit:
        its record is what every later decision checks the best against."""
        timed = self.result.timed
        subjects: dict[str, tuple[Subject, Subject]] = {}
        for entry in timed:
            pool = InputPool(entry.config, self.device, random.Random(self.draws.getrandbits(64)))
            beside = self.anchor_subject(entry.config, pool)
            assert beside is not None, "a record is read only beside an anchor"
            subjects[entry.name] = (self._kernel_subject(CANDIDATE, kernel, entry.config, pool),
                                    beside)
        started = self.now()
        sweeps = 0
        while rougher_than(timed, plan.record_se) and self.now() - started < plan.cap_s:
            self.renew(kernel)
            for entry in timed:
                self.at = entry.name
                candidate, anchor = subjects[entry.name]
                flags = draw_checks(self.draws, 2 * PAIRS_PER_BLOCK, CHECK_CHANCE,
                                    sure=sweeps == 0)
                block = interleaved([(candidate, i in flags) for i in range(2 * PAIRS_PER_BLOCK)],
                                     anchor, [], sweeps)
                self.warm_up(kernel, [candidate, anchor], candidate, entry.config,
                             fresh=entry is timed[0])
                measured = self.device.time_sequence([], block)
                sequence = [(s.name, t) for (s, _), t in zip(block, measured, strict=True)]
                value = versus_anchor(beside_logs(sequence, CANDIDATE), anchor.name)
                alone = anchor_alone(sequence, anchor.name)
                if value is not None and alone is not None:
                    entry.anchor_blocks.append(value)
                    entry.anchor_alone_blocks.append(alone)
                mine = [(t, checked) for (s, checked), t in zip(block, measured, strict=True)
                        if s is candidate]
                entry.checked_s += [t for t, checked in mine if checked]
                entry.checked_ratios += neighbour_ratios([t for t, _ in mine],
                                                         [c for _, c in mine])
            self.check_idle(kernel, None, timed[-1].name)
            sweeps += 1
            se = PairedGain({e.name: list(e.anchor_blocks) for e in timed}).se
            known = f"±{100 * se:.2f}%" if se is not None else "not yet"
            self.progress("time", f"record sweep {sweeps}, {self.now() - started:.0f} s of "
                          f"{plan.cap_s:.0f} s at most: its rate over {anchor.name} "
                          f"known to {known} (a record needs ±{100 * plan.record_se:.2f}%)")

    @staticmethod
    def _anchor_blocks(entry: ConfigResult, anchor: str, to_candidate: dict[str, list[float]],
                       sequence: list[tuple[str, float]]) -> None:
        """One block's rate over the anchor of the candidate and of the best, each from the
        anchor's launches beside its own (versus_anchor), and the anchor's time (anchor_alone)."""
        mine = versus_anchor(to_candidate, anchor)
        theirs = versus_anchor(beside_logs(sequence, INCUMBENT), anchor)
        alone = anchor_alone(sequence, anchor)
        if mine is not None and theirs is not None and alone is not None:
            entry.anchor_blocks.append(mine)
            entry.incumbent_anchor_blocks.append(theirs)
            entry.anchor_alone_blocks.append(alone)

    def _top_up_baselines(self, config: Config, candidate: Subject, baselines: list[Subject],
                          samples: dict[str, list[float]], logs: dict[str, list[float]]) -> None:
        """Baselines timed beside the candidate until each has BASELINE_LAUNCHES launches on
        this configuration, within the time the target gives each baseline: a baseline answers
        the clock's swings unlike our kernel does, so its ratio needs more launches than the
        few a short gate gives it. The candidate launches between them, one of its launches
        checked surely and each on a chance too (timing.draw_checks), and only serves as the
        reference here."""
        short = {s.name: BASELINE_LAUNCHES - len(samples[s.name]) for s in baselines}
        first_s = max(self.first_launch_s.get(config, 0.0), 1e-6)
        turns = min(max(short.values(), default=0),
                    int(self.target.time_budget_s / (2 * first_s)))
        order: list[Subject] = []
        for turn in range(turns):
            order += [s for s in baselines if short[s.name] > turn]
        if not order:
            return
        checked = draw_checks(self.draws, len(order) + 1, 1.0, sure=True)
        launches: list[Launch] = []
        for index, baseline in enumerate(order):
            launches += [(candidate, index in checked), (baseline, False)]
        launches.append((candidate, len(order) in checked))
        self.progress("time", "baselines beside the candidate")
        measured = self.device.time_sequence([candidate, *baselines], launches)
        for (subject, _), seconds in zip(launches, measured, strict=True):
            if subject is not candidate:
                samples[subject.name].append(seconds)
        extend(logs, beside_logs([(s.name, t) for (s, _), t in zip(launches, measured,
                                                                   strict=True)], CANDIDATE))

    def _pair(self, kernel: Kernel, incumbent: Kernel, config: Config) -> tuple[Subject, Subject]:
        """The two kernels' subjects on ``config``: one input pool and two output buffers
        shared, each launch taking the next of either, so that in an A B B A order each kernel
        gets each buffer equally often."""
        pool = InputPool(config, self.device, random.Random(self.draws.getrandbits(64)))
        outs = [empty_outputs(config, self.device.name) for _ in range(INPUT_SLOTS)]
        turn = [0]

        def next_out() -> OutputSet:
            turn[0] += 1
            return outs[turn[0] % len(outs)]

        return (self._kernel_subject(CANDIDATE, kernel, config, pool, next_out),
                self._kernel_subject(INCUMBENT, incumbent, config, pool, next_out))

    def _block(self, candidate: Subject, best: Subject, first: int, sure: bool = False,
               chance: float = CHECK_CHANCE) -> list[Launch]:
        """PAIRS_PER_BLOCK pairs in an A B B A ... order (A the candidate when ``first`` is 0),
        each launch checked on its own chance: ``chance`` a block on average for both kernels,
        as a check idles the GPU and moves the next launch's time (docs/engine.md, step 2),
        and one more of each surely where ``sure`` (a configuration's first block): a gate that
        decides in three sweeps now and then left a best unchecked on a quick grid, and a
        best that replays stale output then went unnamed."""
        a, b = (candidate, best) if first == 0 else (best, candidate)
        order = [(a, b) if pair % 2 == 0 else (b, a) for pair in range(PAIRS_PER_BLOCK)]
        subjects = [s for pair in order for s in pair]
        checked: set[int] = set()
        for subject in (candidate, best):
            mine = [i for i, s in enumerate(subjects) if s is subject]
            checked.update(mine[i] for i in draw_checks(self.draws, len(mine), chance, sure))
        return [(s, i in checked) for i, s in enumerate(subjects)]

    def _kernel_subject(
        self, name: str, kernel: Kernel, config: Config, pool: InputPool,
        next_out: Callable[[], OutputSet] | None = None,
    ) -> Subject:
        own = empty_outputs(config, self.device.name)
        current = [own]

        def prepare() -> None:
            inputs = pool.advance()
            outs = current[0] = next_out() if next_out is not None else own
            poison_all(outs)
            kernel.stage(config, inputs, outs)
            self.device.flush_cache()

        def check() -> None:
            inputs, outs = pool.current, current[0]
            kernel.settle(inputs, outs)
            pristine = pool.regenerate()
            try:
                if not inputs.equal(pristine):
                    raise Rejected("inputs_modified",
                                   f"{inputs.described()} changed during a timed launch",
                                   config.name)
                self.check_rows(config, pristine, outs)
            except Rejected as rejected:
                if name == INCUMBENT:  # not the candidate's fault, and the operator must know
                    raise Rejected(
                        "incumbent_failed",
                        f"the best version, timed beside the candidate, failed a check: "
                        f"{rejected.failure.kind}: {rejected.failure.message}",
                        config.name,
                    ) from None
                raise

        return Subject(name, prepare, kernel.fire, check)

    def _baseline_subject(self, name: str, config: Config, pool: InputPool) -> Subject:
        baseline = config.problem.numerics().baselines[name](config)

        def prepare() -> None:
            baseline.stage(pool.advance())
            self.device.flush_cache()

        def run() -> None:
            baseline.run()

        return Subject(name, prepare, run)
