"""Attention backward on the GPU, bf16, head dim 128, 16 heads: mha's grid (the AVO grid,
causal and not), edges and tolerance (targets/mha.py), on the backward problem built into
the evaluator (avo_tui/evaluation/problems/attention_backward.py: the entry point, the
inputs o and lse derived from each draw by the float64 forward, the hostile inputs with an
output gradient of large entries, the float64 reference and the honest float32 computation,
the work, 2.5 times the forward's FLOPs, and the baselines: cuDNN's and FlashAttention-2's
backward through torch's SDPA), and the portable seed kernels/cuda/attention_bwd.cu (mma.sync,
FlashAttention-2's order, dQ by a second pass, or on Hopper summed by the dK/dV blocks).
gqa_bwd.py builds on it."""

from __future__ import annotations

from dataclasses import replace

from avo_tui.evaluation import get_target
from avo_tui.evaluation.problems.attention_backward import ATTENTION_BACKWARD, backward_of
from avo_tui.evaluation.targets.spec import Seed

forward = get_target("mha")

# The seed's default knobs (8 warps, 64 queries a step, one CTA an SM) take 161 KB of shared
# memory a block and spill 56-100 bytes (stores and loads) on sm_80, sm_90a and sm_120a; 4 warps,
# 16 queries a step and two CTAs take 97 KB, spill none, and were 1.27x slower on an H200
# (benchmarks/RESULTS.md, 2026-11-29, thirty-third session). The GPUs that give a block 163 KB
# or more get the defaults, the others (99 KB: sm_86, sm_89, sm_120a) the smaller knobs.
LARGE_SHARED_MEMORY = ("sm_80", "sm_87", "sm_90a", "sm_100a", "sm_103a")
SMALL_SHARED_MEMORY_KNOBS = {"NUM_WARPS": "4", "STEP_Q": "16", "MIN_BLOCKS": "2"}
BACKWARD_SPILLS = ("with 8 warps and 64 queries a step its dK/dV blocks spill a few bytes, and "
                   "measured 1.27x faster on an H200 than 4 warps and 16 queries that do not")
# dQ summed by the dK/dV blocks (DQ_ATOMIC 1: five products, not seven) by one bulk reduction
# a step: 1.07x the second pass on mha-bwd and 1.01x on gqa-bwd on an H200 (benchmarks/
# RESULTS.md, 2026-11-30, thirty-fifth session). Hopper alone: it has run on no other GPU yet.
HOPPER_KNOBS = {"DQ_ATOMIC": "1"}
HOPPER_SPILLS = ("with dQ summed in the dK/dV blocks (DQ_ATOMIC 1) they spill 190-270 bytes, "
                 "and measured 1.07x faster on mha-bwd on an H200 than the second pass")

target = replace(
    forward,
    name="mha-bwd",
    description=("attention backward, bf16, head dim 128, 16 heads (the AVO grid); work "
                 "counted as 2.5x the forward's FLOPs"),
    problem=ATTENTION_BACKWARD,
    entry="avo_attention_bwd",
    configs=backward_of(forward.configs),
    edge_configs=backward_of(forward.edge_configs),
    quick_configs=backward_of(forward.quick_configs),
    # fa3 is named to be said missing: the fa3-fwd package has no backward
    baselines=("cudnn", "flash", "fa3"),
    timeout_s=120.0,
    seeds=(
        Seed("cuda/attention_bwd.cu", "mma.sync and cp.async run on every GPU from sm_80 on; on "
             "Hopper the dK/dV blocks sum dQ too, by bulk reductions into scratch", ("sm_90a",),
             knobs=HOPPER_KNOBS, may_spill=HOPPER_SPILLS),
        Seed("cuda/attention_bwd.cu", "mma.sync and cp.async run on every GPU from sm_80 on; "
             "no backward seed native to an architecture ships yet", LARGE_SHARED_MEMORY,
             may_spill=BACKWARD_SPILLS),
        Seed("cuda/attention_bwd.cu", "mma.sync and cp.async run on every GPU from sm_80 on; "
             "with 99 KB of shared memory a block it runs 4 warps and 16 queries a step",
             knobs=SMALL_SHARED_MEMORY_KNOBS),
    ),
    notes=("q, k, v, o, dout, dq, dk, dv are contiguous bfloat16 tensors laid out [batch, "
           "heads, seq_len, head_dim]; lse is float32 [batch, heads_q, seq_len]",),
)
