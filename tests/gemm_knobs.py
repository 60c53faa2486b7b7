"""Tile shapes of the GEMM seed (kernels/cuda/gemm_bias_act.cu) beside its defaults, each on
a code path the defaults do not take: compiled here without a GPU
(tests/functional/test_gemm_targets.py) and run on one (tests/gpu/test_gemm_gpu.py)."""

from __future__ import annotations

OTHER_SHAPES: dict[str, dict[str, str]] = {
    # 8 warps in 2 x 4, a 256-wide tile
    "n256-8warps": {"BLOCK_N": "256", "WARPS_N": "4", "STAGES": "3"},
    # 8 warps in 4 x 2, a 256-tall tile
    "m256-8warps": {"BLOCK_M": "256", "WARPS_M": "4", "STAGES": "3"},
    # 64-wide k steps (8 chunks a row, the other swizzle), two CTAs an SM
    "k64": {"BLOCK_K": "64", "STAGES": "3", "MIN_BLOCKS": "2"},
    # one warp of 64 x 64, double buffering, tiles in plain row order
    "one-warp": {"BLOCK_M": "64", "BLOCK_N": "64", "WARPS_M": "1", "WARPS_N": "1",
                 "STAGES": "2", "GROUP_M": "1"},
}
