"""The work of a network is counted as torch counts it, in far less time (issue 85): torch's
FLOP counter writes out every batch norm in Python at every build, and a ResNet-101's import
spent most of its time so; each call's count is now remembered with its outputs' shapes
(flop_count.py). The counts must stay torch's own at every size, a call counted before must
not reach torch's counter again, and the counting must still be told as it goes."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from kernelbench_problems import CONV_BN_RELU
from torch.utils.flop_counter import FlopCounterMode

from avo_tui.kernelbench.problem.flop_count import FlopCount
from avo_tui.kernelbench.problem.problem_module import KernelBenchProblem
from avo_tui.kernelbench.problem.shapes import fit_shapes
from avo_tui.kernelbench.problem.work import work_of
from avo_tui.kernelbench.seeds.stage_plan import recorded
from avo_tui.kernelbench.target.progress import QUIET_S, Progress

# A ResNet in small, as KernelBench writes one: a strided stem and a max pooling, blocks of
# convolutions and batch norms in training mode (two of them on the same shapes), a strided
# block with its shortcut, an average pooling and a linear head.
TINY_RESNET = """import torch
import torch.nn as nn

batch_size = 2
height = 32
width = 24
num_classes = 10


class Block(nn.Module):
    def __init__(self, channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(channels // stride, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.down = nn.Identity() if stride == 1 else nn.Sequential(
            nn.Conv2d(channels // stride, channels, 1, stride, bias=False),
            nn.BatchNorm2d(channels))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.down(x))


class Model(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.stages = nn.Sequential(Block(8, 1), Block(16, 2))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def get_inputs():
    return [torch.rand(batch_size, 3, height, width)]


def get_init_inputs():
    return [num_classes]
"""

# the sizes the tests count at: the problem's own, one size moved, every size moved, and
# the problem's own again (every call remembered)
MOVES: tuple[dict[str, int], ...] = (
    {}, {"height": 5}, {"num_classes": 3}, {"batch_size": 1, "height": 33, "width": 2}, {})


def tiny_resnet(tmp_path: Path) -> KernelBenchProblem:
    path = tmp_path / "tiny_resnet.py"
    path.write_text(TINY_RESNET)
    return KernelBenchProblem(path)


def torchs_count(problem: KernelBenchProblem, sizes: Mapping[str, int]) -> int:
    """What torch's counter counts on its own over a build at ``sizes``."""
    counter = FlopCounterMode(display=False)
    problem.instantiate(sizes, watch=counter)
    return int(counter.get_total_flops())


def remembered(flops: FlopCount, problem: KernelBenchProblem, sizes: Mapping[str, int]) -> int:
    """The count of a build at ``sizes``, each call's remembered from earlier builds."""
    return flops.count(lambda watch: problem.instantiate(sizes, watch=watch))


def moved(problem: KernelBenchProblem, moves: Mapping[str, int]) -> dict[str, int]:
    return {**problem.sizes, **{d: problem.sizes[d] + m for d, m in moves.items()}}


def test_the_remembered_count_is_torchs_at_every_size(tmp_path: Path) -> None:
    """Counted with its calls remembered from build to build, the network's FLOPs at each
    size are those torch's counter counts alone."""
    problem = tiny_resnet(tmp_path)
    flops = FlopCount()
    counted, expected = [], []
    for moves in MOVES:
        sizes = moved(problem, moves)
        counted.append(remembered(flops, problem, sizes))
        expected.append(torchs_count(problem, sizes))
    assert counted == expected
    assert len(set(counted)) == len(MOVES) - 1 and min(counted) > 0


def test_a_call_counted_before_reaches_torchs_counter_no_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built again at the same sizes, no convolution, product or batch norm reaches torch's
    counter (only views, and the empty tensors the remembered calls are answered with):
    each is counted from memory, and the total is the same."""
    problem = tiny_resnet(tmp_path)
    reached: list[Any] = []
    count_flops = FlopCounterMode._count_flops

    def seen(self: FlopCounterMode, func_packet: Any, out: Any, args: Any,
             kwargs: Any) -> Any:
        reached.append(func_packet)
        return count_flops(self, func_packet, out, args, kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(FlopCounterMode, "_count_flops", seen)
    flops = FlopCount()
    first = remembered(flops, problem, problem.sizes)
    reached_first = set(reached)
    reached.clear()
    again = remembered(flops, problem, problem.sizes)
    aten = torch.ops.aten
    assert {aten.convolution, aten.addmm} <= reached_first
    assert set(reached) <= {aten.empty_strided, aten.view, aten.t, aten.detach}, set(reached)
    assert first == again == torchs_count(problem, problem.sizes)


def test_the_work_stated_is_torchs_count_off_its_grid(tmp_path: Path) -> None:
    """The FLOP formula the importer states for the network (torch's formulas call by call:
    its strides floor the sizes) gives torch's count at sizes of the dimensions it varies
    that it was not counted at."""
    problem = tiny_resnet(tmp_path)
    shapes = fit_shapes(problem)
    work = work_of(problem, shapes, recorded(problem, shapes))
    assert work.kind == "flops" and work.flops is not None and not work.flops_error
    assert work.by_call and set(shapes.varied) == {"height", "width", "num_classes"}
    for moves in ({"height": 11, "width": 7}, {"num_classes": 29},
                  {"height": 41, "width": 30, "num_classes": -9}):
        sizes = moved(problem, moves)
        assert work.flops_at(sizes) == torchs_count(problem, sizes), moves


class Clock:
    """Seconds that pass only when read: each reading a second later than the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_counting_the_work_is_told_as_it_goes(tmp_path: Path) -> None:
    """Each build of a convolution's problem takes a second of the modelled clock: while its
    work is counted, a line says how far it has come, never more than QUIET_S apart."""
    told = io.StringIO()
    progress = Progress(told, limit_s=10_000, clock=Clock(), name="conv_bn_relu.py",
                        beat_s=None)
    path = tmp_path / "conv_bn_relu.py"
    path.write_text(CONV_BN_RELU)
    problem = KernelBenchProblem(path, progress.tick)
    shapes = fit_shapes(problem)
    progress.phase("counting the work")
    start = progress.phase_started - progress.started
    work_of(problem, shapes, recorded(problem, shapes))
    end = progress.clock() - progress.started
    lines = told.getvalue().splitlines()
    counting = [line for line in lines if "counting the work" in line]
    assert counting and len(counting) == len(lines) - lines.index(counting[0]), lines
    assert all(re.fullmatch(r"avo targets import: (still )?counting the work(: \d+ builds of "
                            r"the problem in \d+ s)? \[\d+ s\]", line) for line in counting)
    stamps = [start, *(float(re.findall(r"\[(\d+) s\]$", line)[0]) for line in counting), end]
    assert len(counting) >= 5
    assert all(b - a <= QUIET_S + 1 for a, b in itertools.pairwise(stamps)), counting
