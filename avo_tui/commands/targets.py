"""``avo targets``: the built-in targets, one line each, and ``check``, which tells a user whether
the target file they wrote (docs/targets.md) can be evolved on, and if not, why, in one line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.launch import NO_SEED_NOTE, choose_seed, gpu_arch
from ..evaluation import (
    EvalRequest,
    TargetFileError,
    TargetSpec,
    UnknownTarget,
    Worker,
    get_target,
)
from ..evaluation.targets.file import resolve
from ..evaluation.targets.problem import case_word
from ..evaluation.targets.spec import known_names, shipped_file
from ..operators.hints import declared_knobs
from . import Subcommands, add_command, targets_import

if TYPE_CHECKING:  # torch comes with it: imported where the numerics run
    from ..evaluation.measurement.target_check import Margin

LIST_EPILOG = """\
A target of your own is one Python file beside its seed kernel (docs/targets.md walks through
one from nothing to a first run):
  avo targets check ./my_target.py
  avo eval --target ./my_target.py
  avo run --target ./my_target.py --session mine
or is written from a KernelBench problem (class Model, get_inputs, get_init_inputs):
  avo targets import level1_softmax.py
"""

CHECK_EPILOG = """\
exit status: 0 when the target can be evolved on, 1 with the first reason it cannot.

examples:
  avo targets check ./my_target.py
  avo targets check rmsnorm          # a shipped target file, by its name
"""


def cmd_targets_list(args: argparse.Namespace) -> int:
    """The built-in targets, the shipped target files (the attention ones first): name,
    device, unit, what each computes."""
    rows = []
    for name in known_names():
        try:
            target = get_target(name)
        except UnknownTarget as error:  # a shipped file this install cannot load
            rows.append((name, "-", "-", f"unusable: {error}"))
            continue
        rows.append((target.name, target.device, target.unit, target.description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False))
              + f"  {row[3]}")
    return 0


NO_CASES_NOTE = ("no hostile input cases: kernels are checked on drawn inputs only, and one "
                 "that breaks on large logits, ties or rows with a large mean passes; declare "
                 "cases= (docs/targets.md, \"Hostile input cases\")")


def cmd_targets_check(args: argparse.Namespace) -> int:
    path = str(args.file)
    if not path.endswith(".py") and shipped_file(path) is None:
        raise TargetFileError(f"{path}: a target file is a Python file (.py), or a shipped "
                              "one's name (avo targets list)")
    # the declarations, checked as the file loads
    target = get_target(resolve(path) if path.endswith(".py") else path)
    problem = target.problem
    first = target.grid()[0]
    own = [f"{p.name} {p.dtype}" for p in problem.parameters
           if p.dtype not in (None, first.dtype)]
    dtypes = first.dtype + (f" ({', '.join(own)})" if own else "")
    print(f"{target.name}: {target.description} "
          f"({target.source.path if target.source else target.ref})")
    print(f"  ok  declarations: {target.entry}("
          f"{', '.join(p.name for p in problem.parameters)}), {target.device}, "
          f"{dtypes}; "
          f"{len(target.configs)} timed, {len(target.edge_configs)} "
          f"edge, {len(target.quick_configs)} quick configuration(s)")
    # torch from here on: the reference, the honest computation and the baselines run here
    from ..evaluation.measurement.target_check import check_draws, check_numerics, numerics_device

    print(f"  ok  draws: {check_draws(target)} configurations drawn for 3 evaluations, "
          "all valid")
    device = numerics_device(target)
    agreement = check_numerics(target, device)
    print(f"  ok  numerics on {device}, {', '.join(agreement.configs)} with "
          f"{', '.join(map(case_word, agreement.cases))} inputs: "
          + ", ".join(f"{what} at {ratio:.2g} of the tolerance"
                      for what, ratio in agreement.worst.items()))
    if agreement.left_for_gpu:
        print(f"  --  numerics not checked on {', '.join(agreement.left_for_gpu)}: too large "
              "for this CPU's float64 reference; checked where the target's GPU is")
    for name, why in agreement.missing.items():
        print(f"  --  baseline {name} not checked: {why}")
    for name, why in agreement.imprecise.items():
        print(f"  --  baseline {name} is less precise than the target asks on a hostile case, "
              f"still timed as a baseline: {why.removeprefix(f'baseline {name} ')}")
    for name, configs in agreement.declined.items():
        reasons = "; ".join(f"{config}: {why}" for config, why in configs.items())
        print(f"  --  baseline {name} has no kernel for some edge configurations, not compared "
              f"there ({reasons})")
    if agreement.cases == ("normal",):
        print(f"  --  {NO_CASES_NOTE}")
    if target.tolerance.declared:
        print(f"  --  {target.tolerance.note()}")
    if not target.seeds:  # nothing to compile or score: the agent's first step writes v0
        print(f"  --  {NO_SEED_NOTE}")
        print(f"target ok: avo run --target {target.ref} --session NAME --operator agent")
        return 0
    checked, files, margin = _check_seed(target, device)
    print(f"  ok  seed {checked}")
    if margin is not None and margin.warning():
        print(f"  --  {margin.warning()}")
    if not declared_knobs(files):
        print("  --  the seed declares no knob (a '#define NAME V  // avo:knob V1 V2 ...' line): "
              "the tuner has nothing to try; the agent edits the kernel all the same")
    print(f"target ok: avo run --target {target.ref} --session NAME")
    return 0


def _check_seed(target: TargetSpec, device: str
                ) -> tuple[str, dict[str, str], Margin | None]:
    """The seed scored on the quick grid through the real worker (compiled alone for a CUDA
    target on a machine without a GPU): what it scored, its files, and its closest approach
    to the tolerance over MARGIN_DRAWS evaluations (the first one scored, the others only
    checked, on inputs and shapes drawn afresh: timing them told nothing more); None where it
    did not run."""
    from ..evaluation.measurement.target_check import MARGIN_DRAWS, Margin

    if target.device == "cuda" and device != "cuda":
        from ..evaluation.toolchains import get_toolchain
        from ..evaluation.toolchains.base import define_options

        choice = choose_seed(target, None)
        compiled = get_toolchain("cuda").compile(choice.files, define_options(target.defines))
        if not compiled.ok:
            raise TargetFileError(f"the seed {choice.path.name} does not compile: "
                                  f"{_line(compiled.summary())}")
        return f"{choice.path.name}: compiles (not run: no GPU here)", choice.files, None
    margin, summary = Margin(), ""
    with Worker(target.device) as worker:
        choice = choose_seed(target, gpu_arch(target, worker.wait_ready))
        for draw in range(MARGIN_DRAWS):
            result = worker.evaluate(EvalRequest(target.ref, choice.files, quick=True,
                                                 measure_baselines=draw == 0,
                                                 timed=draw == 0))
            if not result.correct:
                raise TargetFileError(f"the seed {choice.path.name} fails: "
                                      f"{_line(str(result.failure))}")
            for entry in result.configs:
                margin.take(entry)
            summary = summary or result.summary()
    return f"{choice.path.name}: {summary} (quick grid)", choice.files, margin


def _line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text


def register(commands: Subcommands) -> None:
    targets = add_command(
        commands, "targets", cmd_targets_list,
        "list the built-in targets; check a target file, or import one",
        "List the built-in targets, check a target file of your own, or make one of a "
        "KernelBench problem (avo targets import).", LIST_EPILOG,
    )
    sub = targets.add_subparsers(title="commands", metavar="COMMAND")
    add_command(sub, "list", cmd_targets_list, "the built-in targets, one line each",
                "The built-in targets (the shipped target files among them): name, device, "
                "unit and what each computes.", LIST_EPILOG)
    p = add_command(
        sub, "check", cmd_targets_check, "check a target file before a run",
        "Check a target file: it imports and declares a consistent target, its drawn "
        "configurations are valid, on its edge configurations and every input case the "
        "reference is finite, the honest computation is within its own tolerance and every "
        "baseline agrees with the reference within the tolerance, and its seed kernel "
        "compiles and passes (on the GPU where the target is a CUDA one and a GPU is here). "
        "The first failure is one line.",
        CHECK_EPILOG,
    )
    p.add_argument("file", type=Path,
                   help="the target file (a .py), or the name of a shipped one")
    targets_import.register(sub)
