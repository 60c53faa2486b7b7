#!/usr/bin/env python3
"""How evenly a persistent attention grid spreads its work over the SMs, by tile schedule.

    python benchmarks/persistent_balance.py                 # mha's grid, 132 SMs (H100, H200)
    python benchmarks/persistent_balance.py --heads 32 --sms 132

The Hopper seed (kernels/cuda/attention_wgmma.cu) gives each CTA a tile of BLOCK_M = 192 query
rows; under causal masking a tile's work is its key blocks (of 128), up to its diagonal, plus
a fixed cost (its prologue and epilogue, taken here as one block). The table gives, per
configuration, the busiest SM's work over the mean (1.000: perfectly even) for:

    dynamic  a CTA per tile, each SM taking the next tile of tile_of's order when it frees up
             (the hardware's block scheduler, PERSISTENT=0)
    stride   a CTA per SM, CTA i taking tiles i, i + G, i + 2G ... of that order
    snake    a CTA per SM, one tile per round, forward on even rounds, backward on odd ones
             (PERSISTENT=1)

No GPU: the tile order is the kernel's tile_of (TILE_ORDER=1), re-stated here.
"""

from __future__ import annotations

import argparse
import heapq
import math

BLOCK_M, BLOCK_N, HEAD_DIM = 192, 128, 128
L2_BYTES = 50 * 1024 * 1024
FIXED_BLOCKS = 1.0  # a tile's prologue and epilogue, in key blocks of work


def tile_lengths(batch: int, heads: int, seq_len: int, causal: bool) -> list[float]:
    """Each tile's work in tile_of's order (TILE_ORDER=1: longest causal tiles first across a
    group of heads whose K and V fit in L2 together)."""
    m_blocks = math.ceil(seq_len / BLOCK_M)
    tiles = m_blocks * heads * batch
    head_bytes = seq_len * HEAD_DIM * 2 * 2
    group = 1
    while group < 64 and group * 2 * head_bytes <= L2_BYTES:
        group *= 2
    lengths = []
    for index in range(tiles):
        if causal:
            g, i = divmod(index, group * m_blocks)
            in_group = min(group, tiles // m_blocks - g * group)
            m_rev = i // in_group
        else:
            m_rev = index % m_blocks
        q0 = (m_blocks - 1 - m_rev) * BLOCK_M
        keys = min(seq_len, q0 + BLOCK_M) if causal else seq_len
        lengths.append(math.ceil(keys / BLOCK_N) + FIXED_BLOCKS)
    return lengths


def dynamic(lengths: list[float], sms: int) -> float:
    free = [0.0] * sms
    for length in lengths:
        heapq.heappush(free, heapq.heappop(free) + length)
    return max(free)


def stride(lengths: list[float], sms: int) -> float:
    return max(sum(lengths[cta::sms]) for cta in range(sms))


def snake(lengths: list[float], sms: int) -> float:
    work = [0.0] * sms
    for round_ in range(math.ceil(len(lengths) / sms)):
        for cta in range(sms):
            index = round_ * sms + (sms - 1 - cta if round_ % 2 else cta)
            if index < len(lengths):
                work[cta] += lengths[index]
    return max(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--sms", type=int, default=132)
    args = parser.parse_args()
    print(f"{'configuration':<22}{'dynamic':>9}{'stride':>9}{'snake':>9}   (busiest SM / mean)")
    for batch, seq_len in ((8, 4096), (4, 8192), (2, 16384), (1, 32768)):
        for causal in (False, True):
            lengths = tile_lengths(batch, args.heads, seq_len, causal)
            mean = sum(lengths) / args.sms
            name = f"b{batch}-s{seq_len}-{'causal' if causal else 'full'}"
            print(f"{name:<22}" + "".join(f"{f(lengths, args.sms) / mean:>9.3f}"
                                          for f in (dynamic, stride, snake)))


if __name__ == "__main__":
    main()
