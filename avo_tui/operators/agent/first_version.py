"""Version 0, written by the agent (docs/agent.md, "Version 0 written by the agent").

A target file may have no seed (docs/targets.md): its session starts with no version, and the
first step of the agent writes v0. That step is told so in its brief: there is no kernel yet,
the workspace holds one file named after the target in its kind's language (``.c`` for a CPU
target, ``.cu`` for a CUDA one) with the entry point's signature and an empty body, and the
kernel is to be written from the contract (the entry point, its shapes and precision, in the
system prompt) and the reference (the target file itself, shown in the brief: it is what the
kernel is checked against). The gate commits the first correct kernel as v0 (there is no best
to beat; correctness and the plausibility flags still hold). From v1 on a step is as usual.

An empty body compiles and fails its check (the output arrives poisoned): the skeleton is a
starting point, never a seed.
"""

from __future__ import annotations

from pathlib import Path

from ...evaluation import TargetSpec
from ...evaluation.targets.api import SEED_SUFFIXES
from ...evaluation.targets.words import C_TYPES, CUDA_TYPES
from . import report

HEADERS = {"cuda": {"bfloat16": "cuda_bf16.h", "float16": "cuda_fp16.h"},
           "cpu": {**dict.fromkeys(("int8", "uint8", "int32", "int64", "bfloat16"), "stdint.h"),
                   "bool": "stdbool.h"}}
SCALAR_TYPES = {"int": "int", "float": "float"}


def kernel_file(target: TargetSpec) -> str:
    """The name of v0's file: the target's name in its kind's language (``scaled_residual.c``)."""
    return target.name.replace("-", "_") + SEED_SUFFIXES[target.device]


def skeleton(target: TargetSpec) -> dict[str, str]:
    """The workspace a step that writes v0 starts from: the entry point with an empty body."""
    cuda = target.device == "cuda"
    dtype = target.grid()[0].dtype
    params = []
    for p in target.problem.parameters:
        if p.is_tensor:
            element = _element(p.dtype or dtype, cuda)
            params.append(f"{'' if p.kind == 'output' else 'const '}{element} *{p.name}")
        else:
            params.append(f"{SCALAR_TYPES[p.kind]} {p.name}")
    dtypes = {p.dtype or dtype for p in target.problem.parameters if p.is_tensor}
    needed = HEADERS[target.device]
    headers = "".join(f"#include <{h}>\n" for h in sorted({needed[d] for d in dtypes
                                                            if d in needed}))
    launch = ("   A CUDA kernel declares its launch: // avo:launch grid=(...) block=(...)\n"
              "   (read_knowledge kernel-contract.md).\n" if cuda else "")
    text = (f"/* Version 0 of {target.name}: {target.description}.\n"
            "   No kernel yet: write it from the contract (the entry point, its shapes and\n"
            "   precision, in your instructions) and the reference (the target file, in the\n"
            "   brief). The output arrives poisoned (NaN, for a float one): write every\n"
            "   element.\n"
            f"{launch}*/\n{headers}\n"
            + ('extern "C" __global__ ' if cuda else "")
            + f"void {target.entry}({', '.join(params)}) {{\n}}\n")
    return {kernel_file(target): text}


def _element(dtype: str, cuda: bool) -> str:
    """A tensor's element type in the kernel's language, by its dtype (target_words)."""
    return (CUDA_TYPES if cuda else C_TYPES)[dtype]


def opening(target: TargetSpec) -> str:
    """What the brief says first, in place of the version the workspace holds."""
    return (f"There is no kernel yet: {target.name} has no seed, so this step writes version 0. "
            f"The workspace holds {kernel_file(target)}, the entry point's signature with an "
            "empty body.")


def section(target: TargetSpec, commit_bar: str, limit: int) -> str:
    """The brief's section in place of the best version's: what to write and how it is
    judged, within ``limit`` characters."""
    return report.clip(
        "## Version 0: write the kernel\n"
        "Write a correct kernel from the contract (the entry point in your instructions: each "
        "parameter's shape, the precision, what no work skipped means) and the reference (the "
        "target file below: the kernel's output is checked against its reference on every "
        "configuration, the edge and drawn shapes and the hostile inputs). Start simple and "
        "correct: evaluate (quick first), repair, then commit. Later steps make it fast.\n"
        f"{commit_bar[:1].upper()}{commit_bar[1:]}. The gate re-evaluates it all the same, and "
        "holds a result too fast to believe for the operator; the kernel it commits is v0.",
        limit)


def reference(target: TargetSpec, limit: int) -> str:
    """The target file, whole where it fits in ``limit`` characters: the reference, the
    honest computation, the shapes and the input cases, as the harness runs them."""
    if target.source is None:
        return ""
    try:
        text = Path(target.source.path).read_text()
    except OSError as error:
        return f"## The target file\n(it cannot be read: {error})"
    heading = f"## The target file, {Path(target.source.path).name} (the reference)\n"
    return heading + report.clip(text, max(0, limit - len(heading)))
