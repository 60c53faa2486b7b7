"""``avo targets import PROBLEM.py``: a KernelBench problem made a target file, with a plain
seed: a fused pattern where one fits its forward, else a loop nest per stage of its aten
operations (avo_tui/kernelbench/; docs/targets.md, "Importing a KernelBench problem")."""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..engine.launch import SeedRejected, seed_files
from ..evaluation import EvalRequest, TargetFileError, Timing, get_target
from . import MOST_SECONDS, Subcommands, add_command, bounded_float

if TYPE_CHECKING:  # torch comes with it: imported where a seed is timed
    from ..evaluation.pipeline import Pipeline

EPILOG = """\
It writes PROBLEM_target.py (PROBLEM_cuda_target.py with --kind cuda) and its seed beside the
problem, then says what to run next. A forward that returns several tensors gets an Output for
each; an integer one (argmax's int64 indices) is declared with its dtype and compared exactly.
An integer or bool input (class labels, token ids, a mask) is declared with its dtype and
drawn as Integers(least, most + 1), the least and the most value of 8 draws of get_inputs().
On the CPU the seed is compiled and timed at the timed shape, and the shape scaled again
where the importer's estimate was off; the launch time it states is that reading, its
fastest launch, which a busy machine lengthens least (the estimate, and why, where the seed
cannot be built or run).
A problem it cannot import (an int16 tensor, no get_inputs()) is refused in one line, with
exit status 1. What it is doing is told on stderr as it goes, a line at least every 10 s (a
recurrent network builds slowly); past --limit it stops, naming what was slow.

examples:
  avo targets import examples/kernelbench/level1_softmax.py
  avo targets check examples/kernelbench/level1_softmax_target.py
  avo targets import level2_gemm_add_relu.py --kind cuda
"""


# torch's own import takes 3-4 s, past 8 s on a loaded machine: said, where it is that long,
# and again every LOADING_TOLD_S while it goes on, as the import's phases are
# (kernelbench/target/progress.py), which cannot be loaded before it
LOADING_TOLD_S = 5.0
# A reading of the seed at the timed shape (kernelbench/target/calibrate.py): launches for about
# this long, and a launch past the limit is a hang that leaves the estimate standing.
READING_S = 1.0
READING_LAUNCH_LIMIT_S = 30.0


def tell_until(done: Callable[[float], bool], words: str, started: float,
               clock: Callable[[], float], stream: TextIO) -> None:
    """``words`` told on ``stream`` each time ``done`` (an Event's wait) waits out
    LOADING_TOLD_S, until it is done: a load under a busy machine is told all along, never
    once and then silent for as long again."""
    while not done(LOADING_TOLD_S):
        print(f"avo targets import: {words} [{clock() - started:.0f} s]", file=stream,
              flush=True)


@contextmanager
def _told_if_slow(words: str, started: float) -> Iterator[None]:
    done = threading.Event()
    thread = threading.Thread(target=tell_until, name="import-loading", daemon=True,
                              args=(done.wait, words, started, time.monotonic, sys.stderr))
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def cmd_targets_import(args: argparse.Namespace) -> int:
    started = time.monotonic()
    with _told_if_slow("loading torch", started):
        from ..kernelbench import ImportRefused, Progress, import_problem
        from ..kernelbench.target.progress import LIMIT_S

    path = Path(args.problem)
    progress = Progress(sys.stderr, args.limit or LIMIT_S, name=path.name, started=started)
    try:
        imported = import_problem(path, args.kind, args.out, args.force, progress,
                                  seeded=not args.no_seed, measure=SeedTimer())
    except ImportRefused as error:
        raise TargetFileError(f"cannot import {path}: {error}") from None
    device = "on the CPU (a C kernel)" if args.kind == "cpu" else "on a CUDA GPU"
    print(f"{path.name}: imported as the target {imported.name}, float32 {device}")
    print(f"  wrote {imported.target}")
    if imported.seed is not None:
        print(f"  wrote {imported.seed}: the importer's {imported.pattern} seed")
    else:
        print(f"  --  no seed ({imported.no_seed}): the first step of an agent run writes "
              "version 0 (--operator agent)")
    if len(imported.outputs) > 1 or any(d != "float32" for _, d in imported.outputs):
        print("  outputs: " + ", ".join(
            f"{name} ({dtype}{'' if dtype == 'float32' else ', compared exactly'})"
            for name, dtype in imported.outputs))
    if imported.integer_inputs:
        print("  inputs: " + ", ".join(f"{name} ({dtype}, {rule}: the least and the most of 8 "
                                       "draws of get_inputs(); widen it by hand)"
                                       for name, dtype, rule in imported.integer_inputs))
    for name, about in imported.cases:
        print(f"  hostile case {name}: {about}")
    for note in imported.notes:
        print(f"  --  {note}")
    print(f"next: avo targets check {imported.target}")
    # The import leaves hundreds of thousands of objects (every build of the problem's model,
    # on the meta device) to the interpreter's last collections: 2-4 s of a silent exit
    # after the last line. Frozen, they are skipped; nothing of them needs finalizing.
    gc.freeze()
    return 0


class SeedTimer:
    """The seed of the target file at a path, timed at its timed shape as `avo eval` builds
    and times it (evaluation/pipeline.py's time_alone, in this process: the kernel runs in its
    confined runner all the same): its fastest launch's seconds, or why it could not be timed.

    The fastest, not the median: the machine's other work lengthens a launch and never
    shortens one, so the launch least disturbed is the one that says what the seed costs.
    The median read the import's load into the target (stated several times what a quieter
    `avo eval` measured, and always slower), which then states it for every later run."""

    def __init__(self) -> None:
        self._pipeline: Pipeline | None = None  # made at the first reading: the compilers' cache

    def __call__(self, target: Path) -> float | str:
        try:
            spec = get_target(str(target))
            request = EvalRequest(spec.ref, seed_files(spec), measure_baselines=False)
        except (TargetFileError, SeedRejected) as error:
            return str(error)
        from ..evaluation.pipeline import Pipeline, time_alone

        self._pipeline = self._pipeline or Pipeline(spec.device)
        reading = time_alone(self._pipeline, request, READING_S, READING_LAUNCH_LIMIT_S)
        return reading.min_s if isinstance(reading, Timing) else str(reading)


def register(targets: Subcommands) -> None:
    p = add_command(
        targets, "import", cmd_targets_import, "make a target file of a KernelBench problem",
        "Read a KernelBench-style problem (class Model, get_inputs(), get_init_inputs(), its "
        "sizes as module-level globals) and write a target file beside it: the reference is "
        "the model's forward in float64, the model's parameters and buffers are inputs, the "
        "timed shape is the problem's own (scaled to a CPU's time on the CPU), with edge "
        "shapes around it, and a plain seed: a fused loop nest where the forward is "
        "elementwise, a reduction, a scan or a norm, or a matrix product, else a loop nest "
        "per stage of its aten operations (convolutions, pooling, norms, products ...).",
        EPILOG,
    )
    p.add_argument("problem", type=Path, help="the KernelBench problem (a .py file)")
    p.add_argument("--kind", choices=("cpu", "cuda"), default="cpu",
                   help="a C target on the CPU (the default) or a CUDA one; float32 both")
    p.add_argument("--out", type=Path, default=None,
                   help="the target file to write (default: beside the problem)")
    p.add_argument("--force", action="store_true",
                   help="write over a target file or seed already there")
    p.add_argument("--limit", type=bounded_float(MOST_SECONDS), default=None, metavar="SECONDS",
                   help="stop an import that takes longer, naming what was slow (default "
                        "300)")
    p.add_argument("--no-seed", action="store_true",
                   help="write no seed (seed=None): the first step of an agent run writes "
                        "version 0")
