"""out = gelu_tanh(a @ w^T + bias) in float32 on the CPU (a C kernel): gemm-bias-act's
computation (targets/gemm_bias_act.py, which this file builds on, says why this layout and
this activation) at sizes a CPU times in milliseconds, so the whole path runs without a GPU.

a is [m, k], w is [n, k] (a Linear layer's weight), bias [n], out [m, n], contiguous float32;
any m, n, k of 1 or more. Work: 2 m n k FLOPs, the epilogue not counted. The reference is the
function in float64; the honest computation is the same function in float32, which is also
the baseline (torch's own GEMM and GELU on the CPU, on every core torch uses).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from avo_tui.evaluation import declared_target

if TYPE_CHECKING:
    import random

GPU = declared_target("gemm-bias-act")


def on_the_curve(inputs: dict[str, Any], generator: Any) -> None:
    # pre-activations of unit scale (a @ w^T alone has a spread of sqrt(k))
    inputs["a"].mul_(1 / math.sqrt(inputs["a"].shape[-1]))


def saturating(inputs: dict[str, Any], generator: Any) -> None:
    # pre-activations near 1e4: exp() of the tanh overflows where a kernel builds it naively
    inputs["a"].mul_(1e3)


def empty_row_and_column(inputs: dict[str, Any], generator: Any) -> None:
    inputs["a"][-1] = 0.0
    inputs["w"][0] = 0.0


def draw(rng: random.Random) -> list[dict[str, int]]:
    """Any m, n and k (the C kernel has no 16-byte contract), small enough for one core."""
    return [{"m": rng.randint(1, 70), "n": rng.randint(1, 150), "k": rng.randint(1, 300)}
            for _ in range(4)]


target = replace(
    GPU,
    name="gemm-bias-act-cpu",
    description="out = gelu_tanh(a @ w^T + bias), float32, on the CPU (C toolchain)",
    kind="cpu",
    dtype="float32",
    configs=({"m": 256, "n": 512, "k": 512}, {"m": 128, "n": 256, "k": 1024}),
    quick_configs=(),
    edge_configs=(
        {"m": 1, "n": 1, "k": 1},
        {"m": 3, "n": 37, "k": 5},
        {"m": 17, "n": 129, "k": 100},
        {"m": 65, "n": 33, "k": 257},
    ),
    draw=draw,
    cases={"unit": on_the_curve, "huge": saturating, "zeros": empty_row_and_column},
    honest=GPU.reference,
    baselines={"torch": GPU.reference},
    seed="../kernels/cpu/gemm_bias_act.c",
)
