"""``avo targets import``'s work: a KernelBench problem in, a target file and a seed out.

The problem is read (problem/: problem_module.py), its shapes fitted to its size globals
(shapes.py), its work counted (work.py, flop_fit.py), its configurations chosen (configs.py)
and its forward traced for a seed pattern (problem/graph.py, seeds/plan.py), else lowered to
stages (seeds/stage_plan.py); its inputs' rules are read (value_rules.py, integer_inputs.py)
and widened where an operation is idle (exercise.py), its own draw made an input case
(own_draw.py) and its hostile cases found (hostile.py); then the seed (seeds/: c_seed.py or
cuda_seed.py, stage_seed.py) and the target file (target_writer.py) are written beside it,
named after it. progress.py tells what a long import is doing and stops it at its limit.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from ..problem.elementwise import TRANSCENDENTAL
from ..problem.forward_sizes import SymbolicTrace
from ..problem.graph import Graph, Unsupported, is_index, trace
from ..problem.problem_module import INTEGER_DTYPES, ImportRefused, KernelBenchProblem
from ..problem.shapes import Shapes, fit_shapes
from ..problem.work import Work, work_of
from ..seeds.c_seed import c_seed
from ..seeds.cuda_seed import cuda_seed
from ..seeds.kernel_text import Kernel
from ..seeds.plan import Plan, plan_of
from ..seeds.stage_plan import StagePlan, recorded, stage_plan
from ..seeds.stage_seed import c_stage_seed, cuda_stage_seed
from .calibrate import Measure, calibrated
from .configs import STAGE_RATES, Chooser, Configs
from .exercise import exercised
from .hostile import hostile_cases
from .integer_inputs import IntegerInputs, integer_inputs, tie_indexed_globals
from .own_draw import CASE, own_draw_case
from .own_lengths import FULL_MAX_S, full_lengths, long_rows
from .progress import Progress
from .target_writer import Case, TargetFile, Tensor, render
from .value_rules import Rules, value_rules

KINDS = ("cpu", "cuda")
ORDINALS = {"0": "first", "1": "second", "2": "third", "3": "fourth"}  # of several outputs
SUFFIX = {"cpu": ".c", "cuda": ".cu"}
T = TypeVar("T")


@dataclass(frozen=True)
class Imported:
    """What was written: the target file, its seed (None: the first agent step writes it)
    and the seed's pattern, or why there is none; notes the target file also states; each
    output's name and dtype, in order; each integer or bool input's name, dtype and rule."""

    name: str
    target: Path
    seed: Path | None
    pattern: str | None
    no_seed: str = ""
    notes: list[str] = field(default_factory=list)
    outputs: tuple[tuple[str, str], ...] = (("out", "float32"),)
    integer_inputs: tuple[tuple[str, str, str], ...] = ()
    cases: tuple[tuple[str, str], ...] = ()  # each hostile case's name, and what it targets
    # the seed's launch at the timed shape (CPU): measured at import where launch_measured,
    # else estimated
    launch_s: float | None = None
    launch_measured: bool = False


def import_problem(path: Path, kind: str = "cpu", out: Path | None = None,
                   overwrite: bool = False, progress: Progress | None = None,
                   seeded: bool = True, measure: Measure | None = None) -> Imported:
    """Import the KernelBench problem at ``path`` as a ``kind`` target (float32): the target
    file at ``out`` (default: beside the problem, ``<stem>_target.py``, or
    ``<stem>_cuda_target.py``) and its seed beside that (none where not ``seeded``: the
    agent's first step writes version 0); ``progress`` tells what it is doing and holds it to
    its limit (default: told nowhere, progress.LIMIT_S); ``measure`` times the C seed at the
    timed shape (calibrate.py; None: its launch is estimated alone)."""
    if kind not in KINDS:
        raise ImportRefused(f"--kind is cpu or cuda, not {kind!r}")
    progress = progress or Progress(name=path.name)
    with progress.watched():
        return _imported(path, kind, out, overwrite, progress, seeded, measure)


def _imported(path: Path, kind: str, out: Path | None, overwrite: bool, progress: Progress,
              seeded: bool, measure: Measure | None) -> Imported:
    suffix = "" if kind == "cpu" else "_cuda"
    target_path = out or path.with_name(f"{path.stem}{suffix}_target.py")
    seed_path = target_path.with_name(f"{target_path.stem.removesuffix('_target')}_seed"
                                      f"{SUFFIX[kind]}")
    for written in (target_path, seed_path):
        if written.exists() and not overwrite:
            raise ImportRefused(f"{written} exists (--force writes over it)")
    problem = KernelBenchProblem(path, progress.tick)
    progress.phase(f"fitting the shapes to {len(problem.sizes)} size globals")
    shapes = tie_indexed_globals(problem, fit_shapes(problem))
    progress.phase("counting the work")
    recording = recorded(problem, shapes)
    work = work_of(problem, shapes, recording)
    names = _Names(problem, shapes)
    entry = "avo_" + _identifier(path.stem).lower()
    kernel = Kernel(entry, names.kernel_inputs, names.outputs, names.output_dtypes,
                    tuple(shapes.dims), names.shapes, names.leaves, names.input_dtypes)
    plan: Plan | StagePlan | str
    graph: Graph | None = None
    try:
        graph = trace(problem.base, problem.input_names)
    except Unsupported as error:
        plan = str(error)
    else:
        plan = plan_of(graph)
    if not seeded:
        plan = "the import was asked for none (--no-seed)"
    elif isinstance(plan, str):
        progress.phase("lowering the forward to stages")
        plan = _stages(recording, problem.input_names, kernel, kind)
    transcendentals = 0 if not isinstance(plan, Plan) else sum(
        1 for node in plan.graph.nodes if node.op in TRANSCENDENTAL)
    progress.phase("choosing the configurations")
    estimate = (partial(plan.seconds, rates=STAGE_RATES) if isinstance(plan, StagePlan)
                else None)
    chooser = Chooser(problem, shapes, work, kind, seeded=not isinstance(plan, str),
                      transcendentals=transcendentals, estimate=estimate)
    about = [f"{path.name}: {_first_line(problem.module.__doc__) or 'a KernelBench problem'}."]
    seed_text: Callable[[], str] = str
    if isinstance(plan, str):
        seed, pattern, no_seed = None, None, f"{path.name}: {plan}"
    else:
        seed, pattern, no_seed = seed_path, plan.kind, ""
        seed_text = partial(_seed_text, kernel, plan, about, kind)
    write = _Written(path, target_path, kind, problem, shapes, work, names, entry, graph,
                     seed, pattern, no_seed, seed_text, progress, chooser)
    if measure is not None and seed is not None and kind == "cpu":
        configs = calibrated(chooser, lambda c: write(c).target, measure,
                             partial(progress.phase, counted=False))
    else:
        configs = chooser.configs()
    done = write(configs)
    if seed is None or kind != "cpu":
        return done
    measured = configs.launch.measured
    return dataclasses.replace(done, launch_measured=measured is not None, launch_s=(
        configs.seconds(configs.timed) if measured is None else measured))


class _Written:
    """The target file and its seed (``seed_text()`` at ``seed``, where there is one) written
    for some configurations: the inputs' rules and hostile cases read for them, the file
    rendered; what was written. Nothing is written where the import is refused."""

    def __init__(self, path: Path, target_path: Path, kind: str, problem: KernelBenchProblem,
                 shapes: Shapes, work: Work, names: _Names, entry: str, graph: Graph | None,
                 seed: Path | None, pattern: str | None, no_seed: str,
                 seed_text: Callable[[], str],
                 progress: Progress, chooser: Chooser) -> None:
        self.path, self.target_path, self.kind = path, target_path, kind
        self.problem, self.shapes, self.work, self.names = problem, shapes, work, names
        self.entry, self.graph, self.progress = entry, graph, progress
        self.seed, self.pattern, self.no_seed = seed, pattern, no_seed
        self.seed_text = seed_text
        self.chooser = chooser
        self._read: dict[tuple[Any, ...], Any] = {}  # what _once computed, by its key

    def __call__(self, configs: Configs) -> Imported:
        path, kind, problem, shapes, names = (self.path, self.kind, self.problem, self.shapes,
                                              self.names)
        self.progress.phase("reading the inputs' values")
        integers = integer_inputs(problem, shapes, configs, names.inputs)
        configs = integers.configs
        work = self.work.scored_for(kind, shapes, configs.timed)
        small = shapes.problem_sizes((configs.edges or [configs.timed])[-1])
        configs = self._with_own_lengths(configs, integers.held)
        at = (tuple(small.items()), tuple(integers.ranges.items()))
        self._once(("forward", *at), lambda: problem.check_forward(small))
        exactness = _exactness(self.graph, names)
        if self.seed is not None:
            self.seed.write_text(self.seed_text())
        timed = shapes.problem_sizes(configs.timed)
        read = self._once(("rules", *at, tuple(timed.items())),
                          lambda: value_rules(problem, small, timed, integers.ranges))
        widened = self._once(("exercised", *at, tuple(timed.items()), read.inputs),
                             lambda: exercised(problem, small, timed, read.inputs))
        rules = Rules(widened.rules, read.weights)
        hostile = self._once(("hostile", *at), lambda: hostile_cases(
            problem, small, names.leaves_by_name,
            {names.inputs[i]: r for i, r in integers.ranges.items()}, self.progress.phase))
        own = own_draw_case(tuple(shapes.dims),
                            {n: names.shapes[n] for n in names.kernel_inputs})
        kept = (f"the problem's own draw is the input case {CASE}" if own else "the "
                "problem's own draw is no input case (its sizes cannot be read off its inputs)")
        drawn = [f"{names.inputs[i]} is drawn {rules.inputs[i].render() or 'standard normal'}, "
                 f"not as the problem draws it ({read.inputs[i].render() or 'standard normal'})"
                 f": {why}; {kept}" for i, why in widened.why.items()]
        cases = [*hostile.cases, *([own] if own else [])]
        text = render(_target_file(path, self.target_path, kind, problem, shapes, work,
                                   configs, names, self.entry, self.seed, self.pattern,
                                   self.no_seed, rules, exactness, integers, cases,
                                   [*drawn, *hostile.notes], own))
        self.target_path.write_text(text)
        return Imported(_name(path.stem, kind), self.target_path, self.seed, self.pattern,
                        self.no_seed, configs.notes + exactness + drawn + hostile.notes,
                        tuple(zip(names.outputs, names.output_dtypes, strict=True)),
                        tuple((names.inputs[i], names.input_dtypes[i],
                               str(rules.inputs[i].render())) for i in integers.ranges),
                        tuple((case.name, case.doc) for case in cases))


    def _once(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()``, once for each ``key``: calibrating, the file is written again at
        other timed sizes and back (calibrate.py), and what is read of the problem at sizes
        it was read at before (its forward run for real, its inputs' rules, its hostile
        cases: each a run of real forwards) is read again the same."""
        if key not in self._read:
            self._read[key] = compute()
        return cast(T, self._read[key])

    def _with_own_lengths(self, configs: Configs, held: Sequence[str]) -> Configs:
        """``configs`` with the edge shapes that reach the problem's own lengths added
        (own_lengths.py): its longest rows, and every varied dimension's own size; a size an
        integer input's range follows (``held``) never below its timed value."""
        self.progress.phase("finding the longest rows")
        chooser, checked = self.chooser, [configs.timed, *configs.edges]
        least = {**chooser.smallest, **{d: configs.timed[d] for d in held}}
        rows = long_rows(self.problem, self.shapes, chooser.varied, checked, least)
        self.progress.phase("reaching every dimension's own length")
        full = full_lengths(self.shapes, chooser.varied, checked, least, rows.sizes,
                            lambda s: chooser.seconds(s) <= FULL_MAX_S and chooser.valid(s))
        added = [s for s in full.sizes if s not in configs.edges]
        notes = [rows.note] if rows.sizes is not None else []
        return dataclasses.replace(configs, edges=[*configs.edges, *added],
                                   notes=[*configs.notes, *notes, *full.notes])


def _stages(recording: Callable[[], SymbolicTrace], input_names: Sequence[str],
            kernel: Kernel, kind: str) -> StagePlan | str:
    """The stage seed's plan, for a forward no fused pattern fits, or why there is none (a
    CUDA seed is written for one stage only)."""
    try:
        plan = stage_plan(recording(), kernel, input_names)
        if kind == "cuda":
            cuda_stage_seed(kernel, plan, [])
    except Unsupported as error:
        return str(error)
    except Exception as error:  # a bug of the stage seed's costs the seed, not the import
        return f"the stage seed could not be written ({type(error).__name__}: {error})"
    return plan


def _seed_text(kernel: Kernel, plan: Plan | StagePlan, about: list[str], kind: str) -> str:
    if isinstance(plan, StagePlan):
        return (c_stage_seed if kind == "cpu" else cuda_stage_seed)(kernel, plan, about)
    return (c_seed if kind == "cpu" else cuda_seed)(kernel, plan, about)


def _exactness(graph: Graph | None, names: _Names) -> list[str]:
    """A line for each integer output the forward computes from floating arithmetic (all but
    an argmax or argmin of an input itself, as the trace shows): compared exactly, it can
    differ from the float64 reference wherever float32 rounds a value across a tie or a
    threshold (a comparison with 0 of a value within rounding of it)."""
    notes = []
    for position, (name, dtype) in enumerate(zip(names.outputs, names.output_dtypes,
                                                 strict=True)):
        node = None if graph is None else graph.nodes[graph.outputs[position]]
        if dtype == "float32" or (graph is not None and node is not None and is_index(node)
                                  and graph.nodes[node.args[0]].op in ("input", "weight")):
            continue
        notes.append(f"{name} is {dtype} computed from floating arithmetic and compared "
                     "exactly: where float32 rounds a value across a tie or a threshold that "
                     "float64 does not, an honest kernel fails; `avo targets check` shows "
                     "whether the honest computation passes, and a hand edit can make it a "
                     "float output")
    return notes


class _Names:
    """Each tensor's name in the target (and the kernel): the forward's argument names, the
    model's parameter and buffer names with '.' written '_', and the outputs' (``out``, or for
    several the forward's names for them: problem_module.py), each distinct from the others
    and from the dimensions; and each input's and output's dtype in the target (float32, or
    its integer dtype: int64 labels, an argmax's int64 indices)."""

    def __init__(self, problem: KernelBenchProblem, shapes: Shapes) -> None:
        taken = set(shapes.dims)
        self.inputs = tuple(_unique(_identifier(n), taken) for n in problem.input_names)
        self.weights = {_unique(_identifier(n.replace(".", "_")), taken): n
                        for n in problem.base.weights}
        names = problem.output_names
        self.outputs = (_unique(names[0], taken),) if len(names) == 1 else tuple(
            _unique(_identifier(n) if n not in taken else f"out{i}", taken)
            for i, n in enumerate(names))
        self.output_dtypes = tuple(INTEGER_DTYPES.get(t.dtype, "float32")
                                   for t in problem.base.outputs)
        self.input_dtypes = tuple(INTEGER_DTYPES.get(t.dtype, "float32")
                                  for t in problem.base.inputs)
        self.kernel_inputs = (*self.inputs, *self.weights)
        self.shapes = {name: shape for name, shape in zip(
            (*self.kernel_inputs, *self.outputs), shapes.all(), strict=True)}
        self.leaves = {("input", n): t for n, t in zip(problem.input_names, self.inputs,
                                                       strict=True)}
        self.leaves.update({("weight", n): t for t, n in self.weights.items()})
        # each kernel input's name -> the forward's argument (its position) or model weight
        self.leaves_by_name: dict[str, tuple[str, str]] = {
            t: ("input", str(i)) for i, t in enumerate(self.inputs)}
        self.leaves_by_name.update({t: ("weight", n) for t, n in self.weights.items()})


def _target_file(path: Path, target_path: Path, kind: str, problem: KernelBenchProblem,
                 shapes: Shapes, work: Work, configs: Configs, names: _Names, entry: str,
                 seed: Path | None, pattern: str | None, no_seed: str,
                 rules: Rules, exactness: list[str], integers: IntegerInputs,
                 cases: list[Case], drawn: list[str], own: Case | None) -> TargetFile:
    tensors = [Tensor(n, names.shapes[n], f"input {src}", r.render(),
                      dtype=None if dtype == "float32" else dtype,
                      comment=integers.comment(i, n, configs.timed))
               for i, (n, src, r, dtype) in enumerate(zip(
                   names.inputs, problem.input_names, rules.inputs, names.input_dtypes,
                   strict=True))]
    tensors += [Tensor(n, names.shapes[n], f"weight {src}", rules.weights[src].render())
                for n, src in names.weights.items()]
    several = len(names.outputs) > 1
    tensors += [Tensor(n, names.shapes[n], f"output {i}" if several else "output",
                       dtype=None if dtype == "float32" else dtype)
                for i, (n, dtype) in enumerate(zip(names.outputs, names.output_dtypes,
                                                   strict=True))]
    device = "on the CPU (a C kernel)" if kind == "cpu" else "on a CUDA GPU"
    relative = Path(_relative(path, target_path.parent))
    origins = {dim: tuple(problem.origins[g] for g in globals_)
               for dim, globals_ in shapes.tied.items()}
    return TargetFile(
        problem=str(relative), name=_name(path.stem, kind),
        description=f"KernelBench {path.name}, float32, {device}",
        about=_about(path, entry, tensors, shapes, work, configs, seed, pattern, no_seed,
                     exactness, problem.updated, drawn, own),
        kind=kind, dtype="float32", entry=entry, dims=tuple(shapes.dims), globals_=origins,
        tensors=tuple(tensors), inputs=names.inputs, weights=names.weights,
        configs=(configs.timed,), edges=tuple(configs.edges), draw=configs.draw, work=work,
        seed=None if seed is None else seed.name, updated=problem.updated,
        cases=tuple(cases))


def _about(path: Path, entry: str, tensors: list[Tensor], shapes: Shapes, work: Work,
           configs: Configs, seed: Path | None, pattern: str | None, no_seed: str,
           exactness: list[str], updated: tuple[str, ...], drawn: list[str],
           own: Case | None) -> list[str]:
    def shape(tensor: Tensor) -> str:
        return "[" + (", ".join(s.render(str) for s in tensor.shape) or "1: a scalar") + "]"

    def source(tensor: Tensor) -> str:
        kind, _, which = tensor.source.partition(" ")
        if kind != "output":
            values = f", {tensor.dtype}, values {tensor.values}" if tensor.dtype else ""
            return f" ({tensor.source.replace('input ', 'the forward argument ')}{values})"
        value = f"returned {ORDINALS.get(which, 'at position ' + which)}" if which else ""
        dtype = f"{tensor.dtype}, compared exactly" if tensor.dtype else ""
        return f" ({', '.join(w for w in (value, dtype) if w)})" if value or dtype else ""

    parameters = ", ".join([t.name for t in tensors] + list(shapes.dims))
    described = "; ".join(f"{t.name} {shape(t)}{source(t)}" for t in tensors)
    paragraphs = [
        f"Imported from the KernelBench problem {path.name} (beside this file) by `avo "
        f"targets import` on {datetime.date.today().isoformat()}. The reference is its "
        "Model's forward in float64; the honest computation and the baseline (torch-eager) "
        "are the same forward in float32. This is an ordinary target file: edit it as you "
        "would one of your own (docs/targets.md); the importer never reads it back.",
        f"Entry point: {entry}({parameters}): {described}. The ints are the "
        "configuration's dimensions, named after the problem's size globals. The model's "
        "parameters and buffers are inputs like the forward's own, drawn afresh for every "
        "launch, and the reference computes with the same tensors.",
    ]
    if updated:
        paragraphs.append(
            f"Training mode: the model's forward updates {', '.join(updated)} (a BatchNorm "
            "in training mode, as KernelBench builds it, normalises with the batch's mean and "
            "variance and updates its running ones). The kernel computes the output; the "
            "update is a side effect outside its contract, and the forward never reads those "
            "buffers, so they are not among its inputs (UPDATED below: each call gets copies "
            "of the model's own).")
    case = ("" if own is None else f"; the input case {own.name} draws them exactly as the "
            "problem does (its get_inputs() and its model's initialisation)")
    paragraphs.append(
        "Inputs: each is drawn by the rule its Input names, read off the problem's own draws "
        "(its range, scale, sign and matrix structure)" + case
        + "".join(f"; {line}" for line in drawn) + ".")
    if configs.notes:
        paragraphs.append("Configurations: " + "; ".join(configs.notes) + ".")
    if exactness:
        paragraphs.append("Outputs: " + "; ".join(exactness) + ".")
    paragraphs.append("Work: " + _work_words(work) + ".")
    if seed is not None:
        kernel = ("kernel, a loop nest per stage of the forward's aten operations"
                  if pattern == "stage" else "kernel")
        paragraphs.append(f"Seed: {seed.name}, the importer's plain {pattern} {kernel}; its "
                          "knobs (avo:knob) are the tuner's to try.")
    else:
        paragraphs.append(f"No seed: {no_seed}; the first step of an agent run writes "
                          "version 0.")
    return paragraphs


def _work_words(work: Work) -> str:
    if work.flops is None:
        counted = "" if not work.note else f"; {work.note}"
        return f"the bytes every input and output move once, scored in GB/s{counted}"
    fitted = "exactly" if not work.flops_error else (
        f"exactly on a grid of sizes and within {work.flops_error:.1%} elsewhere")
    formula = ("torch's formulas of each counted call's sizes, summed" if work.by_call else
               f"a formula of the sizes, fitted to its counts {fitted}")
    flops = ("the FLOPs of its matrix work as torch's FLOP counter counts them ("
             f"{formula}; an epilogue, a pooling or a norm not counted)")
    if work.kind == "flops":
        return f"{flops}, scored in FLOP/s; the bytes every input and output move once beside"
    return (f"{flops}, and the bytes every input and output move once, scored in GB/s "
            f"({work.note})")


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return os.path.relpath(path.resolve(), folder.resolve())


def _identifier(text: str) -> str:
    word = re.sub(r"\W+", "_", text).strip("_") or "problem"
    return word if not word[0].isdigit() else f"p{word}"


def _name(stem: str, kind: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "problem"
    return name if kind == "cpu" else f"{name}-cuda"


def _unique(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ").strip().rstrip(".")
