"""The configurations of an imported target: the timed one, the edge ones and the ranges drawn
from, each checked by building the problem there (on the meta device).

- **Timed**: the problem's own sizes. On the CPU they are scaled (the largest dimension
  halved, down to 8 and then, where still slow, to the least it builds at; or the first
  doubled) until a launch of the seed takes within TIMED_S, at the rates below, then at the
  rate its launches are measured at once it is written (calibrate.py): KernelBench's sizes
  are a GPU's, and a timed launch far past TIMED_S makes every evaluation of a run slow,
  while one far under it varies too much to time.
- **Edge**: the sizes that break tiled code, small enough for the float64 reference on one
  core: every varied dimension at its smallest (1, or the least the problem builds at), at
  small primes (the last one 37), and one past a tile (17, the last one 65).
- **Drawn**: each varied dimension uniform between its smallest and its one-past-a-tile size,
  the tops lowered, on the CPU, until a launch at all of them takes at most DRAW_MAX_S (at
  the measured rate too).

Only dimensions of 8 or more vary: smaller ones are settings of the problem (a kernel size,
three colour channels) and keep its values.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..problem.problem_module import KernelBenchProblem, ProbeFailed, Sizes
from ..problem.shapes import VARIED_FROM, Shapes
from ..problem.work import Work

# What the importer's seed does per second on one CPU core (measured on this project's 2-core
# machine, 2026-11-25: 20-36 GFLOP/s for its products, about 8 GB/s for a streaming loop of
# cheap operations), and the time of one transcendental function (expf, tanhf, erff: 8-30 ns
# an element there). Estimates, for scaling only.
CPU_RATES = {"flops": 2e10, "bytes": 8e9}
TRANSCENDENTAL_S = 1e-8
# Where the importer writes no seed, the first kernel is the agent's first draft: a plain
# loop nest's FLOPs, ten times fewer.
FIRST_DRAFT_RATES = {"flops": 2e9, "bytes": 8e9}
# The stage seed's rates (seeds/stage_plan.py's estimate of each stage), fitted to 49 stage seeds
# of real KernelBench problems timed on the 2-core machine, shared, 2026-11-26 (40 of them
# within 2x of the launch measured): a fold (a convolution's, a sum's, a scan's) adds into
# one double after another at about 1 ns a step, a product folded in vectors (a GEMM's
# BLOCK_N outputs, a Linear's LANES partial sums) at 0.3 ns; each element of a fold costs
# its loops' set-up and its store, about 3 ns, and each operation of a map computed inside a
# fold 1 ns a step (a map's own operations vectorise: its bytes bound it).
STAGE_RATES = {"step": 1e-9, "vector_step": 3e-10, "element": 3e-9, "operation": 1e-9,
               "bytes": 8e9, "transcendental": TRANSCENDENTAL_S}
TIMED_S = (0.005, 0.05)
INT32_MAX = 2**31 - 1  # a size is passed to the kernel as an int
EDGE_MAX_S = 0.005
DRAW_MAX_S = TIMED_S[1]
SMALLEST_TRIED = 64
PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)
LAST_PRIME, TILE_PAST, LAST_TILE_PAST = 37, 17, 65
DRAW_CHECKS = 16


@dataclass(frozen=True)
class Launch:
    """What the import states of a launch at the timed sizes: ``measured`` seconds (None:
    the estimate stands), or ``unmeasured``, why the seed was not timed."""

    measured: float | None = None
    unmeasured: str = ""


@dataclass(frozen=True)
class Configs:
    timed: Sizes
    edges: list[Sizes]
    draw: dict[str, tuple[int, int]]  # each varied dimension's range; empty: no draw
    # the seed's launch at sizes: the estimate, times the rate measured where one was
    seconds: Callable[[Sizes], float]
    notes: list[str] = field(default_factory=list)  # what the target file should say
    launch: Launch = Launch()  # what the note on the timed sizes states of its launch


class Chooser:
    """The configurations of a ``kind`` target, chosen as often as asked (each size's build
    tried once): ``seeded``: the importer writes its seed (the rates its time is estimated
    at); ``transcendentals``: the transcendental functions the forward computes on each
    element (an exp, a tanh), each costing TRANSCENDENTAL_S; ``estimate``: the seed's own
    estimate of a launch's seconds at some sizes (the stage seed's, stage by stage), used
    instead of the rates."""

    def __init__(self, problem: KernelBenchProblem, shapes: Shapes, work: Work, kind: str,
                 seeded: bool = True, transcendentals: int = 0,
                 estimate: Callable[[Sizes], float] | None = None) -> None:
        self.problem, self.shapes, self.work, self.kind = problem, shapes, work, kind
        self.transcendentals, self.estimate = transcendentals, estimate
        self.rates = CPU_RATES if seeded else FIRST_DRAFT_RATES
        self.kernel = "the importer's seed" if seeded else "a first plain kernel"
        self.valid = _Validity(problem, shapes)
        self.varied = [] if shapes.literal else list(shapes.varied)
        self.smallest = {d: self.valid.smallest(d) for d in self.varied}
        # a fixed global under VARIED_FROM would not vary anyway (a reduction's dim, the ones
        # of a bias_shape (C, 1, 1)): only a size the configurations could have moved is told
        self.notes = [f"{dim} is fixed at {problem.sizes[dim]}: {why}" for dim, why in
                      shapes.fixed.items() if problem.sizes[dim] >= VARIED_FROM]
        kept = [d for d in shapes.variable if d not in self.varied]
        if kept:
            self.notes.append(f"{', '.join(kept)} kept at the problem's values (settings, "
                              f"under {VARIED_FROM})")

    def seconds(self, sizes: Sizes) -> float:
        """The seed's launch at ``sizes``, as estimated."""
        if self.estimate is not None:
            return self.estimate(sizes)
        shapes, work, rates = self.shapes, self.work, self.rates
        elements = max(math.prod(size.value(sizes) for size in shape) for shape in shapes.all())
        return (max(work.flops_at(sizes) / rates["flops"],
                    work.bytes_at(shapes, sizes) / rates["bytes"])
                + self.transcendentals * elements * TRANSCENDENTAL_S)

    def configs(self, rate: float = 1.0, timed: Sizes | None = None,
                launch: Launch = Launch()) -> Configs:
        """The configurations where a launch takes ``rate`` times the estimate (calibrate.py
        measures it): the timed sizes scaled to TIMED_S on the CPU (``timed``: those sizes,
        as they are), the drawn ranges' tops lowered to DRAW_MAX_S; the edges at the
        estimate as it stands, so they stay what the float64 reference is quick at. The
        timed shape's note states ``launch``."""
        shapes, varied, base = self.shapes, self.varied, dict(self.shapes.dims)

        def seconds(sizes: Sizes) -> float:
            return rate * self.seconds(sizes)

        notes = list(self.notes)
        sizes = base
        if self.kind == "cpu" and timed is not None:
            sizes = timed
        elif self.kind == "cpu":
            sizes = _scaled(base, varied, self.smallest, seconds, self.valid)
        said = [_timed_note(base, sizes, self.kernel, seconds, rate, launch)
                ] if self.kind == "cpu" else []
        if shapes.literal:
            return Configs(base, [], {}, seconds, ["the problem names no size as a "
                           "module-level int, so its one shape is timed and no other is "
                           "checked", *said], launch)
        notes += said
        edges = _edges(base, varied, self.smallest, self.seconds, self.valid)
        draw = _draw_ranges(base, varied, self.smallest,
                            seconds if self.kind == "cpu" else lambda sizes: 0.0)
        rng = random.Random(0)
        corners = [{**base, **{d: r[i] for d, r in draw.items()}} for i in (0, 1)]
        tries = [{**base, **{d: rng.randint(*r) for d, r in draw.items()}}
                 for _ in range(DRAW_CHECKS)]
        if draw and not all(self.valid(sizes) for sizes in corners + tries):
            notes.append("no shapes are drawn: some sizes in the drawn ranges do not build")
            draw = {}
        return Configs(sizes, edges, draw, seconds, notes, launch)


def _draw_ranges(base: Sizes, varied: list[str], smallest: Mapping[str, int],
                 seconds: Callable[[Sizes], float]) -> dict[str, tuple[int, int]]:
    """Each varied dimension from its smallest to one past a tile, the tops halved towards
    the smallest until a launch at all of them takes at most DRAW_MAX_S: a Swin network's
    batch drawn up to 65 took a minute a launch, past the evaluation's limit."""
    tops = {d: max(smallest[d], _past_tile(d, varied)) for d in varied}
    while (seconds({**base, **tops}) > DRAW_MAX_S
           and any(tops[d] > smallest[d] for d in varied)):
        tops = {d: max(smallest[d], tops[d] // 2) for d in varied}
    return {d: (smallest[d], tops[d]) for d in varied}


def _past_tile(dim: str, varied: list[str]) -> int:
    return LAST_TILE_PAST if dim == varied[-1] else TILE_PAST


def _scaled(base: Sizes, varied: list[str], smallest: Mapping[str, int],
            seconds: Callable[[Sizes], float], valid: Callable[[Sizes], bool]) -> Sizes:
    """``base`` scaled into TIMED_S, a launch taking ``seconds``."""
    low, high = TIMED_S
    sizes = dict(base)
    # Sizes are kept at VARIED_FROM or more where that is quick enough; a network whose
    # launch takes seconds at a batch of 8 goes down to the least it builds at.
    for floor in (VARIED_FROM, 1):
        while seconds(sizes) > high:
            for dim in sorted(varied, key=lambda d: -sizes[d]):
                halved = {**sizes, dim: sizes[dim] // 2}
                if halved[dim] >= max(smallest[dim], floor) and valid(halved):
                    sizes = halved
                    break
            else:
                break
    while varied and seconds(sizes) < low:
        doubled = {**sizes, varied[0]: sizes[varied[0]] * 2}
        # an estimate blind to the size (a seed fitted wrong) doubled it past a 32-bit int
        if doubled[varied[0]] > INT32_MAX or seconds(doubled) <= seconds(sizes):
            break
        if not valid(doubled):
            break
        sizes = doubled
    return sizes


def _timed_note(base: Sizes, sizes: Sizes, kernel: str, seconds: Callable[[Sizes], float],
                rate: float, launch: Launch) -> str:
    """What was changed of the problem's sizes ``base`` (now ``sizes``) and what a launch of
    ``kernel`` takes there: measured (``launch``), else as estimated (``seconds``)."""
    own = "" if sizes == base else f"at the problem's own sizes, about {_ms(seconds(base))}"
    if launch.measured is not None:
        how = f"{_ms(launch.measured)} on one CPU core, measured at import"
        why = [f"the importer's rates estimated {_ms(seconds(sizes) / rate)}",
               *([f"{own} at the rate measured"] if own else [])]
    else:
        how = f"{_ms(seconds(sizes))} on one CPU core, as estimated"
        why = [w for w in (own, launch.unmeasured) if w]
    said = f"{how} ({'; '.join(why)})" if why else how
    if sizes == base:
        return f"timed at the problem's sizes, where a launch of {kernel} takes about {said}"
    changed = ", ".join(f"{d} {base[d]} -> {sizes[d]}" for d in base if sizes[d] != base[d])
    direction = "down" if seconds(sizes) < seconds(base) else "up"
    return (f"timed at the problem's sizes scaled {direction} ({changed}) so that a launch of "
            f"{kernel} takes about {said}")


def _ms(seconds: float) -> str:
    milliseconds = 1000 * seconds
    return f"{milliseconds:.2g} ms" if milliseconds < 10 else f"{milliseconds:,.0f} ms"


def _edges(base: Sizes, varied: list[str], smallest: Mapping[str, int],
           seconds: Callable[[Sizes], float], valid: Callable[[Sizes], bool]) -> list[Sizes]:
    """The smallest sizes, small primes, one past a tile; each that builds, at most
    EDGE_MAX_S of the seed's time (one past a tile halved towards it); the smallest that
    builds where none is that quick."""
    if not varied:
        return []
    primes = {d: LAST_PRIME if d == varied[-1] else PRIMES[i % len(PRIMES)]
              for i, d in enumerate(varied)}
    candidates = [{d: smallest[d] for d in varied},
                  {d: max(primes[d], smallest[d]) for d in varied}]
    past = {d: _past_tile(d, varied) for d in varied}
    while True:
        sizes = {**base, **{d: max(v, smallest[d]) for d, v in past.items()}}
        if seconds(sizes) <= EDGE_MAX_S or all(v <= 2 for v in past.values()):
            break
        past = {d: v // 2 + 1 for d, v in past.items()}
    candidates.append({d: max(v, smallest[d]) for d, v in past.items()})
    edges: list[Sizes] = []
    for moves in candidates:
        sizes = {**base, **moves}
        if sizes not in edges and valid(sizes) and seconds(sizes) <= EDGE_MAX_S:
            edges.append(sizes)
    if not edges:  # sizes the problem keeps (a 224 x 224 image) leave even the least long
        least = next((s for s in ({**base, **m} for m in candidates) if valid(s)), None)
        edges += [least] if least is not None else []
    return edges


class _Validity:
    """Whether the problem builds at a configuration (every tied global set along)."""

    def __init__(self, problem: KernelBenchProblem, shapes: Shapes) -> None:
        self.problem = problem
        self.shapes = shapes
        self._seen: dict[tuple[tuple[str, int], ...], bool] = {}

    def __call__(self, sizes: Mapping[str, int]) -> bool:
        key = tuple(sorted(sizes.items()))
        if key not in self._seen:
            self._seen[key] = self._builds(sizes)
        return self._seen[key]

    def _builds(self, sizes: Mapping[str, int]) -> bool:
        if any(size.value(sizes) <= 0 for shape in self.shapes.all() for size in shape):
            return False
        globals_ = {name: sizes[dim] for dim, names in self.shapes.tied.items()
                    for name in names}
        try:
            self.problem.instantiate(globals_)
        except (ProbeFailed, ValueError):
            return False
        return True

    def smallest(self, dim: str) -> int:
        """The least size of ``dim`` the problem builds at (the others where its shapes were
        probed: its own sizes, or smaller ones where a build of those is long), up to
        SMALLEST_TRIED: doubled from 1 until it builds, then halved back by bisection (a
        network of five halving stages builds from 32 up: 7 builds, not 32)."""
        probed = {d: self.shapes.probe_base.get(d, v) for d, v in self.shapes.dims.items()}

        def builds(size: int) -> bool:
            return self({**probed, dim: size})

        low, high = 0, 1  # low never builds (0 is no size); high is tried
        while not builds(high):
            if high >= SMALLEST_TRIED:
                return self.shapes.dims[dim]
            low, high = high, min(2 * high, SMALLEST_TRIED)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if builds(middle) else (middle, high)
        return high
