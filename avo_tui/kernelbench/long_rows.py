"""The edge shape of an imported target with the problem's longest rows.

A reduction, a scan or a norm is hostile to a kernel at its longest row: a scan exact up to
some length, a norm right only for its first tile, pass at every shorter one. The timed shape
is scaled down for timing and the edge shapes are small, so neither reaches the problem's own
row. The forward is run on the meta device (shapes alone, at no cost) at the problem's own
sizes and with each varied dimension halved in turn, recording every reduction, scan and norm
the aten operations show (recorded_ops.py: a norm written by hand is a sum of squares): the
dimensions whose halving shortens a row are the rows' own. The edge shape keeps them at the
problem's sizes and every other varied dimension at the smallest edge shape's, so the check is
of a few long rows, not of the whole problem. Where that shape holds more than ROW_ELEMENTS
values in one tensor (a reduction over a whole tensor), its longest row dimension is halved
until it fits, and the import says how long a row is checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .problem_module import KernelBenchProblem, ProbeFailed, Sizes
from .recorded_ops import ROW_FAMILIES, Recorder
from .shapes import Shapes

ROW_ELEMENTS = 1 << 22  # values in one tensor at the long-row shape (float64: 32 MiB)


@dataclass(frozen=True)
class LongRows:
    """The long-row edge shape (None: none is needed or none builds) and what the import
    says of it."""

    sizes: Sizes | None
    note: str = ""


def long_rows(problem: KernelBenchProblem, shapes: Shapes, varied: Sequence[str],
              checked: Sequence[Sizes], smallest: Sizes) -> LongRows:
    """The edge shape with the problem's longest rows for a problem whose ``varied``
    dimensions the configurations move, beyond the rows of the shapes ``checked`` already;
    every other varied dimension at ``smallest``."""
    base = dict(shapes.dims)
    own = _rows(problem, shapes, base)
    if not own or not varied:
        return LongRows(None)
    row_dims = [d for d in varied if base[d] > 1
                and _rows(problem, shapes, {**base, d: base[d] // 2}) != own]
    if not row_dims:
        return LongRows(None)
    sizes = {**base, **{d: smallest[d] for d in varied if d not in row_dims}}
    while _largest(shapes, sizes) > ROW_ELEMENTS:
        longest = max(row_dims, key=lambda d: sizes[d])
        if sizes[longest] <= smallest[longest]:
            return LongRows(None)
        sizes[longest] = max(smallest[longest], sizes[longest] // 2)
    reached = _rows(problem, shapes, sizes)
    before = max((max(_rows(problem, shapes, c) or [0]) for c in checked), default=0)
    if not reached or max(reached) <= before:
        return LongRows(None)
    whose = ", ".join(f"{d} {sizes[d]}" for d in row_dims)
    full = max(reached) == max(own)
    how = ("the problem's own" if full else
           f"{max(reached):,} of the problem's {max(own):,} (one tensor held under "
           f"{ROW_ELEMENTS:,} values)")
    return LongRows(sizes, f"the edge shape with {whose} checks rows of {how} length, the "
                           f"longest its reductions, scans and norms see (the other shapes "
                           f"reach {before:,}): a kernel exact only up to some length is "
                           "caught there")


def _rows(problem: KernelBenchProblem, shapes: Shapes, sizes: Mapping[str, int]
          ) -> list[int]:
    """The length of every row the forward reduces or scans at ``sizes``, in order (empty
    where it does not build there)."""
    if any(size.value(sizes) <= 0 for shape in shapes.all() for size in shape):
        return []
    recorder = Recorder()
    try:
        problem.instantiate(shapes.problem_sizes(sizes), watch=recorder)
    except (ProbeFailed, ValueError):
        return []
    return [int(s.groups.shape[1]) for s in recorder.seen if s.family in ROW_FAMILIES]


def _largest(shapes: Shapes, sizes: Mapping[str, int]) -> int:
    largest = 1
    for shape in shapes.all():
        count = 1
        for size in shape:
            count *= size.value(sizes)
        largest = max(largest, count)
    return largest
