"""Attention forward on the GPU, bf16, head dim 128, 16 heads: the AVO paper's grid (32,768
tokens per batch, sequence lengths 4k to 32k, causal and not), scored in TFLOP/s against
cuDNN (through torch's scaled_dot_product_attention), FlashAttention 2, and FA4 and FA3
where their packages are installed.

A TargetSpec on the attention problem built into the evaluator
(avo_tui/evaluation/problems/attention.py: the entry point, the configurations' names and
FLOPs, the hostile inputs, the float64 reference and the honest computation, the drawn
lengths, the baselines and the tensor maps a kernel may ask for). This file states the rest:
the shapes, the tolerance, the time budgets and the seeds per architecture, named in the
shipped kernels folder. gqa.py, gqa_4.py and mha_d64.py build on it (TargetSpec.with_dims).
"""

from __future__ import annotations

from avo_tui.evaluation.problems.attention import ATTENTION, config, grid
from avo_tui.evaluation.targets.spec import BF16_TOLERANCE, Seed, TargetSpec

HEADS = 16
HEAD_DIM = 128
# The AVO paper's grid: 32,768 tokens per batch, S from 4k to 32k, causal and not.
AVO_SHAPES = [(8, 4096), (4, 8192), (2, 16384), (1, 32768)]
# (batch, seq_len, causal): one row; a length off every tile size; one tile plus one key;
# partial tiles at 1000 and 4097, causal and not.
EDGES = [(1, 1, False), (2, 37, True), (1, 129, False), (1, 1000, True), (1, 1000, False),
         (1, 4097, True), (1, 4097, False)]

# At head dim 128 the portable seed's 64-key blocks spill 8-68 bytes (stores and loads) on
# every architecture it is chosen on; 32-key blocks spill none, and were 4.1% slower on an H200
# (benchmarks/RESULTS.md, 2026-11-24, issue 36).
PORTABLE_SPILLS = ("at head dim 128 its 64-key blocks spill a few bytes, and measured 4.1% "
                   "faster on an H200 than 32-key blocks that do not")

target = TargetSpec(
    name="mha",
    description="attention forward, bf16, head dim 128, 16 heads (the AVO grid)",
    toolchain="cuda",
    device="cuda",
    problem=ATTENTION,
    entry="avo_attention_fwd",
    configs=grid([(b, HEADS, HEADS, s) for b, s in AVO_SHAPES], HEAD_DIM, "bfloat16"),
    edge_configs=tuple(config(b, HEADS, HEADS, s, HEAD_DIM, causal, "bfloat16")
                       for b, s, causal in EDGES),
    quick_configs=grid([(2, HEADS, HEADS, 4096)], HEAD_DIM, "bfloat16"),
    tolerance=BF16_TOLERANCE,
    # fa4 and fa3 where their packages are installed (flash_attn.cute, fa3_fwd_interface)
    baselines=("cudnn", "flash", "fa4", "fa3"),
    unit="TFLOP/s",
    time_budget_s=0.3,
    timeout_s=60.0,
    gate_cap_s=60.0,
    max_plausible_ratio=1.5,
    drawn_max_tiles=16,
    seeds=(
        Seed("cuda/attention_wgmma.cu", "wgmma, TMA and setmaxnreg exist on Hopper alone",
             ("sm_90a",)),
        Seed("cuda/attention_fwd.cu", "mma.sync and cp.async run on every GPU from sm_80 "
             "on; no seed native to this architecture ships yet",
             may_spill=PORTABLE_SPILLS),
    ),
    defines={"AVO_HEAD_DIM": HEAD_DIM},
    notes=(
        "q, k, v, o are contiguous bfloat16 tensors laid out [batch, heads, seq_len, head_dim]",
    ),
)
