"""The edge shapes of an imported target that reach the problem's own lengths: its longest
rows, and every dimension's full length.

A reduction, a scan or a norm is hostile to a kernel at its longest row: a scan exact up to
some length, a norm right only for its first tile, pass at every shorter one. The timed shape
is scaled down for timing and the edge shapes are small, so neither reaches the problem's own
row. The forward is run on the meta device (shapes alone, at no cost) at the problem's own
sizes (or the smaller ones its shapes were probed at: a recurrent network builds slowly) and
with each varied dimension halved in turn, recording every reduction, scan and norm the aten
operations show (recorded_ops.py: a norm written by hand is a sum of squares): the
dimensions whose halving shortens a row are the rows' own. The edge shape keeps them at the
problem's sizes and every other varied dimension at the smallest edge shape's, so the check is
of a few long rows, not of the whole problem. Where that shape holds more than ROW_ELEMENTS
values in one tensor (a reduction over a whole tensor), its longest row dimension is halved
until it fits, and the import says how long a row is checked.

Every other varied dimension is then brought to its own length too (full_lengths): the timed
shape is scaled for timing and never checks a size the problem gives alone. Dimensions are
added to one shape while it holds at most ROW_ELEMENTS values in a tensor and a launch of the
seed there is estimated at FULL_MAX_S or less; one that does not fit beside the others gets a
shape of its own (the others at their smallest), and one that does not fit alone is checked
as long as fits, which the import says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..problem.problem_module import KernelBenchProblem, ProbeFailed, Sizes
from ..problem.shapes import Shapes
from .recorded_ops import ROW_FAMILIES, Recorder

ROW_ELEMENTS = 1 << 22  # values in one tensor at the long-row shape (float64: 32 MiB)
FULL_MAX_S = 0.25  # the seed's estimated launch at a full-length shape, at the most


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
    # the rows' dimensions are found where the shapes were probed: the problem's own sizes,
    # or smaller ones where a build there is long (a recurrent network's)
    probed = {d: shapes.probe_base.get(d, v) for d, v in base.items()}
    own = _rows(problem, shapes, probed) if varied else []
    if not own:
        return LongRows(None)
    row_dims = [d for d in varied if probed[d] > 1
                and _rows(problem, shapes, {**probed, d: probed[d] // 2}) != own]
    if not row_dims:
        return LongRows(None)
    sizes = {**base, **{d: smallest[d] for d in varied if d not in row_dims}}
    while _largest(shapes, sizes) > ROW_ELEMENTS:
        longest = max(row_dims, key=lambda d: sizes[d])
        if sizes[longest] <= smallest[longest]:
            return LongRows(None)
        sizes[longest] = max(smallest[longest], sizes[longest] // 2)
    # a shape already checked with every row dimension as long: no new row (a build of a
    # network on the meta device takes seconds, so the rows there are not recorded)
    if any(all(c[d] >= sizes[d] for d in row_dims) for c in checked):
        return LongRows(None)
    reached = _rows(problem, shapes, sizes)
    if not reached:
        return LongRows(None)
    whose = ", ".join(f"{d} {sizes[d]}" for d in row_dims)
    before = ", ".join(f"{d} {max(c[d] for c in checked)}" for d in row_dims)
    how = ("the problem's own" if all(sizes[d] == base[d] for d in row_dims) else
           f"{max(reached):,} values, short of the problem's own (one tensor held under "
           f"{ROW_ELEMENTS:,} values)")
    return LongRows(sizes, f"the edge shape with {whose} checks rows of {how} length, the "
                           f"longest its reductions, scans and norms see (the other shapes "
                           f"reach {before}): a kernel exact only up to some length is "
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


@dataclass(frozen=True)
class FullLengths:
    """The edge shapes that bring every varied dimension to its own length, and what the
    import says of them."""

    sizes: list[Sizes]
    notes: list[str]


def full_lengths(shapes: Shapes, varied: Sequence[str], checked: Sequence[Sizes],
                 smallest: Sizes, start: Sizes | None, fits: Callable[[Sizes], bool]
                 ) -> FullLengths:
    """The shapes, from ``start`` (the long-row shape; None: every varied dimension at
    ``smallest``) on, that reach the own length of each varied dimension the shapes
    ``checked`` leave short; ``fits``: whether a shape builds and is quick enough."""
    base = dict(shapes.dims)
    least = {**base, **{d: smallest[d] for d in varied}}
    short = [d for d in varied if max((c[d] for c in checked), default=0) < base[d]
             and (start is None or start[d] < base[d])]
    found: list[Sizes] = [] if start is None else [dict(start)]
    notes: list[str] = []
    for dim in short:
        widened = {**found[-1], dim: base[dim]} if found else None
        if widened is not None and _fits(shapes, widened, fits):
            found[-1] = widened
            continue
        alone = {**least, dim: base[dim]}
        while not _fits(shapes, alone, fits) and alone[dim] > smallest[dim]:
            alone[dim] = max(smallest[dim], alone[dim] // 2)
        if not _fits(shapes, alone, fits):
            notes.append(f"{dim} is checked at most at {max(c[dim] for c in checked)} of its "
                         f"{base[dim]}: no shape with it longer builds quickly")
            continue
        if alone[dim] < base[dim]:
            notes.append(f"{dim} is checked at most at {alone[dim]} of its {base[dim]}: one "
                         f"tensor held under {ROW_ELEMENTS:,} values, a launch of the seed "
                         f"under {FULL_MAX_S:g} s")
        found.append(alone)
    reached = sorted(d for d in varied if any(f[d] == base[d] for f in found))
    # a dimension only brought closer to its own length is told of above, not as reached
    if any(d in reached for d in short):
        notes.insert(0, f"the edge shapes {', '.join(_shown(f, varied) for f in found)} "
                        f"check {', '.join(reached)} at the problem's own lengths (the timed "
                        "shape is scaled for timing)")
    return FullLengths(found, notes)


def _fits(shapes: Shapes, sizes: Sizes, fits: Callable[[Sizes], bool]) -> bool:
    """Whether ``sizes`` keeps every tensor under ROW_ELEMENTS values and ``fits`` (a build:
    asked last)."""
    return _largest(shapes, sizes) <= ROW_ELEMENTS and fits(sizes)


def _shown(sizes: Sizes, varied: Sequence[str]) -> str:
    return "(" + ", ".join(f"{d} {sizes[d]}" for d in varied) + ")"
