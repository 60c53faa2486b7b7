"""The integer and bool inputs of an imported problem (class labels, token ids, a mask): the
values each is drawn from, and the sizes those values follow.

A target draws an integer input by a rule, ``Integers(low, high)`` (high excluded; values.py).
The importer reads it off the problem: ``get_inputs()`` called DRAWS times at the timed sizes,
torch seeded, the least and the most value seen giving ``Integers(least, most + 1)``. That is
within what the problem draws, so the reference never meets an index the problem would not
give it, at those sizes.

An index's range follows a size (labels below num_classes, token ids below vocab_size), and
the edge and drawn shapes move the sizes. So each of them is run for real, on the CPU (they
are small), with every integer input filled with its least value and then with its most: where
the forward rejects one (an index out of range), the size the range follows is found, and it
stays at its timed value in every checked shape. It is found by holding each varied size alone;
failing that, by holding every one and releasing them one at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from ..problem.problem_module import ImportRefused, KernelBenchProblem, Sizes
from ..problem.shapes import VARIED_FROM, Shapes
from .configs import Configs

DRAWS = 8  # calls of get_inputs() the range is read from

Range = tuple[int, int]  # [low, high): an Integers rule's


@dataclasses.dataclass(frozen=True)
class IntegerInputs:
    """Each integer input's range by its position among the forward's arguments; the
    configurations, with the sizes the ranges follow held (``held``) at their timed values."""

    ranges: dict[int, Range]
    configs: Configs
    held: tuple[str, ...] = ()

    def comment(self, position: int, name: str, timed: Mapping[str, int]) -> str:
        """What the target file says above the input at ``position``: where its rule comes
        from, and that it may be widened ("" for a float input)."""
        if position not in self.ranges:
            return ""
        low, high = self.ranges[position]
        text = (f"Integers({low}, {high}): the least and the most value of {name} in {DRAWS} "
                "draws of the problem's get_inputs() at the timed sizes (torch seeded), so the "
                "reference only sees values the problem gives it; widen it by hand where the "
                "problem takes more.")
        if self.held:
            held = ", ".join(f"{d} = {timed[d]}" for d in self.held)
            text += f" Every checked shape keeps {held}: the range follows it."
        return text


def integer_inputs(problem: KernelBenchProblem, shapes: Shapes, configs: Configs,
                   names: Sequence[str]) -> IntegerInputs:
    """The ranges of the problem's integer inputs (``names``: every input's name in the
    target) and the configurations that keep them valid; ``configs`` as it is where the
    problem has none."""
    positions = [i for i, t in enumerate(problem.base.inputs) if not t.is_floating_point()]
    if not positions:
        return IntegerInputs({}, configs)
    timed = shapes.problem_sizes(configs.timed)
    ranges = _observed(problem, timed, positions)
    checked = _checked_configs(configs)
    takes = _Takes(problem, shapes, ranges)
    varied = [d for d in configs.timed if any(c[d] != configs.timed[d] for c in checked)]

    def passes(held: Sequence[str]) -> bool:
        return all(takes({**c, **{d: configs.timed[d] for d in held}}) for c in checked)

    held = _held(passes, varied)
    if held is None:
        which = ", ".join(f"{names[i]} ({low} and {high - 1})" for i, (low, high) in
                          ranges.items())
        raise ImportRefused(f"{problem.path.name}: the forward rejects its integer inputs "
                            f"filled with the least or the most value get_inputs() gave "
                            f"({which}) even at the timed sizes ({takes.error}): their ranges "
                            "depend on each other or on the values; write the target file by "
                            "hand (docs/targets.md, integer and bool tensors)")
    if not held:
        return IntegerInputs(ranges, configs)
    return IntegerInputs(ranges, _holding(configs, held, names, ranges), tuple(held))


def tie_indexed_globals(problem: KernelBenchProblem, shapes: Shapes) -> Shapes:
    """``shapes`` with each size global no shape follows tied to the dimension whose length
    it is, where the problem has integer inputs: the global an index is drawn below.
    KernelBench's cross-entropy draws its labels below num_classes while its logits' classes
    are a tuple global of their own (input_shape = (num_classes,), read once): scaled for
    timing, the classes shrink and the labels do not, and the forward rejects them. Tied,
    the labels' range is read from the dimension they index at every size."""
    if all(t.is_floating_point() for t in problem.base.inputs):
        return shapes
    taken = {name for names in shapes.tied.values() for name in names}
    plain = {size.dims[0] for j, t in enumerate(problem.base.inputs) if t.is_floating_point()
             for size in shapes.inputs[j] if len(size.dims) == 1 and not size.product
             and size.divisor == 1 and (dict(size.terms)[size.dims[0]], size.offset) == (1, 0)}
    # an index does not index the dimensions it is laid along (labels [batch] index classes)
    plain -= {d for j, t in enumerate(problem.base.inputs) if not t.is_floating_point()
              for size in shapes.inputs[j] for d in size.dims}
    tied = dict(shapes.tied)
    for name, value in problem.sizes.items():
        if name in taken or value < VARIED_FROM:
            continue
        dims = [d for d in shapes.dims if d in plain and shapes.dims[d] == value]
        if len(dims) == 1:
            tied[dims[0]] = (*tied.get(dims[0], (dims[0],)), name)
    return shapes if tied == shapes.tied else dataclasses.replace(shapes, tied=tied)


def _observed(problem: KernelBenchProblem, sizes: Sizes, positions: list[int]
              ) -> dict[int, Range]:
    """[least, most + 1) of each integer input over DRAWS calls of get_inputs() at
    ``sizes``, torch seeded (a bool's False and True are 0 and 1)."""
    least: dict[int, int] = {}
    most: dict[int, int] = {}
    with problem.sizes_set(sizes):
        torch.manual_seed(0)
        for _ in range(DRAWS):
            inputs = problem.module.get_inputs()
            for i in positions:
                values = inputs[i].to(torch.int64)
                if values.numel():
                    low, high = int(values.min()), int(values.max())
                    least[i] = min(least.get(i, low), low)
                    most[i] = max(most.get(i, high), high)
    return {i: (least.get(i, 0), most.get(i, 0) + 1) for i in positions}


def _checked_configs(configs: Configs) -> list[Sizes]:
    """The shapes a check runs besides the timed one: the edges, and the corners of the
    drawn ranges (the others at their timed values, as the target's draw() sets them)."""
    corners = [{**configs.timed, **{d: r[end] for d, r in configs.draw.items()}}
               for end in (0, 1)] if configs.draw else []
    return [*configs.edges, *corners]


def _held(passes: Callable[[Sequence[str]], bool], varied: list[str]) -> list[str] | None:
    """The fewest varied sizes to hold at their timed values for every checked shape to pass
    (none, one alone, else all released one at a time where they can be); None where even
    all held fail."""
    if passes(()):
        return []
    for dim in varied:
        if passes((dim,)):
            return [dim]
    held = list(varied)
    if not passes(held):
        return None
    for dim in varied:
        fewer = [d for d in held if d != dim]
        if passes(fewer):
            held = fewer
    return held


def _holding(configs: Configs, held: list[str], names: Sequence[str],
             ranges: Mapping[int, Range]) -> Configs:
    """``configs`` with the ``held`` sizes at their timed values in every edge shape and out
    of the drawn ranges, and a note saying so."""
    timed = configs.timed
    edges: list[Sizes] = []
    for edge in configs.edges:
        moved = {**edge, **{d: timed[d] for d in held}}
        if moved not in edges and moved != timed:
            edges.append(moved)
    draw = {d: r for d, r in configs.draw.items() if d not in held}
    which = " and ".join(names[i] for i in ranges)
    kept = " and ".join(f"{d} stays at {timed[d]}" for d in held)
    smaller = "it is smaller" if len(held) == 1 else "these are smaller"
    note = (f"{kept} in every checked shape: the values of {which} are read at the timed "
            f"sizes, and the forward rejects them where {smaller}")
    return dataclasses.replace(configs, edges=edges, draw=draw, notes=[*configs.notes, note])


class _Takes:
    """Whether the forward runs, for real on the CPU, at a configuration with every integer
    input filled with its least value, and with its most (each configuration tried once)."""

    def __init__(self, problem: KernelBenchProblem, shapes: Shapes,
                 ranges: Mapping[int, Range]) -> None:
        self.problem = problem
        self.shapes = shapes
        self.ranges = dict(ranges)
        self._seen: dict[tuple[tuple[str, int], ...], bool] = {}
        self.error = ""  # the last rejection, in one line

    def __call__(self, config: Mapping[str, int]) -> bool:
        key = tuple(sorted(config.items()))
        if key not in self._seen:
            self._seen[key] = self._runs(self.shapes.problem_sizes(config))
        return self._seen[key]

    def _runs(self, sizes: Sizes) -> bool:
        module = self.problem.module
        with self.problem.sizes_set(sizes):
            try:
                torch.manual_seed(0)
                model = module.Model(*getattr(module, "get_init_inputs", list)())
                inputs: list[Any] = list(module.get_inputs())
                with torch.no_grad():
                    for end in (0, 1):
                        model(*[torch.full_like(t, self.ranges[i][0] if end == 0 else
                                                self.ranges[i][1] - 1)
                                if i in self.ranges else t for i, t in enumerate(inputs)])
            except Exception as error:  # an index out of range: IndexError, RuntimeError
                lines = str(error).strip().splitlines()
                self.error = f"{type(error).__name__}: {lines[0][:160] if lines else ''}"
                return False
        return True
