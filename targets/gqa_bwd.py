"""Grouped-query attention backward on the GPU, bf16, head dim 128, 32 query heads sharing 8
key/value heads: mha-bwd's target (targets/mha_bwd.py) with those heads. dk and dv sum over
the four query heads that share each key/value head. The seed is mha-bwd's
(kernels/cuda/attention_bwd.cu), whose dK/dV blocks loop over a key head's whole group."""

from __future__ import annotations

from dataclasses import replace

from avo_tui.evaluation import get_target

target = replace(
    get_target("mha-bwd").with_dims(heads_q=32, heads_kv=8),
    name="gqa-bwd",
    description=("grouped-query attention backward, bf16, head dim 128, 32 query / 8 KV "
                 "heads; work counted as 2.5x the forward's FLOPs"),
)
