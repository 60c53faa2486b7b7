"""Attention forward on the GPU, bf16, head dim 64, 16 heads: mha's target (targets/mha.py:
the AVO grid, tolerance, baselines and seeds) at head dim 64, its Hopper seed with the knobs
measured best there."""

from __future__ import annotations

from dataclasses import replace

from avo_tui.evaluation import get_target

HEAD_DIM = 64
MHA = get_target("mha")
HOPPER, PORTABLE = MHA.seeds

target = replace(
    MHA.with_dims(head_dim=HEAD_DIM),
    name="mha-d64",
    description="attention forward, bf16, head dim 64, 16 heads",
    # At head dim 64 a consumer's O takes half the registers, so three consumers (not the
    # file's two, its plan at head dim 128) have room to overlap softmax with the GEMMs, taking
    # turns round robin (FA4's plan at this head dim), and causal tiles go longest first across
    # the heads that share L2 (benchmarks/RESULTS.md, 2026-11-23, rung 6: +6.6% over BLOCK_N
    # 176 without overlap).
    seeds=(replace(HOPPER, knobs={"NUM_WG": "3", "OVERLAP": "1", "PINGPONG": "1",
                                    "TILE_ORDER": "1"}),
           PORTABLE),
    defines={"AVO_HEAD_DIM": HEAD_DIM},
)
