"""Attention backward on the GPU, bf16, head dim 128, 16 heads: mha's grid (the AVO grid,
causal and not), edges and tolerance (targets/mha.py), on the backward problem built into
the evaluator (avo_tui/evaluation/problems/attention_backward.py: the entry point, the
inputs o and lse derived from each draw by the float64 forward, the hostile inputs with an
output gradient of large entries, the float64 reference and the honest float32 computation,
the work, 2.5 times the forward's FLOPs, and the baselines: cuDNN's and FlashAttention-2's
backward through torch's SDPA), and the portable seed kernels/cuda/attention_bwd.cu (mma.sync,
FlashAttention-2's order, dQ by a second pass). gqa_bwd.py builds on it."""

from __future__ import annotations

from dataclasses import replace

from avo_tui.evaluation import get_target
from avo_tui.evaluation.problems.attention_backward import ATTENTION_BACKWARD, backward_of
from avo_tui.evaluation.targets.spec import Seed

forward = get_target("mha")

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
        Seed("cuda/attention_bwd.cu", "mma.sync and cp.async run on every GPU from sm_80 on; "
             "no backward seed native to an architecture ships yet"),
    ),
    notes=("q, k, v, o, dout, dq, dk, dv are contiguous bfloat16 tensors laid out [batch, "
           "heads, seq_len, head_dim]; lse is float32 [batch, heads_q, seq_len]",),
)
