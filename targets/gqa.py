"""Grouped-query attention forward on the GPU, bf16, head dim 128, 32 query heads sharing 8
key/value heads: mha's target (targets/mha.py: the AVO grid, tolerance, baselines and seeds)
with those heads."""

from __future__ import annotations

from dataclasses import replace

from avo_tui.evaluation import get_target

target = replace(
    get_target("mha").with_dims(heads_q=32, heads_kv=8),
    name="gqa",
    description="grouped-query attention, bf16, head dim 128, 32 query / 8 KV heads",
)
