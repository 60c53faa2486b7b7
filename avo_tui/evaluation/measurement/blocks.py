"""What a timed measurement draws on, outside its stages (measure.py): the input buffers of a
configuration's launches (InputPool), where the anchor and the baselines sit among a block's
launches (interleaved), how often a block checks each kernel (check_chance), and whether a
rate over the anchor is known well enough for a record (rougher_than)."""

from __future__ import annotations

import random

from ..devices.device import Device
from ..devices.timing import Launch, Subject
from ..paired import MIN_SWEEPS, PAIRS_PER_BLOCK, PairedGain
from ..results import ConfigResult
from ..targets.problem import Config, InputSet
from .tensors import make_inputs, refill

INPUT_SLOTS = 2  # timed launches alternate between buffers: new values at new addresses too
CHECK_CHANCE = 0.5  # checked launches of each kernel in a block beside the best, on average
# Checked launches of the candidate expected by the gate's first look past the plan's least
# (paired.MIN_CHECKED): with 8 expected, a gate found 8 by then half the time.
CHECKS_AHEAD = 4


class InputPool:
    """The input buffers of one configuration's timing. ``advance`` fills the next buffer with
    values drawn from a new seed; ``regenerate`` draws the current values again, into new
    memory, after the launch (a kernel cannot reach what does not exist yet)."""

    def __init__(self, config: Config, device: Device, seeds: random.Random) -> None:
        self.config = config
        self.device_name = device.name
        self.generator = device.generator(0)
        self.seeds = seeds
        self.slots = [
            make_inputs(config, self.generator, device.name) for _ in range(INPUT_SLOTS)
        ]
        self.index = 0
        self.seed = 0

    @property
    def current(self) -> InputSet:
        return self.slots[self.index]

    def advance(self) -> InputSet:
        self.index = (self.index + 1) % len(self.slots)
        self.seed = self.seeds.getrandbits(62)
        refill(self.config, self.current, self.generator.manual_seed(self.seed))
        return self.current

    def regenerate(self) -> InputSet:
        self.generator.manual_seed(self.seed)
        return make_inputs(self.config, self.generator, self.device_name)


def check_chance(min_checked: int, configs: int) -> float:
    """Checked launches of each kernel a block beside the other, on average: CHECK_CHANCE, or
    more where a grid of few configurations would otherwise reach the plan's ``min_checked``
    only sweeps after the statistics decide (one configuration: 12 to 24 sweeps for a gain
    decided at 3). Every launch keeps its own chance (timing.draw_checks): more checks, never
    predictable ones."""
    if min_checked <= 0:
        return CHECK_CHANCE
    sure = configs  # a configuration's first block checks one launch surely
    wanted = (min_checked + CHECKS_AHEAD - sure) / (MIN_SWEEPS * configs)
    return min(float(PAIRS_PER_BLOCK), max(CHECK_CHANCE, wanted))


def rougher_than(timed: list[ConfigResult], record_se: float) -> bool:
    """Whether the candidate's or the best's rate over the anchor, as far as it has been timed,
    is known less precisely than ``record_se`` (no anchor timed: there is nothing to know)."""
    for blocks in ({c.name: list(c.anchor_blocks) for c in timed},
                   {c.name: list(c.incumbent_anchor_blocks) for c in timed}):
        if not all(blocks.values()):
            return False
        se = PairedGain(blocks).se
        if se is None or se > record_se:
            return True
    return False


def extend(into: dict[str, list[float]], more: dict[str, list[float]]) -> None:
    for name, values in more.items():
        into.setdefault(name, []).extend(values)


def interleaved(block: list[Launch], anchor: Subject | None, baselines: list[Subject],
                 turn: int) -> list[Launch]:
    """``block`` with the anchor launched amid every two of its pairs (after its 2nd, 6th,
    10th ... launch: in an A B B A order, between the two Bs, and two launches from each A),
    so that over blocks, which alternate A, it sits as near to either kernel; and with a
    baseline after every two pairs (four launches), ``baselines`` taking turns from ``turn``
    on."""
    out: list[Launch] = []
    for index, launch in enumerate(block, start=1):
        out.append(launch)
        if anchor is not None and index % 4 == 2:
            out.append((anchor, False))
        if baselines and index % 4 == 0:
            out.append((baselines[turn % len(baselines)], False))
            turn += 1
    return out
