"""RMSNorm with a residual add, float32, on the CPU (a C kernel): the computation of the shipped
target rmsnorm (targets/rmsnorm.py, which this file builds on) where the C toolchain runs it,
so the whole path (a target file, its seed, the evaluator, a run) works on a machine without
a GPU.

    h = x + residual
    out = h / sqrt(mean(h^2, last dim) + eps) * weight

x and residual are [rows, hidden], weight is [hidden], out is [rows, hidden], all float32 (the
C toolchain takes float32 tensors). The work is the bytes one launch moves at least, and the
score is GB/s; a CPU's caches are not flushed between launches, so no measured bandwidth
bounds it here. The inputs, hostile cases, edge configurations and the reference are
rmsnorm's; the shapes are drawn as rmsnorm's with fewer rows.

The honest computation is the reference's operations in float32, as a C kernel computes them.
The one baseline is eager torch: torch.compile on the CPU compiles C++ for every shape in
every worker process, tens of seconds on a small machine, which the GPU target's Triton does
not cost.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from avo_tui.evaluation import declared_target

GPU = declared_target("rmsnorm")
MAX_ROWS = 8  # drawn shapes: the reference and the kernel stay quick on one core


def moved(c: dict[str, Any]) -> float:
    """Twice rmsnorm's bytes: the same values, four bytes each rather than two."""
    assert GPU.bytes is not None
    return 2 * GPU.bytes(c)


def draw(rng: Any) -> list[dict[str, int]]:
    """rmsnorm's drawn widths (every path of a vectorised loop), on at most MAX_ROWS rows."""
    assert GPU.draw is not None
    return [{"rows": 1 + c["rows"] % MAX_ROWS, "hidden": c["hidden"]} for c in GPU.draw(rng)]


target = replace(
    GPU,
    name="rmsnorm-cpu",
    description="RMSNorm with a residual add, float32, on the CPU (C toolchain, GB/s)",
    kind="cpu",
    dtype="float32",
    # about 12 MB moved a launch: a millisecond or more on one core
    configs=({"rows": 256, "hidden": 4096}, {"rows": 64, "hidden": 16384}),
    quick_configs=(),
    draw=draw,
    honest=GPU.reference,
    bytes=moved,
    baselines={"torch-eager": GPU.reference},
    seed="../kernels/cpu/rmsnorm.c",
)
