"""Pairs of ideas for the shared vocabulary (issue 86), labelled one experiment ('same') or two
('different'), in two styles: short, and in the style of an agent's own notes (code
identifiers of the mha seed, kernels/cuda/attention_wgmma.cu, PTX terms, numbers with units).

Each idea carries the four fields as an agent would fill them from that idea's own words:
its own name for the technique, its own words for the place, its own direction word and its
own way of writing the value. Nothing here is in the vocabulary's normal form: the mapping
(operators/agent/vocabulary.py) must bring them there.

Written before the vocabulary and the free-text check were tuned. TUNED is the half the
tuning looked at; HELD_OUT was written at the same time and is never tuned against (only
measured, in tests/test_agent_vocabulary.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Idea:
    text: str
    technique: str
    place: str
    direction: str
    value: str


@dataclass(frozen=True)
class Pair:
    same: bool
    a: Idea
    b: Idea


def _idea(line: str) -> Idea:
    text, _, fields = line.partition(" || ")
    technique, place, direction, value = (part.strip() for part in fields.split("|"))
    return Idea(text.strip(), technique, place, direction, value)


def _pairs(block: str) -> list[Pair]:
    """``same:`` or ``diff:`` then two ideas, one a line: ``words || technique | place |
    direction | value``; a blank line between pairs."""
    found = []
    for chunk in block.strip().split("\n\n"):
        label, a, b = (line.strip() for line in chunk.strip().splitlines())
        found.append(Pair(label == "same:", _idea(a), _idea(b)))
    return found


TUNED = _pairs("""
same:
raise BLOCK_N to 128 || tile size | key tile | increase | 128
use 128-wide key tiles || block size | KV tile | raise | 128.0

diff:
unroll the inner loop 4x || unrolling | inner loop | increase | 4x
unroll the inner loop 8x || loop unrolling | inner loop | increase | 8x

same:
three-stage K/V ring || pipeline stages | K/V ring | increase | 3
STAGES=3 so the producer runs one more tile ahead || stages | Ring slots | more | 3

diff:
move the causal mask check into the KV loop || code motion | causal mask check | move in | -
hoist the causal mask check out of the KV loop || hoisting | causal mask check | move out | -

same:
128B swizzle on the K tile || swizzle | K tile | enable | 128 B
swizzle K smem with the 128-byte XOR pattern || swizzling | k_tiles in shared memory | on | 128B

diff:
persistent grid, tiles handed out dynamically from an atomic counter || persistent scheduling | grid | set | dynamic
persistent grid with a static round-robin of tiles || persistent kernel | grid | set | static

same:
fold scale * log2(e) into the FFMA before ex2 || exp2 | softmax_step | replace | scale*log2e
premultiply the softmax scale by 1.4426950408889634 so one FFMA feeds ex2.approx || exp2 | softmax | replace | scale * 1.4426950408889634

diff:
add a __syncthreads() after the barrier init || synchronisation | barrier init | add | __syncthreads
remove the __syncthreads() after the barrier init || synchronisation | barrier init | remove | __syncthreads

same:
lazy rescale: only rescale acc when row_max grows by more than 8 || lazy rescale | rescale | enable | 8
LAZY_RESCALE threshold 8.0: skip rescale(o, alpha) unless the running max moves by > 8 || lazy rescaling | rescale() of the O accumulator | turn on | 8.0

diff:
ping-pong the consumer warpgroups || ping-pong | consumer warpgroups | enable | -
turn off ping-pong between the consumer warpgroups || pingpong | consumer warpgroups | disable | -

same:
warpgroup 0 as the producer, setmaxnreg 24 || warp specialisation | producer warpgroup | enable | 24 registers
producer warpgroup (the first warpgroup) gives its registers away with setmaxnreg.dec 24 || warp specialization | producer | on | 24 regs

diff:
16 KB of shared memory for the O staging buffer || layout | epilogue | set | 16 KB
32 KB of shared memory for the O staging buffer || layout | epilogue | set | 32 KB

same:
store O with TMA || tma | epilogue | enable | -
O_STORE_TMA: one cp.async.bulk.tensor store per warp from the staged rows in store_rows || TMA | O store in the epilogue | on | -

diff:
prefetch the next K tile || prefetch | next K tile | enable | -
prefetch the next V tile || prefetching | next V tile | enable | -

same:
LPT order for the causal tiles || tile order | tile_of | set | LPT
longest-processing-time-first tile order in tile_of (heaviest causal blocks first) || tile ordering | tile scheduler | set | longest first

diff:
exp2 by a cubic polynomial on the FMA pipe for every 4th group || exp2 | fast_exp2 | replace | polynomial
exp2 by MUFU.EX2 for every group || exp2 | fast_exp2 | replace | ex2.approx

same:
cluster of 2 CTAs sharing K/V via TMA multicast || multicast | K/V ring | enable | 2
MULTICAST: a 2-CTA cluster, each CTA copies half of every K and V tile into both (.multicast::cluster) || TMA multicast | Ring::copy | on | 2 CTAs

diff:
BLOCK_N 176 for the full shapes || tile size | key tile | set | 176
BLOCK_N 192 for the full shapes || tile size | key tile | set | 192

same:
overlap softmax with the GEMMs inside a warpgroup || overlap | consumer warpgroup | enable | -
OVERLAP 1: issue S(j)=QK^T with O+=P(j-1)V so the softmax of S(j) runs under the PV wgmma || intra-warpgroup pipelining | the KV loop of a consumer | on | 1

diff:
keep P in registers for the PV wgmma (RS form) || layout | issue_pv | set | registers
stage P through shared memory for the PV wgmma (SS form) || layout | issue_pv | set | shared memory

same:
two shuffles per row max reduction || reduction | softmax_step | set | 2
reduce the row max across the quad with 2 __shfl_xor_sync || warp shuffle reduction | row_max reduction in softmax_step | set | two

diff:
fp16 for the PV accumulator || precision | O accumulator | replace | fp16
bf16 for the PV accumulator || precision | O accumulator | replace | bf16

same:
DIAGONAL_FIRST: walk the key blocks of a tile last first || tile order | key_block | enable | last first
walk key blocks from the diagonal down (FA3's order), masked ones in the prologue || block order | key_block() | on | diagonal first

diff:
give the consumers 240 registers || registers | consumer warpgroups | increase | 240
give the consumers 232 registers || registers | consumer warpgroups | decrease | 232

same:
4 warpgroups per CTA instead of 3 || warps | CTA | increase | 4
NUM_WG=4: a fourth 64-row consumer warpgroup, BLOCK_M 256 || warpgroups | CTA tile | raise | 4 warpgroups

diff:
mask only the diagonal blocks || masking | KV loop | set | diagonal only
mask every block || masking | KV loop | set | every block

same:
unroll the PV k-loop fully || unrolling | issue_pv | set | full
#pragma unroll on the K_STEPS_PV loop in issue_pv || unroll | PV wgmma loop | enable | full

diff:
evict_last L2 hint on K/V loads || cache hints | K/V loads | set | evict_last
evict_first L2 hint on K/V loads || L2 hints | K/V loads | set | evict_first

same:
drop the q_empty barrier wait when O_BUFFER is on || synchronisation | q_empty barrier | remove | -
skip waiting on bars->q_empty with O_BUFFER 1 (Q's rows are free) || barrier | q_empty wait | drop | -

diff:
split the KV reduction in 2 for long sequences || split-k | KV loop | set | 2
split the KV reduction in 4 for long sequences || split-kv | KV loop | set | 4

same:
vectorise the epilogue stores to 16 bytes || vectorised access | epilogue | set | 16 B
store_rows: 128-bit global stores (uint4) of the staged O rows || vectorization | store_rows | set | 128 bits

diff:
move the row_sum reduction out of the KV loop || code motion | row_sum reduction | move out | -
move the row_sum reduction into the KV loop || code motion | row_sum reduction | move in | -

same:
fence.proxy.async before the TMA store of O || synchronisation | epilogue | add | fence.proxy.async
add a proxy fence (fence.proxy.async.shared::cta) between stage_rows and the TMA store || fence | O store | add | fence.proxy.async.shared::cta

diff:
BLOCK_N 128 with 2 stages || tile size | key tile | set | 128
BLOCK_N 128 with 3 stages || tile size | key tile | set | 128, 3 stages

same:
skip the GEMMs of key blocks above the diagonal || masking | KV loop | enable | causal skip
causal block skipping: blocks wholly above the CTA's diagonal are neither loaded nor computed || causal masking | n_blocks / kv_len | on | -

diff:
1 consumer warpgroup per CTA || warps | CTA | decrease | 1
2 consumer warpgroups per CTA || warps | CTA | decrease | 2
""")

HELD_OUT = _pairs("""
same:
double the K/V ring to 4 stages || pipeline stages | K/V ring | increase | 4
STAGES 4: a 4-slot mbarrier ring for K and V || multi-stage pipeline | ring of k_full/v_full slots | set | 4.0

diff:
move the scale multiply into the softmax loop || code motion | scale multiply | move in | -
move the scale multiply out of the softmax loop || hoisting | scale multiply | move out | -

same:
swizzle the V tile with 128B || swizzle | V tile | enable | 128B
V tiles in smem use the 128-byte swizzle (chunk c of row r at c ^ (r % 8)) || bank-conflict swizzle | v_tiles | on | 128 bytes

diff:
schedule the persistent tiles statically || persistent scheduling | tile scheduler | set | static
PERSISTENT 2: draw each next tile from the scratch counter (dynamic scheduler) || persistent scheduling | tile scheduler | set | dynamic

same:
exp2 with the scale folded in || exp2 | softmax | replace | log2(e)
scale_log2 = scale * 1.4426950408889634f: fold log2e into the ex2 argument || base-2 exponent | softmax_step | replace | 1.4426950408889634

diff:
add a named barrier before the PV wgmma || synchronisation | issue_pv | add | named barrier
the PV wgmma without the named barrier before it || synchronisation | issue_pv | remove | named barrier

same:
BLOCK_N 176 || tile size | key tile | set | 176
176-key tiles (wgmma m64n176k16) for the d=128 full shapes || tiling | K tile | set | 176.0

diff:
unroll the QK^T k-loop by 2 || unrolling | issue_qk | increase | 2
unroll the QK^T k-loop by 4 || unrolling | issue_qk | increase | 4

same:
turn on ping-pong between consumers || ping-pong | consumer warpgroups | enable | -
PINGPONG 1: consumers take turns at the tensor cores via named_sync/named_arrive (bar 1 + c) || ping pong scheduling | turn_begin / turn_end | on | 1

diff:
warp-specialise: one producer warpgroup || warp specialisation | producer warpgroup | enable | -
no producer: thread 0 of the first consumer issues the copies || warp specialisation | producer warpgroup | disable | -

same:
O_BUFFER: stage O in its own shared rows || layout | epilogue | enable | -
stage O in a separate smem buffer (o_stage after the ring) so the next Q loads during the epilogue || smem layout | o_stage | on | -

diff:
give the producer 24 registers || registers | producer warpgroup | decrease | 24
give the producer 40 registers || registers | producer warpgroup | decrease | 40

same:
LPT order over groups of heads sharing L2 || tile order | tile scheduler | set | LPT
TILE_ORDER 1: FA4's causal order, longest tiles first across a group of heads whose K/V share the 50 MB L2 || tile ordering | tile_of | set | longest-processing-time first

diff:
TMA multicast of K across a 2-CTA cluster || multicast | K loads | enable | 2
TMA multicast of K across a 4-CTA cluster || multicast | K loads | enable | 4

same:
remove the mask code from the unmasked blocks || masking | KV loop | remove | -
run key blocks 0..full_blocks-1 in a loop with no mask code (no selects from mask_block) || masking | main loop over key blocks | drop | -

diff:
rescale O every block || lazy rescale | O accumulator | disable | -
rescale O only when the max grows || lazy rescale | O accumulator | enable | -

same:
fp32 row sums kept per lane until the end || reduction | row_sum | set | per lane
defer the quad shuffle of row_sum to the epilogue (2 __shfl_xor_sync once, not per block) || deferred reduction | row_sum in softmax_step | set | per-lane

diff:
cluster of 2 CTAs || cluster | grid | set | 2
cluster of 1 CTA (no cluster) || cluster | grid | set | 1

same:
launch_bounds minBlocks 1 to 2 || occupancy | kernel entry | increase | 2
__launch_bounds__(NUM_THREADS, 2): two CTAs per SM || registers | avo_attention_fwd | raise | 2.0

diff:
fuse the epilogue scaling by 1/l into stage_rows || fusion | stage_rows | enable | 1/l
divide O by l in a separate pass after store_rows || fusion | store_rows | disable | 1/l

same:
prefetch the tensor maps || prefetch | producer | enable | tensormap
prefetch.tensormap for tma_q/tma_k/tma_v/tma_o before the producer's first copy || prefetching | producer warpgroup setup | on | -

diff:
bf16 P for the PV wgmma || precision | pack_p | set | bf16
fp16 P for the PV wgmma || precision | pack_p | set | fp16

same:
16 KB O staging buffer || layout | o_stage | set | 16KB
o_stage of 16384 B after the ring || smem layout | o_stage | set | 16384 bytes

diff:
CARRY_TURNS 1: run the round robin across tiles || ping-pong | turn_end | enable | carry turns
CARRY_TURNS 0: balance the turns per tile || ping-pong | turn_end | disable | carry turns

same:
set STAGES to 2 || pipeline stages | K/V ring | decrease | 2
two-slot ring (STAGES 2) to free 32 KB of smem || double buffering | Ring | lower | 2 slots

diff:
issue the next QK^T before the softmax of this block || overlap | KV loop | enable | next QK^T first
issue the next QK^T after the softmax of this block || overlap | KV loop | disable | next QK^T first

same:
evict_first for Q loads || cache hints | Q load | set | evict_first
load_q: tma_load_tile<BLOCK_M, L2Priority::evict_first> for Q || L2 eviction hint | load_q | set | evict-first

diff:
one mbarrier arrival per consumer warp on the empty slot || synchronisation | release | set | per warp
one mbarrier arrival per consumer warpgroup on the empty slot || synchronisation | release | set | per warpgroup

same:
raise BLOCK_N from 128 to 192 || tile size | key tile | increase | 192
m64n192k16 wgmma for S: BLOCK_N=192 || tiling | QK^T tile | raise | 192.0

diff:
vectorise the O stores to 8 bytes || vectorised access | store_rows | set | 8 B
vectorise the O stores to 16 bytes || vectorised access | store_rows | set | 16 B

same:
mask with -inf only on the last key block || masking | mask_block | set | last block
mask_block applied to the final key block only (rows past seq_len) || masking | mask_block() | set | last block only

diff:
wait for the wgmma with wgmma.wait_group 0 || synchronisation | issue_pv | set | 0
keep one wgmma group in flight with wgmma.wait_group 1 || synchronisation | issue_pv | set | 1
""")

PAIRS = TUNED + HELD_OUT
