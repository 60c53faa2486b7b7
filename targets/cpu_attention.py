"""Attention forward on the CPU, float32, head dim 64, MHA and GQA: a C kernel, scored in
GFLOP/s against torch's scaled_dot_product_attention on the CPU.

A TargetSpec on the attention problem built into the evaluator
(avo_tui/evaluation/problems/attention.py: the entry point, the configurations' names and
FLOPs, the hostile inputs, the float64 reference and the honest computation, the drawn
lengths and the baselines). This file states the rest: the shapes, the tolerance, the time
budgets and the seed, named in the shipped kernels folder (kernels/cpu/attention.c).
"""

from __future__ import annotations

import os

from avo_tui.evaluation.problems.attention import ATTENTION, config, grid
from avo_tui.evaluation.targets.spec import FP32_TOLERANCE, Seed, TargetSpec

HEAD_DIM = 64

target = TargetSpec(
    name="cpu-attention",
    description="attention forward on the CPU, float32, head dim 64, MHA and GQA (C toolchain)",
    toolchain="c",
    device="cpu",
    problem=ATTENTION,
    entry="avo_attention_fwd",
    configs=grid([(2, 4, 4, 256), (1, 8, 2, 512)], HEAD_DIM, "float32"),
    edge_configs=(
        config(1, 2, 2, 1, HEAD_DIM, True),
        config(1, 2, 1, 37, HEAD_DIM, False),
        config(2, 2, 2, 100, HEAD_DIM, True),
        config(1, 4, 2, 129, HEAD_DIM, True),
        config(1, 2, 2, 200, HEAD_DIM, False),
    ),
    quick_configs=grid([(1, 4, 2, 256)], HEAD_DIM, "float32"),
    tolerance=FP32_TOLERANCE,
    baselines=("torch-sdpa-cpu",),
    unit="GFLOP/s",
    time_budget_s=0.25,
    timeout_s=30.0,
    gate_cap_s=10.0,
    max_plausible_ratio=20.0,
    # The seed runs on one thread on purpose: the first step to every core is a real jump.
    max_plausible_jump=1.5 * (os.cpu_count() or 1),
    seeds=(Seed("cpu/attention.c", "the C seed, for any CPU"),),
    notes=("q, k, v, o are contiguous float32 tensors laid out [batch, heads, seq_len, head_dim]",),
)
