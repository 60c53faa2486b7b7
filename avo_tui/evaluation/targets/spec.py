"""Targets: what a kernel must compute, on which shapes, against which baselines.

A target is data (configurations, tolerances, baselines, seeds) plus the problem it computes
(problem.py: the entry point's parameters, inputs, references). Every target is a file, found
by what names it (target_file.get_target):

- a **shipped target file**, by its name: every ``*.py`` of the repository's ``targets/``
  folder (``avo_tui/_data/targets`` in an installed package) is one, and its file name is the
  target's name with ``-`` written ``_`` (``rmsnorm-cpu`` is ``targets/rmsnorm_cpu.py``). The
  five attention targets are such files, each a TargetSpec on the attention problem built
  into the evaluator (problems/attention.py);
- a user's target file (target_api.py, loaded by target_file.py), by its path.

This module imports nothing heavy, so the TUI can list targets without torch.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..._data import TARGETS as SHIPPED_FOLDER
from ..._data import data_folder
from .archs import MIN_CAPABILITY, capability_of, family
from .problem import Config, Dim, Problem, WorkKind

if TYPE_CHECKING:
    import torch


class UnsupportedGpu(ValueError):
    """No seed of the target is chosen on this GPU's architecture."""


@dataclass(frozen=True)
class Seed:
    """A shipped seed kernel and the architectures it is chosen on."""

    kernel: str  # path relative to the repository's kernels/
    why: str  # one line: why this seed on those architectures
    # Architectures it is chosen on, as the evaluator spells them; None: every one the target
    # runs on (from sm_80 on, for a GPU target)
    archs: tuple[str, ...] | None = None
    # Knob values on this target where they differ from the file's defaults: one file serves
    # every head dim, and each head dim has its own measured best tiles.
    knobs: dict[str, str] = field(default_factory=dict)
    may_spill: str = ""  # why spills are accepted where it is chosen (a measurement); "": none

    def chosen_on(self, arch: str) -> bool:
        return self.archs is None or arch in self.archs


TINY_ROW = 1e-3  # of the rows' typical norm: the least norm a row is judged relative to
# ... and a column's, of the columns'. Larger: a column is a sum over every row, and on flat
# attention logits each row's output is the mean of the values, so a column can cancel to a
# thousandth of the others while its rounding stays theirs; an honest seed 4.5e-4 off there
# was rejected against a floor of 2.2e-4 (2 clean suite runs in 3). A float32 column 1% wrong
# anywhere above 0.2% of the typical norm is still outside it.
TINY_COLUMN = 0.1


def noise_floored(honest_error: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """Each row's honest error, raised to the rows' median one where the row's exact value is
    below it. Such a row is all rounding: its exact value cancels to nothing (the mean of a
    GroupNorm's output is zero by construction, 1e-18 in float64), and the honest float32
    computation's error there is one draw of that rounding, which can land on an exact zero
    (4e-18 off) where its neighbours are 1e-9 off; eight times that draw rejected the
    importer's own seed, 1e-9 off, in 2 of 12 evaluations of KernelBench level2/23. A row of
    ordinary size, however small beside the others, keeps its own error."""
    if not honest_error.numel():
        return honest_error
    typical = honest_error.median()
    return honest_error.maximum(typical).where(norm <= typical, honest_error)


@dataclass(frozen=True)
class Tolerance:
    """How far from the float64 reference a correct output may be, derived per configuration
    from the error an honest computation at the target's precision makes on the same inputs
    (problem.Numerics.references): ``margin`` times that error, and never less than the
    floors. A kernel that accumulates or keeps its weights in a lower precision than the
    honest computation lands several times further away and fails. The bounds hold for the
    whole output and for each row on its own (judge.py)."""

    margin: float  # on the honest computation's relative L2 and max abs errors
    rel_l2_floor: float
    max_abs_ulps: float  # floor for the max abs error, in ulps of the dtype at the output's scale
    # Floor for each row's relative L2 error. Above the whole output's floor: a row is a
    # sum of few terms, and a float32 exp() of a few ulps shows on one row, not on the whole.
    row_rel_floor: float
    # Why the bounds are stated by the target rather than derived (target_api's
    # DeclaredTolerance): every result of the target says so. "": derived.
    declared: str = ""

    def bounds(
        self, honest_rel_l2: float, honest_max_abs: float, ulp: float
    ) -> tuple[float, float]:
        """(relative L2, max abs) bounds for one configuration."""
        return (
            max(self.rel_l2_floor, self.margin * honest_rel_l2),
            max(self.max_abs_ulps * ulp, self.margin * honest_max_abs),
        )

    def row_bounds(self, honest_error: torch.Tensor, norm: torch.Tensor,
                   tiny: float = TINY_ROW) -> torch.Tensor:
        """Each row's bound on the L2 norm of its error, from the honest computation's
        error on that row and the exact row's norm, taken as at least ``tiny`` of the rows'
        typical norm (a column's: TINY_COLUMN): a row whose exact value is zero (GELU deep in
        its negative tail, where tanh is -1 in float64) otherwise had a bound of zero, and a
        kernel 1e-17 off there was called incorrect (gemm-bias-act on an H200). A row that
        small carries no work a kernel could skip."""
        typical = norm.square().mean().sqrt() if norm.numel() else norm.new_zeros(())
        return (noise_floored(honest_error, norm) * self.margin).maximum(
            norm.maximum(typical * tiny) * self.row_rel_floor)

    def note(self) -> str | None:
        """What a result of a target with a declared tolerance says about it."""
        if not self.declared:
            return None
        return (f"the tolerance is declared by the target (relative L2 {self.rel_l2_floor:.3g}, "
                f"max abs {self.max_abs_ulps:g} ulps), not derived from an honest "
                f"computation: {self.declared}")


@dataclass(frozen=True)
class TargetSource:
    """Where a target file is: its absolute path and the sha256 of its bytes as loaded; and
    whether it is a shipped one, found by its name (which requests, sessions and workers then
    name it by, never by a path that differs from machine to machine) rather than by its
    path."""

    path: str
    sha256: str
    shipped: bool = False


# What each throughput unit counts, and its scale. Memory-bound kernels are quoted in GB/s on
# the CPU and the GPU alike (an H200's HBM is about 4,800 GB/s): one unit for both kinds, the
# one bandwidths are commonly given in.
UNITS: dict[str, tuple[WorkKind, float]] = {
    "GFLOP/s": ("flops", 1e9),
    "TFLOP/s": ("flops", 1e12),
    "GB/s": ("bytes", 1e9),
}


@dataclass(frozen=True)
class TargetSpec:
    name: str
    description: str
    toolchain: str  # "c" or "cuda"
    device: str  # "cpu" or "cuda"
    problem: Problem  # what is computed (problem.py)
    entry: str  # the symbol a candidate exports
    configs: tuple[Config, ...]
    edge_configs: tuple[Config, ...]  # checked for correctness, never timed
    quick_configs: tuple[Config, ...]
    tolerance: Tolerance
    baselines: tuple[str, ...]  # the first is the one ratios are taken against
    unit: str  # throughput unit, one of UNITS: "GFLOP/s", "TFLOP/s" or "GB/s"
    time_budget_s: float  # timing budget per configuration, candidate and each baseline alike
    timeout_s: float  # longest the worker may go silent before it is presumed hung
    gate_cap_s: float  # longest the commit gate measures one decision (a setting overrides)
    max_plausible_ratio: float  # a ratio to the baseline beyond this is flagged for review
    # A geometric mean more than this many times the lineage's best is flagged for review:
    # evolution moves in small steps (the AVO paper's gains were often under 1%).
    max_plausible_jump: float = 1.5
    # Correctness also runs on configurations drawn per evaluation (Problem.draw_configs), this
    # large at most: for attention, lengths up to this many 128-key tiles.
    drawn_max_tiles: int = 4
    # The shipped seeds, the one for the GPU the figures were measured on first; seed_for
    # chooses by architecture
    seeds: tuple[Seed, ...] = ()
    defines: dict[str, object] = field(default_factory=dict)  # macros the harness compiles with
    notes: tuple[str, ...] = field(default_factory=tuple)
    source: TargetSource | None = None  # the file it was loaded from; None: made in memory
    # Where a target has several outputs, each one's tolerance by name (its own dtype's, or
    # its own declared one); an output not named here is held to ``tolerance``.
    output_tolerances: Mapping[str, Tolerance] = field(default_factory=dict)

    def tolerance_for(self, output: str | None) -> Tolerance:
        """The tolerance ``output`` (None: the only one) is held to."""
        return self.output_tolerances.get(output or "", self.tolerance)

    @property
    def ref(self) -> str:
        """What get_target finds this target by, in a request, a session or a worker: a
        shipped file's name, a user's target file's absolute path."""
        return self.source.path if self.source and not self.source.shipped else self.name

    def grid(self, quick: bool = False) -> tuple[Config, ...]:
        return self.quick_configs if quick else self.configs

    def with_dims(self, **dims: Dim) -> TargetSpec:
        """This target with ``dims`` changed in every configuration, timed, edge and quick
        alike (a target file built on another: ``get_target("mha").with_dims(heads_q=32,
        heads_kv=8)``, then its own name)."""
        def changed(configs: tuple[Config, ...]) -> tuple[Config, ...]:
            return tuple(c.with_dims(**dims) for c in configs)

        return replace(self, configs=changed(self.configs),
                       edge_configs=changed(self.edge_configs),
                       quick_configs=changed(self.quick_configs))

    @property
    def seed(self) -> Seed | None:
        """The default seed: the CPU's, or the one for the GPU the figures were measured on."""
        return self.seeds[0] if self.seeds else None

    def seed_for(self, arch: str | None) -> Seed | None:
        """The seed for a GPU of architecture ``arch`` (None: not known, or a CPU target): the
        first whose architectures include it. Raises UnsupportedGpu on a GPU older than
        sm_80, and UnknownArch for a string that is not an architecture."""
        if arch is None or self.device != "cuda":
            return self.seed
        if capability_of(arch) < MIN_CAPABILITY:
            raise UnsupportedGpu(
                f"this GPU is {arch} ({family(arch)}); {self.name} needs sm_80 (Ampere) or "
                "newer, for bf16 tensor cores (mma.sync) and cp.async"
            )
        return next((seed for seed in self.seeds if seed.chosen_on(arch)), None)

    @property
    def score_by(self) -> WorkKind:
        """The work the score divides by the time: FLOPs, or bytes moved."""
        return UNITS[self.unit][0]

    @property
    def unit_scale(self) -> float:
        return UNITS[self.unit][1]

    def work(self, config: Config) -> float:
        """The work of one launch on ``config`` that the score counts (score_by)."""
        return config.work.of(self.score_by)

    def throughput(self, config: Config, seconds: float) -> float:
        """The score's figure, in ``unit``, of one launch on ``config`` taking ``seconds``."""
        return self.work(config) / seconds / self.unit_scale


FP32_TOLERANCE = Tolerance(margin=8.0, rel_l2_floor=2e-5, max_abs_ulps=512, row_rel_floor=2e-4)
BF16_TOLERANCE = Tolerance(
    margin=3.0, rel_l2_floor=2e-3, max_abs_ulps=0.5, row_rel_floor=2e-3
)

# Targets made in this process, found by their names here alone (a worker process cannot
# load them): how a test evaluates a TargetSpec it built in memory, in its own process.
IN_PROCESS: dict[str, TargetSpec] = {}


def draw_edge_configs(target: TargetSpec, rng: random.Random) -> list[tuple[Config, str]]:
    """Configurations and input cases for one evaluation's correctness pass, beside the fixed
    edges (Problem.draw_configs). Drawn from the evaluation's seed, so ``--seed`` reproduces
    them; no kernel can be tuned to them in advance."""
    return target.problem.draw_configs(target.edge_configs, target.drawn_max_tiles, rng)


# A shipped target's name: lowercase words joined by "-", so that its file name (the name with
# "_" for "-") reads back as one name only.
SHIPPED_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def shipped_folder() -> Path | None:
    """The folder of the shipped target files, or None where the install lost it."""
    return data_folder(SHIPPED_FOLDER)


def shipped_file(name: str) -> Path | None:
    """The shipped target file of target ``name`` (``targets/`` + the name with ``_`` for
    ``-`` + ``.py``), or None where there is none."""
    folder = shipped_folder()
    if folder is None or not SHIPPED_NAME.fullmatch(name):
        return None
    path = folder / f"{name.replace('-', '_')}.py"
    return path if path.is_file() else None


def shipped_names() -> list[str]:
    """The names of the shipped target files, read off their file names (no file is loaded:
    get_target checks that a file declares the name it is found by): LISTED_FIRST's, then the
    others sorted."""
    folder = shipped_folder()
    names = (p.stem.replace("_", "-") for p in folder.glob("*.py")) if folder else ()
    found = {n for n in names if SHIPPED_NAME.fullmatch(n)}
    return [*(n for n in LISTED_FIRST if n in found), *sorted(found - set(LISTED_FIRST))]


# The targets avo-tui began with, listed first, in the order they always were (before they
# were shipped files: issue 41).
LISTED_FIRST = ("cpu-attention", "mha", "gqa", "gqa-4", "mha-d64")


def known_names() -> list[str]:
    """Every target a name finds: the shipped files (shipped_names)."""
    return shipped_names()


class UnknownTarget(KeyError):
    def __init__(self, name: str) -> None:
        known = known_names()
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"unknown target {name!r} (known: {', '.join(known)}, or the path "
                         f"of a target file, my_target.py){hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class TargetFileUnusable(UnknownTarget):
    """A target file that is missing, does not import, or declares something wrong: one line
    that says which file and why (``avo: error: ...``)."""

    def __init__(self, path: str, reason: str) -> None:
        KeyError.__init__(self, f"target file {path}: {reason}")
        self.path, self.reason = path, reason


def is_target_file(ref: str) -> bool:
    """Whether ``ref`` names a target file (a path ending in .py) rather than a built-in."""
    return ref.endswith(".py")
