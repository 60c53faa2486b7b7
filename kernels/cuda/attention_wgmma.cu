/*
 * Attention forward on Hopper (sm_90a), compiled with NVRTC: wgmma, TMA, an mbarrier ring, a
 * producer warpgroup, and softmax overlapped with the GEMMs. Issues 9 and 21, rungs 1 to 8.
 *
 * Contract (knowledge/kernel-contract.md, CUDA targets): q and o are [batch, heads_q, seq_len,
 * head_dim], k and v are [batch, heads_kv, seq_len, head_dim], contiguous bf16. Query head h
 * reads key/value head h / (heads_q / heads_kv). head_dim == AVO_HEAD_DIM (64 or 128), set by
 * the harness at compile time. Any seq_len >= 1; with causal, query i sees keys 0..i.
 *
 * Structure
 *  - One CTA owns BLOCK_M = 64 * NUM_WG consecutive queries of one (batch, query head). Each
 *    consumer warpgroup (128 threads) owns 64 of those rows, the M of one wgmma. The grid is
 *    one-dimensional, a CTA per (query block, head, batch); TILE_ORDER picks which CTA takes
 *    which tile (tile_of below): longest causal blocks first within a head (0), or across a
 *    group of heads whose K and V share L2 (1, FA4's causal order). PERSISTENT 1: a CTA per
 *    SM at most, each walking tiles in rounds (a snake over that order); its producer loads the
 *    next tile's first K and V while the consumers finish the current one, and its Q once every
 *    consumer warp is done with Q's rows (the q_empty barrier). PERSISTENT 2: the same, each
 *    next tile drawn from a counter in the harness's zeroed scratch (a dynamic scheduler).
 *    O_BUFFER 1: O is staged in shared rows of its own, so Q's rows are free, and the next Q
 *    loads, while the epilogue runs.
 *  - Tiles move by TMA through the harness's tensor maps (avo:tensormap below), in 128B-swizzle
 *    boxes of 64 columns: a tile of R rows is head_dim / 64 boxes of R x 128 bytes, one after
 *    the other, 1024-byte aligned, chunk c of row r at chunk c ^ (r % 8). Rows past seq_len
 *    arrive as zeros. Q once, then K and V tiles of BLOCK_N keys through a ring of STAGES slots;
 *    K and V each have a full barrier (the TMA's bytes) and an empty barrier (one arrival per
 *    consumer warpgroup, or per consumer warp with OVERLAP, after the wgmma reading the slot
 *    has retired) per slot.
 *  - WARP_SPECIALIZE 1: warpgroup 0 is the producer. It gives its registers away (setmaxnreg)
 *    and one thread issues every copy; the consumers' instruction stream is wgmma, softmax and
 *    barrier waits only. WARP_SPECIALIZE 0: thread 0 of the first consumer issues the copies
 *    between its GEMMs (rung 2).
 *  - S = Q K^T: wgmma m64n<BLOCK_N>k16, SS form, both operands K-major from shared memory
 *    (descriptor LBO unused, SBO 1024, 128B swizzle; a k16 step is +32 bytes inside the row,
 *    the second box for k >= 64). Scale-d 0 on the first step instead of zeroing S.
 *  - Online softmax on the S accumulators in fp32, base 2: scale * log2(e) folded into the one
 *    FFMA that also subtracts the running max before ex2. A thread holds two rows (r, r + 8), a
 *    quad of lanes shares a row: two shuffles per reduction. Row sums stay per lane until the end.
 *  - O += P V: wgmma m64n<head_dim>k16, RS form. P comes straight from the S accumulators (bf16
 *    pairs; the m64nN accumulator layout equals the k16 A-fragment layout), V from shared memory,
 *    MN-major (imm-trans-b 1): LBO = distance of the two 64-column boxes, SBO 1024, +2048 bytes
 *    per k16 step of 16 keys.
 *  - OVERLAP 1 (FA3's intra-warpgroup pipelining): S(j) = Q K_j^T and O += P(j-1) V_{j-1} are
 *    issued together; the softmax of S(j) runs while the P V wgmma is still on the tensor cores,
 *    and O is rescaled for P(j) while S(j+1) runs, before P(j) V is issued. PINGPONG 1: the
 *    consumer warpgroups take turns issuing their GEMMs, round robin (named barrier 1 + c for
 *    consumer c), so one's softmax meets the others' GEMMs.
 *  - Empty asm "pins" keep the compiler from moving register work across wgmma fences and waits
 *    (CUTLASS's warpgroup_fence_operand); a wgmma's registers stay live until its wait.
 *  - Causal: key blocks wholly above the CTA's diagonal are neither loaded nor computed; a
 *    warpgroup also skips the GEMMs of blocks above its own rows (and of rows past the end), yet
 *    hands each slot back, in its turn with OVERLAP: every consumer walks the same blocks, the
 *    barriers count on it. Element masks only on blocks crossing a warp's diagonal or the end
 *    of the sequence; the blocks before the first of those run in a loop of their own with no
 *    mask code. DIAGONAL_FIRST 1 walks a tile's key blocks last first (FA3's order, key_block),
 *    so the masked ones come first, the first of them in the prologue; 2 does so under causal
 *    only.
 *  - Epilogue: O / l rounded to bf16, staged in the warp's own Q rows (or O_BUFFER's), 16-byte
 *    global stores guarded by seq_len; with O_STORE_TMA, one TMA store per warp (tma_o).
 *
 * Knobs: WARP_SPECIALIZE (producer warpgroup), NUM_WG consumer warpgroups (BLOCK_M = 64 *
 * NUM_WG), BLOCK_N keys per block (the N of the S wgmma), STAGES ring slots, OVERLAP and
 * PINGPONG (above), LAZY_RESCALE (skip the O rescale when no row maximum of the warp moved),
 * TILE_ORDER, PERSISTENT and O_BUFFER (above), EXP2_POLY (poly_exp2 below), L2_HINT (FA3's L2
 * cache hints on the TMA loads, at tma_load_tile), O_STORE_TMA (the epilogue's TMA store, at
 * tma_store_rows), CARRY_TURNS (Consumer::turn_end), Q_RELEASE (Q freed after the last
 * QK^T, and loaded right after the next tile's first K; 2: under causal only), DIAGONAL_FIRST
 * (above), MULTICAST (2-CTA clusters taking pairs of tiles by PERSISTENT's walk or draw, each
 * K and V tile copied half by each CTA into both where the pair reads the same keys:
 * Ring::copy), PEER_ARRIVE (how a multicast build's release reaches the peer's barrier:
 * Consumer::release), CLUSTER_ONLY (the seed's own code launched in 2-CTA clusters, sharing
 * nothing: what a cluster costs alone), DRAW_AHEAD (PERSISTENT 2's next tile drawn as a tile
 * starts, not once its loads are issued), UNSHARED (a multicast build's pairs never share: what
 * the pair's lockstep through shared slots costs) and PV_WAIT (where the overlapped loop waits
 * for P V, in its step). On an H200
 * beside the defaults (issue 57's rungs 2b-2f, docs/kernels.md): L2_HINT +0.5% on mha and -0.1%
 * on gqa,
 * O_STORE_TMA -1.3%, CARRY_TURNS -2.3%, DIAGONAL_FIRST 1 -1.2% (-0.4% with Q_RELEASE, whose
 * b8 s4096 causal gains 1.6%), both at 2 -0.2% and -0.5% on gqa-4 (b8 s4096 causal +1.6%, the
 * non-causal configurations, whose code is the seed's, -0.3 to -0.7%), PV_WAIT 1 -9.5% and 2
 * -5.0%, MULTICAST with PERSISTENT 2 -5.7% on gqa-4 and -5.2% on mha, though +0.9% and -1.3% back
 * to back at the power limit (issue 70's rung 3b; -28.7% while its arrivals released at the
 * cluster's scope, rung 3a): all 0.
 * Q_RELEASE is 1: +0.1% at first, +0.4% (b8 s4096 causal +2.0%) once the epilogue stored
 * through stmatrix (issue 57's rung 2g; mha, H200). PERSISTENT is 2
 * and O_BUFFER 1: beside a CTA per tile (0) they gained 1.3% on mha, 1.5% on gqa, 1.7% on
 * gqa-4 and 1.9% on mha-d64 (H100, issue 57's rung 1b, docs/kernels.md), most on the short
 * causal configurations, whose tiles' prologue and epilogue the next tile's loads now hide. The
 * static walk (1) leaves the SMs' causal work 6-9% apart where a dynamic draw, like the
 * hardware's own assignment of a CTA per tile, keeps it within 1%, and it measured 5% slower on
 * mha's causal configurations (rung 1). On that persistent grid, two consumers with OVERLAP and
 * PINGPONG (FA3's plan: 128 rows, 240 registers a consumer) beat a producer and three plain
 * consumers (192 rows, 160 registers each) by 1.0% on mha, 1.9% on gqa and 1.7% on gqa-4
 * (H100, issue 57's rung 2), where on a CTA per tile they had been 2-2.5% behind: the shorter
 * tiles' prologue and epilogue are hidden now. So NUM_WG 2, OVERLAP 1, PINGPONG 1 are the
 * defaults. At head_dim 64 O takes half the registers and three consumers have room for
 * OVERLAP: the mha-d64 target's seed runs NUM_WG 3 with OVERLAP and PINGPONG (its seed_knobs;
 * FA4's plan at that head dim), 6% faster than without. TILE_ORDER 1 is the default at both
 * head dims: +0.9% on mha, from its causal configurations (docs/kernels.md, issue 57's rung 0).
 */
#include <cuda_bf16.h>

#ifndef AVO_HEAD_DIM
#error "AVO_HEAD_DIM (64 or 128) must be defined by the harness"
#endif
// Extra work for benchmarks/gate_power.py, which needs a copy of this kernel slower by a known
// amount: each consumer warp runs a dependent chain of AVO_EXTRA_WORK FMAs per 8 key blocks
// after its stores, so the CTA retires later by a time proportional to its work (one unit is
// about 0.02% on mha). 0 in every real use.
#ifndef AVO_EXTRA_WORK
#define AVO_EXTRA_WORK 0
#endif

#define WARP_SPECIALIZE 1  // avo:knob 0 1
#define NUM_WG 2           // avo:knob 1 2 3
#define BLOCK_N 128        // avo:knob 64 96 128 176 192
#define STAGES 2           // avo:knob 2 3 4
#define OVERLAP 1          // avo:knob 0 1
#define PINGPONG 1         // avo:knob 0 1
#define LAZY_RESCALE 1     // avo:knob 0 1
#define TILE_ORDER 1       // avo:knob 0 1
#define EXP2_POLY 0        // avo:knob 0 1 2 4 8
#define PERSISTENT 2       // avo:knob 0 1 2
#define O_BUFFER 1         // avo:knob 0 1
#define L2_HINT 0          // avo:knob 0 1
#define O_STORE_TMA 0      // avo:knob 0 1
#define CARRY_TURNS 0      // avo:knob 0 1
#define Q_RELEASE 1        // avo:knob 0 1 2
#define DIAGONAL_FIRST 0   // avo:knob 0 1 2
#define PV_WAIT 0          // avo:knob 0 1 2 3
#define MULTICAST 0        // avo:knob 0 1
#define PEER_ARRIVE 0      // avo:knob 0 1 2
#define CLUSTER_ONLY 0     // avo:knob 0 1
#define DRAW_AHEAD 0       // avo:knob 0 1
#define UNSHARED 0         // avo:knob 0 1
// The producer issues in its own stream only; consumers take turns only when they overlap.
// avo:require OVERLAP == 0 || WARP_SPECIALIZE == 1
// avo:require PINGPONG == 0 || (OVERLAP == 1 && NUM_WG >= 2)
// A persistent CTA's producer loads the next tile while its consumers finish the current one.
// avo:require PERSISTENT == 0 || WARP_SPECIALIZE == 1
// O staged apart from Q lets the next tile's Q land under the epilogue: persistent grids only.
// avo:require O_BUFFER == 0 || PERSISTENT != 0
// The TMA store reads O from its own rows while the next tile's Q lands in Q's.
// avo:require O_STORE_TMA == 0 || O_BUFFER == 1
// Ping-pong turns carried from one tile to the next need turns to carry.
// avo:require CARRY_TURNS == 0 || PINGPONG == 1
// Clusters of two CTAs sharing K and V take pairs of tiles, in TILE_ORDER 1's order.
// avo:require MULTICAST == 0 || (PERSISTENT != 0 && WARP_SPECIALIZE == 1 && TILE_ORDER == 1)
// avo:require MULTICAST == 0 || (L2_HINT == 0 && O_STORE_TMA == 0)
// Its producer's 40 registers leave three consumers too few (and 32 spill).
// avo:require MULTICAST == 0 || NUM_WG == 2
// How a consumer's release reaches the peer's barrier is a setting of the multicast build.
// avo:require PEER_ARRIVE == 0 || MULTICAST == 1
// The seed's own code launched in 2-CTA clusters, on an even persistent grid.
// avo:require CLUSTER_ONLY == 0 || (MULTICAST == 0 && PERSISTENT != 0)
// The draw a tile ahead is the dynamic scheduler's; the pairs kept apart are the multicast's.
// avo:require DRAW_AHEAD == 0 || PERSISTENT == 2
// avo:require UNSHARED == 0 || MULTICAST == 1
// (its producer spills at head dim 64, and the pairs it keeps apart are gqa-4's question)
// avo:require UNSHARED == 0 || AVO_HEAD_DIM == 128
// Registers: S (BLOCK_N / 2), P (BLOCK_N / 4) and O (head_dim / 2) per consumer thread must fit
// 168 (three consumers, no producer), 240 (two, with producer) or 160 (three, with producer).
// avo:require NUM_WG < 3 || BLOCK_N <= 128 || AVO_HEAD_DIM == 64
// avo:require NUM_WG < 3 || WARP_SPECIALIZE == 0 || OVERLAP == 0 || AVO_HEAD_DIM == 64
// Every exponential by polynomial spills three consumers at head_dim 128 (20 bytes).
// avo:require EXP2_POLY < 8 || NUM_WG < 3 || AVO_HEAD_DIM == 64
// avo:require (64 * NUM_WG * (1 + O_BUFFER) + 2 * STAGES * BLOCK_N) * AVO_HEAD_DIM * 2 + 1024 + 256 <= 232448

#define BLOCK_M (64 * NUM_WG)
#define NUM_THREADS (128 * (NUM_WG + WARP_SPECIALIZE))
#define SMEM_BYTES ((BLOCK_M * (1 + O_BUFFER) + 2 * STAGES * BLOCK_N) * AVO_HEAD_DIM * 2 + 1024 + 256)
// PERSISTENT 2 draws its tiles from a counter in the harness's scratch, zeroed before each launch.
// MULTICAST: clusters of two CTAs, an even number of them; each CTA copies half of every K and
// V tile (a box of BLOCK_N / 2 rows) into both. CLUSTER_ONLY: the same clusters and grid, each
// CTA running the seed's code alone (a CTA past the last tile takes none).
// avo:launch grid=(2 * min(NUM_SMS // 2, ceil_div(ceil_div(S, BLOCK_M) * HQ * B, 2)) if MULTICAST or CLUSTER_ONLY else min(NUM_SMS, ceil_div(S, BLOCK_M) * HQ * B) if PERSISTENT else ceil_div(S, BLOCK_M) * HQ * B,) block=(NUM_THREADS,) smem=SMEM_BYTES scratch=(4 if PERSISTENT == 2 else 0) cluster=(1 + max(MULTICAST, CLUSTER_ONLY),)
// avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_M, 64) swizzle=128B
// avo:tensormap tma_k tensor=k box=(1, 1, BLOCK_N // (1 + MULTICAST), 64) swizzle=128B l2=256B
// avo:tensormap tma_v tensor=v box=(1, 1, BLOCK_N // (1 + MULTICAST), 64) swizzle=128B l2=256B
// O_STORE_TMA: each consumer warp stores its 16 rows of O (declared, and passed, either way)
// avo:tensormap tma_o tensor=out box=(1, 1, 16, 64) swizzle=128B

// The driver's 128-byte descriptor; no header NVRTC can include defines it usably.
struct alignas(64) CUtensorMap {
    unsigned long long opaque[16];
};

namespace {

constexpr int HEAD_DIM = AVO_HEAD_DIM;
constexpr int CHUNKS = HEAD_DIM / 8;          // 16-byte chunks per row
constexpr int BOXES = HEAD_DIM / 64;          // 128-byte swizzle boxes per row
constexpr int S_REGS = BLOCK_N / 2;           // fp32 S accumulators per thread
constexpr int O_REGS = HEAD_DIM / 2;          // fp32 O accumulators per thread
constexpr int K_STEPS_QK = HEAD_DIM / 16;     // k16 steps of Q K^T
constexpr int K_STEPS_PV = BLOCK_N / 16;      // k16 steps of P V
constexpr int Q_BYTES = BLOCK_M * HEAD_DIM * 2;
constexpr int TILE_BYTES = BLOCK_N * HEAD_DIM * 2;  // one K or V tile
// The L2 the causal tile order plans for (50 MB on the H100 and H200).
constexpr long long L2_BYTES = 50ll * 1024 * 1024;
// setmaxnreg: the producer keeps 24 (32 beside three consumers), the consumers share the rest
// of the 64K-register file (65536 / 384 threads = 168 at entry). One consumer needs no split.
// MULTICAST's producer keeps 40 (24 and 32 spill), its two consumers 232: 128 * 40 + 256 * 232.
constexpr int PRODUCER_REGS = NUM_WG == 3 ? 32 : MULTICAST ? 40 : 24;
constexpr int CONSUMER_REGS = NUM_WG == 3 ? 160 : MULTICAST ? 232 : 240;
// Arrivals per consumer warpgroup on an empty barrier: with overlap one per warp, each after
// its own wait (as FA4); the plain consumers keep one per warpgroup, as measured.
constexpr int RELEASES = OVERLAP ? 4 : 1;

static_assert(HEAD_DIM == 64 || HEAD_DIM == 128, "head_dim must be 64 or 128");
static_assert(BLOCK_N % 16 == 0 && BLOCK_N >= 64 && BLOCK_N <= 256, "BLOCK_N: 64..256, by 16");
static_assert(STAGES >= 2, "the ring needs two slots at least");
static_assert(Q_BYTES % 1024 == 0 && TILE_BYTES % 1024 == 0, "tiles stay 1024-byte aligned");
static_assert(SMEM_BYTES <= 227 * 1024, "shared memory beyond the sm_90 limit");

// A CTA's unit of work: BLOCK_M query rows (query block m_block) of one head of one batch
// element, and the key/value head they read. m_block < 0: no more work (PERSISTENT 2).
struct Tile {
    int m_block, head, b, kv_head;
};

// Full and empty barriers per ring slot, after the tiles.
struct Barriers {
    unsigned long long q_full, q_empty;  // q_empty: every consumer warp is done with Q's rows
    unsigned long long k_full[STAGES], k_empty[STAGES];
    unsigned long long v_full[STAGES], v_empty[STAGES];
    // PERSISTENT 2: the tile whose Q q_full announces, decoded once by the producer (its
    // coordinates take integer divisions by the shapes, a few hundred instructions that the
    // consumers would each repeat); m_block -1 once there are no more. Two, so the producer
    // writes the next one as it draws it (the consumers read one at a time, and are past the
    // one before it once q_empty has passed for it).
    Tile tile[2];
    // PERSISTENT 2: the scratch counter's address, and the copier's last draw from it, both
    // read back from here (held in registers across the copier's loop, either spilled some of
    // its 32)
    unsigned *counter;
    int drawn;
    unsigned long long never;  // Consumer::wait_after's arrival, which never comes
    // MULTICAST with PERSISTENT 2: rank 0's copier draws each next pair of tiles and hands its
    // first tile to rank 1's in `pair_tile` (written into rank 1's), announced on rank 1's
    // pair_full; rank 1's copier hands the mailbox back on rank 0's pair_free.
    unsigned long long pair_full, pair_free;
    int pair_tile;
};
static_assert(sizeof(Barriers) <= 256, "barriers outgrow their 256 bytes");

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ unsigned smem_addr(const void *p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// avo:region tma_barriers: mbarrier init, arrivals and waits; TMA copies (cp.async.bulk.tensor) with their L2 hints; cluster sync
// ---- mbarrier and TMA -----------------------------------------------------------------------

__device__ __forceinline__ void mbar_init(unsigned long long *bar, unsigned arrivals) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(arrivals)
                 : "memory");
}

__device__ __forceinline__ void mbar_arrive(unsigned long long *bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

// The producer's one arrival, announcing the bytes its copies will deliver in this phase.
__device__ __forceinline__ void mbar_expect_tx(unsigned long long *bar, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(
                     smem_addr(bar)),
                 "r"(bytes)
                 : "memory");
}

// The address, in the cluster's shared window, of the byte at shared address `local` of the
// cluster's CTA of rank `rank`. On sm_90 ptxas makes it one PRMT: the rank in the top byte.
__device__ __forceinline__ unsigned mapa(unsigned local, unsigned rank) {
    unsigned remote;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(local), "r"(rank));
    return remote;
}

// MULTICAST: an arrival on the barrier at cluster address `remote`, at the CTA's scope
// (CUTLASS's ClusterBarrier::arrive(cta_id) likewise): it says that this CTA's consumers have
// read a K or V slot (their wgmma waits have returned), which the peer's multicast then
// overwrites; no data of theirs crosses the cluster. A shared address of this CTA's is one
// of the cluster's too, naming this CTA's byte.
__device__ __forceinline__ void mbar_arrive_at(unsigned remote) {
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(remote) : "memory");
}
// The same on the barrier at `bar`'s offset in the cluster's CTA of rank `rank`.
__device__ __forceinline__ void mbar_arrive_in(unsigned long long *bar, unsigned rank) {
    mbar_arrive_at(mapa(smem_addr(bar), rank));
}

// MULTICAST: the pair's mailbox (Barriers::pair_tile), where ordinary data crosses the cluster,
// so its arrivals release and its waits acquire at the cluster's scope. Once a tile, by one
// thread: the K/V ring's arrivals, many a block, stay at the CTA's scope (mbar_arrive_in), as
// a release at the cluster's costs two MEMBARs, one of them .GPU (rung 3a's 29%).
__device__ __forceinline__ void mbar_arrive_cluster_release(unsigned long long *bar,
                                                            unsigned rank) {
    asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];\n" ::"r"(
                     mapa(smem_addr(bar), rank))
                 : "memory");
}

__device__ __forceinline__ void mbar_wait_cluster_acquire(unsigned long long *bar,
                                                          unsigned parity) {
    asm volatile(
        "{\n.reg .pred done;\nLAB_WAIT:\n"
        "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra LAB_WAIT;\n}\n" ::"r"(smem_addr(bar)),
        "r"(parity)
        : "memory");
}

__device__ __forceinline__ void st_peer(int *local, unsigned rank, int value) {
    asm volatile("st.shared::cluster.u32 [%0], %1;\n" ::"r"(mapa(smem_addr(local), rank)),
                 "r"(value)
                 : "memory");
}

__device__ __forceinline__ unsigned cluster_rank() {
    unsigned rank;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(rank));
    return rank;
}

// Every thread of both CTAs of the cluster; orders shared memory (a peer's barriers, the
// tiles it copies into this CTA) across it.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}

// Waits until the phase of the given parity has completed (on a fresh barrier, parity 1 passes).
__device__ __forceinline__ void mbar_wait(unsigned long long *bar, unsigned parity) {
    // PTX labels are local to their { } block, so every inlined copy may reuse the name.
    asm volatile(
        "{\n.reg .pred done;\nLAB_WAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra LAB_WAIT;\n}\n" ::"r"(smem_addr(bar)),
        "r"(parity)
        : "memory");
}

// L2_HINT 1 (FA3's cache hints): K and V are loaded evict-last, so that the Q tiles and O rows
// streaming through L2 do not push out the K and V that the next query blocks of the same
// heads read again; Q, read once, evict-first. 0: no hint (the tensor map's L2 promotion only).
enum class L2Priority { evict_first, evict_last };

// The 64-bit L2 cache policy for a TMA load's .L2::cache_hint, made by createpolicy.
template <L2Priority PRIORITY>
__device__ __forceinline__ unsigned long long l2_policy() {
    unsigned long long policy;
    if (PRIORITY == L2Priority::evict_last)
        asm("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(policy));
    else
        asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
    return policy;
}

// One tile of ROWS rows starting at `row`: head_dim / 64 boxes, completing on `bar`; with
// L2_HINT, under the L2 cache policy PRIORITY.
template <int ROWS, L2Priority PRIORITY>
__device__ __forceinline__ void tma_load_tile(unsigned dst, const CUtensorMap *map,
                                              unsigned long long *bar, int row, int head,
                                              int b) {
#pragma unroll
    for (int box = 0; box < BOXES; ++box) {
        if (L2_HINT)
            asm volatile(
                "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                ".L2::cache_hint [%0], [%1, {%2, %3, %4, %5}], [%6], %7;\n" ::"r"(
                    dst + box * ROWS * 128),
                "l"(reinterpret_cast<unsigned long long>(map)), "r"(box * 64), "r"(row),
                "r"(head), "r"(b), "r"(smem_addr(bar)), "l"(l2_policy<PRIORITY>())
                : "memory");
        else
            asm volatile(
                "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                " [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(dst + box * ROWS * 128),
                "l"(reinterpret_cast<unsigned long long>(map)), "r"(box * 64), "r"(row),
                "r"(head), "r"(b), "r"(smem_addr(bar))
                : "memory");
    }
}

// MULTICAST: half `half` of a K or V tile of BLOCK_N rows starting at `row` (its BLOCK_N / 2
// rows in each of the head_dim / 64 boxes, where the whole tile's layout puts them), into
// this CTA (mask 0) or at the same offset into every CTA of the cluster in `mask`, each
// completing on its own barrier at `bar`'s offset. The swizzle follows the shared address, so
// two half boxes land as one whole box would.
__device__ __forceinline__ void tma_load_half(unsigned dst, const CUtensorMap *map,
                                              unsigned long long *bar, int row, int half,
                                              int head, int b, unsigned short mask) {
    constexpr int ROWS = BLOCK_N / 2;
#pragma unroll
    for (int box = 0; box < BOXES; ++box) {
        const unsigned to = dst + box * BLOCK_N * 128 + half * ROWS * 128;
        if (mask)
            asm volatile(
                "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                ".multicast::cluster [%0], [%1, {%2, %3, %4, %5}], [%6], %7;\n" ::"r"(to),
                "l"(reinterpret_cast<unsigned long long>(map)), "r"(box * 64),
                "r"(row + half * ROWS), "r"(head), "r"(b), "r"(smem_addr(bar)), "h"(mask)
                : "memory");
        else
            asm volatile(
                "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                " [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(to),
                "l"(reinterpret_cast<unsigned long long>(map)), "r"(box * 64),
                "r"(row + half * ROWS), "r"(head), "r"(b), "r"(smem_addr(bar))
                : "memory");
    }
}

// O_STORE_TMA: one warp's 16 staged rows of O, head_dim / 64 boxes from `src` (a tile of ROWS
// rows in the same swizzled layout as the loads, 1024-byte aligned), to rows `row`.. of O. Rows
// past seq_len are not written: the TMA unit clips the box at the tensor's edge.
template <int ROWS>
__device__ __forceinline__ void tma_store_rows(const CUtensorMap *map, unsigned src, int row,
                                               int head, int b) {
#pragma unroll
    for (int box = 0; box < BOXES; ++box)
        asm volatile(
            "cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group"
            " [%0, {%1, %2, %3, %4}], [%5];\n" ::"l"(reinterpret_cast<unsigned long long>(map)),
            "r"(box * 64), "r"(row), "r"(head), "r"(b), "r"(src + box * ROWS * 128)
            : "memory");
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}

// Waits until this thread's committed stores have read their shared memory (READ_ONLY), or
// have written global memory too.
template <bool READ_ONLY>
__device__ __forceinline__ void tma_store_wait() {
    if (READ_ONLY)
        asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
    else
        asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}

// avo:end tma_barriers
// avo:region named_barriers: named barriers (bar.sync, bar.arrive) for the ping-pong turns
// ---- named barriers (ping-pong) -------------------------------------------------------------

__device__ __forceinline__ void named_sync(int id) {
    asm volatile("bar.sync %0, 256;\n" ::"r"(id) : "memory");
}
__device__ __forceinline__ void named_arrive(int id) {
    asm volatile("bar.arrive %0, 256;\n" ::"r"(id) : "memory");
}

// avo:end named_barriers
// avo:region wgmma: wgmma fence, commit and wait_group; shared-memory descriptors; the SS and RS forms
// ---- wgmma ------------------------------------------------------------------------------

__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int PENDING>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(PENDING) : "memory");
}

// Keeps the compiler from moving accesses of these registers across a wgmma fence or wait.
template <int N>
__device__ __forceinline__ void pin(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ __forceinline__ void pin(unsigned (&r)[N][4]) {
#pragma unroll
    for (int i = 0; i < N; ++i)
#pragma unroll
        for (int q = 0; q < 4; ++q) asm volatile("" : "+r"(r[i][q])::"memory");
}

// Shared-memory matrix descriptor, 128B swizzle (mode 1 in bits 62-63), SBO = 1024 (8 rows of
// 128 bytes). lbo_bytes: 16 (encoded 1, "unused") for K-major, the box stride for MN-major.
__device__ __forceinline__ unsigned long long make_desc(unsigned addr, unsigned lbo_bytes) {
    return (unsigned long long)((addr & 0x3FFFF) >> 4) |
           ((unsigned long long)((lbo_bytes & 0x3FFFF) >> 4) << 16) |
           ((unsigned long long)(1024 >> 4) << 32) | (1ull << 62);
}

// A byte offset as it is added to a descriptor's address field.
__device__ __forceinline__ unsigned long long desc_offset(unsigned bytes) { return bytes >> 4; }

}  // namespace

// The wgmma instructions, one per shape. An m64nNk16 instruction names its N/2 accumulator
// registers one by one, so the operand lists are spelled by macros: R16(b) is "%b, ..., %b+15"
// and ACC8(i) binds d[i .. i+7]. RS: imm-trans-b 1 (V is MN-major); SS: both K-major.
#define R4(a, b, c, d) "%" #a ", %" #b ", %" #c ", %" #d
#define R8(a, b, c, d, e, f, g, h) R4(a, b, c, d) ", " R4(e, f, g, h)
#define R16(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) \
    R8(a0, a1, a2, a3, a4, a5, a6, a7) ", " R8(a8, a9, a10, a11, a12, a13, a14, a15)
#define REGS_0_31 R16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) ", " \
    R16(16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)
#define REGS_32_63 R16(32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47) ", " \
    R16(48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63)
#define REGS_64_79 R16(64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79)
#define REGS_80_95 R16(80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95)
#define REGS_32 REGS_0_31
#define REGS_48 REGS_0_31 ", " R16(32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47)
#define REGS_64 REGS_0_31 ", " REGS_32_63
#define REGS_88 REGS_64 ", " REGS_64_79 ", " R8(80, 81, 82, 83, 84, 85, 86, 87)
#define REGS_96 REGS_64 ", " REGS_64_79 ", " REGS_80_95
#define ACC8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), \
    "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define ACC_32 ACC8(0), ACC8(8), ACC8(16), ACC8(24)
#define ACC_48 ACC_32, ACC8(32), ACC8(40)
#define ACC_64 ACC_32, ACC8(32), ACC8(40), ACC8(48), ACC8(56)
#define ACC_88 ACC_64, ACC8(64), ACC8(72), ACC8(80)
#define ACC_96 ACC_64, ACC8(64), ACC8(72), ACC8(80), ACC8(88)

// S (+)= A * B with R = N / 2 accumulators, both operands from shared memory; scale_d 0
// overwrites S. DA, DB, SC: the operand numbers of the two descriptors and of scale_d.
#define WGMMA_SS(N, R, DA, DB, SC)                                                            \
    __device__ __forceinline__ void wgmma_ss(float (&d)[R], unsigned long long da,            \
                                             unsigned long long db, int scale_d) {            \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #SC ", 0;\n"                         \
                     "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32.bf16.bf16 {" REGS_##R    \
                     "}, %" #DA ", %" #DB ", p, 1, 1, 0, 0;\n}\n"                               \
                     : ACC_##R                                                                \
                     : "l"(da), "l"(db), "r"(scale_d));                                       \
    }
// O += A (registers A0..A3) * B (shared memory, MN-major, descriptor operand DB).
#define WGMMA_RS(N, R, A0, A1, A2, A3, DB)                                                    \
    __device__ __forceinline__ void wgmma_rs(float (&d)[R], const unsigned (&a)[4],           \
                                             unsigned long long db) {                         \
        asm volatile("wgmma.mma_async.sync.aligned.m64n" #N "k16.f32.bf16.bf16 {" REGS_##R     \
                     "}, {%" #A0 ", %" #A1 ", %" #A2 ", %" #A3 "}, %" #DB ", 1, 1, 1, 1;\n"    \
                     : ACC_##R                                                                \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));                  \
    }

// In a named namespace, so the shapes a configuration does not use draw no warning.
namespace wg {
WGMMA_SS(64, 32, 32, 33, 34)
WGMMA_SS(96, 48, 48, 49, 50)
WGMMA_SS(128, 64, 64, 65, 66)
WGMMA_SS(176, 88, 88, 89, 90)
WGMMA_SS(192, 96, 96, 97, 98)
WGMMA_RS(64, 32, 32, 33, 34, 35, 36)
WGMMA_RS(128, 64, 64, 65, 66, 67, 68)
// avo:end wgmma
}  // namespace wg

namespace {

// avo:region exp2: bf16 packing; 2^x by ex2.approx (MUFU) or by a polynomial on the FMA pipe
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned *>(&v);
}

// 2^x on the special-function unit; ex2(-inf) = 0.
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// 2^x on the FMA pipe, for x <= 127: x = n + f with n = floor(x) and f in [0, 1); 2^f from a
// cubic (minimax relative error 8.6e-5, far below bf16's 2^-9), n added to its exponent field.
// About eight instructions for one MUFU.EX2. It pays only where the MUFU is the limit (FA4
// uses it on Blackwell, whose tensor cores outgrew the MUFU); on the H200 every EXP2_POLY > 0
// was slower (-6% at 1 on mha-d64, -10% at 2, -3% at 1 on mha; benchmarks/RESULTS.md): the
// loop is bound by issue and latency, not by the MUFU. x below -126 gives a subnormal under
// 2^-126, which no sum or bf16 product can tell from 0; -inf (a masked key) gives exactly 0.
__device__ __forceinline__ float poly_exp2(float x) {
    x = fmaxf(x, -127.0f);
    float shifted;  // x + 1.5 * 2^23 rounded down: floor(x) lands in the low mantissa bits
    asm("add.rm.f32 %0, %1, 0f4B400000;\n" : "=f"(shifted) : "f"(x));
    const float f = x - (shifted - 12582912.0f);
    const float p = fmaf(fmaf(fmaf(0.07706718f, f, 0.22764484f), f, 0.69511682f), f, 1.0f);
    return __int_as_float((__float_as_int(shifted) << 23) + __float_as_int(p));
}

// EXP2_POLY of every 8 column groups (8 keys each) of S take 2^x from poly_exp2.
constexpr int POLY_EVERY = EXP2_POLY > 0 ? 8 / EXP2_POLY : 0;
__device__ __forceinline__ float exp2_of_group(int group, float x) {
    return POLY_EVERY > 0 && group % POLY_EVERY == 0 ? poly_exp2(x) : fast_exp2(x);
}

// avo:end exp2
// avo:region epilogue: the helpers: O / l to bf16, stmatrix into shared rows, 16-byte global stores of the staged rows
// ---- the epilogue: O / l through shared memory to global ----------------------------------------

__device__ __forceinline__ void stmatrix_x4(unsigned addr, unsigned r0, unsigned r1, unsigned r2,
                                            unsigned r3) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr),
                 "r"(r0), "r"(r1), "r"(r2), "r"(r3)
                 : "memory");
}

// O is staged as Q is loaded: boxes of 64 columns, BLOCK_M rows of 128 bytes each, 128-byte
// swizzle. 16-byte chunk c (0 .. CHUNKS - 1) of row r lies at byte (c / 8) * BLOCK_M * 128 +
// r * 128 + ((c ^ r) % 8) * 16. A warp's rows start at a multiple of 8, so a row's swizzle is
// that of its place among them, and chunk 2j + c (or row r0 + 2i) differs from chunk c (row r0)
// by a constant XOR of the swizzle.

// A warp's 16 rows of O times inv (per row half), as bf16, into rows tile_row0 .. + 15 of the
// swizzled tile at `stage`: one stmatrix per 16 columns. Its four 8 x 8 matrices are (rows 0-7,
// rows 8-15) x (chunk 2j, 2j + 1), each the accumulator layout of one register pair; lane t gives
// the address of row t % 8 of matrix t / 8.
template <int REGS>
__device__ __forceinline__ void stage_rows(const float (&acc)[REGS], const float (&inv)[2],
                                           unsigned stage, int tile_row0, int lane) {
    const int row = (lane & 7) + (lane & 8);
    const int upper = lane >> 4;  // the second chunk of the 16 columns
    const unsigned row_addr = stage + (tile_row0 + row) * 128;
    const int swizzle = (upper ^ row) & 7;
#pragma unroll
    for (int j = 0; j < REGS / 8; ++j) {
        const float *a = acc + 8 * j;
        const unsigned addr =
            row_addr + (j >> 2) * (BLOCK_M * 128) + ((swizzle ^ (2 * j & 7)) << 4);
        stmatrix_x4(addr, pack_bf16x2(a[0] * inv[0], a[1] * inv[0]),
                    pack_bf16x2(a[2] * inv[1], a[3] * inv[1]),
                    pack_bf16x2(a[4] * inv[0], a[5] * inv[0]),
                    pack_bf16x2(a[6] * inv[1], a[7] * inv[1]));
    }
}

// The warp's 16 staged rows to `out` (row 0 of them), 16 bytes a lane per store, the rows at or
// past `valid_rows` left out. A warp whose rows are all valid (every one but the sequence's
// last) stores without a test.
__device__ __forceinline__ void store_rows(__nv_bfloat16 *out, const unsigned char *stage,
                                           int tile_row0, int valid_rows, int lane) {
    constexpr int ROWS_PER_PASS = 32 / CHUNKS;
    const int chunk = lane % CHUNKS;
    const int row0 = lane / CHUNKS;  // below ROWS_PER_PASS: pass i's row is row0 | i * it
    uint4 *dst = reinterpret_cast<uint4 *>(out + row0 * HEAD_DIM + chunk * 8);
    const unsigned char *src = stage + (chunk >> 3) * (BLOCK_M * 128) + (tile_row0 + row0) * 128;
    const int swizzle = (chunk ^ row0) & 7;
    auto pass = [&](int i) {
        const int rows = i * ROWS_PER_PASS;
        dst[rows * CHUNKS] =
            *reinterpret_cast<const uint4 *>(src + rows * 128 + ((swizzle ^ (rows & 7)) << 4));
    };
    if (valid_rows >= 16) {
#pragma unroll
        for (int i = 0; i < 16 / ROWS_PER_PASS; ++i) pass(i);
    } else {
#pragma unroll
        for (int i = 0; i < 16 / ROWS_PER_PASS; ++i)
            if (row0 + i * ROWS_PER_PASS < valid_rows) pass(i);
    }
}

// avo:end epilogue
// avo:region softmax: element masks, the online softmax step (row max, exp2, row sums, shuffles), the rescale of the O accumulator, P packed for the PV product
// ---- softmax on the accumulator fragment -----------------------------------------------------
// Accumulator register i of a thread: row r + 8 * ((i / 2) % 2), column 8 * (i / 4) + 2 * (lane
// % 4) + i % 2, with r = 16 * warp + lane / 4 inside the warpgroup's 64 rows.

__device__ __forceinline__ void mask_block(float (&s)[S_REGS], int row0, int key0, int seq_len,
                                           int causal, int lane) {
#pragma unroll
    for (int i = 0; i < S_REGS; ++i) {
        const int row = row0 + (lane >> 2) + ((i >> 1) & 1) * 8;
        const int key = key0 + (i >> 2) * 8 + (lane & 3) * 2 + (i & 1);
        if (key >= seq_len || (causal && key > row)) s[i] = neg_inf();
    }
}

// Turns s into p = 2^(s * scale_log2 - m_new), updates the row maxima and sums, and returns in
// alpha the factor 2^(m_old - m_new) that O still has to be multiplied by; false when every
// row maximum of the warp stayed (alpha is 1 throughout, so with LAZY_RESCALE O is left alone).
// `held` (PV_WAIT 3): the sum of the first row's first PV_HOLD terms, PV_HOLD the exponentials
// of that row the wait for P V is to follow (rung 2g: near ten of the 66 is the place at d=128,
// neither end; with 6 the multicast builds wait after 11 and 12, the seed's place).
template <bool MASKED>
__device__ __forceinline__ bool softmax_step(float (&s)[S_REGS], float (&row_max)[2],
                                             float (&row_sum)[2], float (&alpha)[2],
                                             float scale_log2, float *held = nullptr) {
    constexpr int PV_HOLD = 6;
    bool grew = false;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float mx;
        if (OVERLAP) {
            // Four independent chains (as FA4): with overlap, this maximum is on the critical
            // path to the next P V. Each starts from S, not from -inf: fmaxf(-inf, x) is not x
            // for a NaN x, so ptxas keeps such a first step (8 instructions a block).
            float chain[4] = {s[2 * h], s[2 * h + 1], s[4 + 2 * h], s[4 + 2 * h + 1]};
#pragma unroll
            for (int i = 8; i < S_REGS; i += 4) {
                const int c = (i >> 2) & 1;
                chain[2 * c] = fmaxf(chain[2 * c], s[i + 2 * h]);
                chain[2 * c + 1] = fmaxf(chain[2 * c + 1], s[i + 2 * h + 1]);
            }
            mx = fmaxf(fmaxf(chain[0], chain[1]), fmaxf(chain[2], chain[3]));
        } else {
            mx = fmaxf(s[2 * h], s[2 * h + 1]);
#pragma unroll
            for (int i = 4; i < S_REGS; i += 4)
                mx = fmaxf(mx, fmaxf(s[i + 2 * h], s[i + 2 * h + 1]));
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_old = row_max[h];
        const float m_new = fmaxf(m_old, mx * scale_log2);
        // A row with every key masked so far keeps m = -inf; subtract 0 to avoid inf - inf.
        // Only a masked block can leave a row there (FA3's Check_inf): the others skip the
        // test, 4 instructions a block.
        const float m_use = MASKED && m_new == neg_inf() ? 0.0f : m_new;
        alpha[h] = fast_exp2(m_old - m_use);
        row_max[h] = m_new;
        float sum;
#pragma unroll
        for (int i = 0; i < S_REGS; i += 4)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float p = exp2_of_group(i >> 2, fmaf(s[i + 2 * h + e], scale_log2, -m_use));
                s[i + 2 * h + e] = p;
                sum = i + e == 0 ? p : sum + p;  // not 0 + p, an FADD kept: 0 + -0 is +0
                if (PV_WAIT == 3 && held && h == 0 && i / 2 + e + 1 == PV_HOLD) *held = sum;
            }
        row_sum[h] = row_sum[h] * alpha[h] + sum;
        grew |= m_new != m_old;
    }
    return !LAZY_RESCALE || __any_sync(0xffffffffu, grew);
}

__device__ __forceinline__ void rescale(float (&o)[O_REGS], const float (&alpha)[2]) {
#pragma unroll
    for (int i = 0; i < O_REGS; ++i) o[i] *= alpha[(i >> 1) & 1];
}

// P as the A operand: k16 step t takes S registers 8t .. 8t + 7 as four bf16 pairs.
__device__ __forceinline__ void pack_p(unsigned (&p)[K_STEPS_PV][4], const float (&s)[S_REGS]) {
#pragma unroll
    for (int t = 0; t < K_STEPS_PV; ++t)
#pragma unroll
        for (int r = 0; r < 4; ++r) p[t][r] = pack_bf16x2(s[8 * t + 2 * r], s[8 * t + 2 * r + 1]);
}

// avo:end softmax
// avo:region tile_schedule: which tile a CTA owns (tile_of): the causal tile order (LPT, head groups sharing L2), the key-block order (diagonal first)
// ---- which tile a CTA owns -------------------------------------------------------------------

// The grid is one-dimensional, one CTA per (query block, head, batch). TILE_ORDER 0: query
// blocks fastest, longest first within a head. TILE_ORDER 1 under causal: longest first across
// a group of heads whose K and V fit in L2 together, then the group's next-longest blocks, so
// the last CTAs of the grid are its shortest (FA4's causal order); non-causal as with 0.
// TILE_ORDER 1 under causal: how many heads' K and V the order plans to share L2 (a power of 2).
__device__ __forceinline__ int causal_group(int seq_len) {
    const long long head_bytes = (long long)seq_len * HEAD_DIM * 2 * 2;  // its K and V
    int group = 1;
    while (group < 64 && (long long)group * 2 * head_bytes <= L2_BYTES) group *= 2;
    return group;
}

__device__ __forceinline__ Tile tile_of(int index, int m_blocks, int heads_q, int heads_kv,
                                        int tiles, int seq_len, int causal) {
    int m_rev, bh;
    if (TILE_ORDER == 1 && causal) {
        const int group = causal_group(seq_len);
        const int group_tiles = group * m_blocks;
        const int g = index / group_tiles;
        const int heads = tiles / m_blocks - g * group;  // the last group may be short
        const int in_group = min(group, heads);
        const int i = index - g * group_tiles;
        m_rev = i / in_group;
        bh = g * group + i % in_group;
    } else {
        m_rev = index % m_blocks;
        bh = index / m_blocks;
    }
    const int head = bh % heads_q;
    return {m_blocks - 1 - m_rev, head, bh / heads_q, head / (heads_q / heads_kv)};
}

// The key block that a tile's i-th block in the ring holds. DIAGONAL_FIRST 1 (FA3's order):
// last first, so that the blocks crossing the diagonal or the sequence's end, which need the
// mask, come first, and the first is the prologue's own; the main loop then runs unmasked to
// the end of the tile, with no masked copy of itself to run. 2: so under causal only.
// Q_RELEASE 1: Q's rows freed after the tile's last QK^T (the consumers' loop below) and the
// next Q loaded right after the next tile's first K (the producer's); 2: so under causal only.
// Only where O is staged in rows of its own and the overlapped loop knows when that GEMM is
// done; elsewhere Q is freed in the epilogue, whatever the knob says.
__device__ __forceinline__ bool q_release(int causal) {
    return O_BUFFER && OVERLAP && (Q_RELEASE == 1 || (Q_RELEASE == 2 && causal));
}
__device__ __forceinline__ bool diagonal_first(int causal) {
    return DIAGONAL_FIRST == 1 || (DIAGONAL_FIRST == 2 && causal);
}
__device__ __forceinline__ int key_block(int i, int n_blocks, int causal) {
    return diagonal_first(causal) ? n_blocks - 1 - i : i;
}

// avo:end tile_schedule
// avo:region kv_ring: the K/V ring of STAGES slots: the producer copies K and V tiles into a slot (TMA, multicast) after its empty barrier, the full barrier counts the bytes
// ---- the K/V ring -----------------------------------------------------------------------------

// Blocks are numbered by a CTA's running count over all its tiles (`seq`): a persistent CTA's
// ring goes on from one tile to the next, each slot's phase with it.
struct Ring {
    Barriers *bars;
    unsigned k_tiles, v_tiles;  // shared addresses of slot 0
    const CUtensorMap *tma_k, *tma_v;
    // MULTICAST: this CTA's rank in its cluster, and whether the two CTAs share every K and V
    // tile (each copies half of it into both; each consumer hands a slot back to both).
    unsigned rank = 0;
    bool shared = false;
    // PEER_ARRIVE 1 and 2: what a release adds to its barrier's shared address to name the
    // second barrier it arrives on (the peer's where the two share, else this CTA's own), from
    // one mapa at the start instead of one a release (rung 3b's loop: 484 instructions, not 486,
    // NVRTC 13.0.88).
    unsigned peer = 0;

    static __device__ __forceinline__ int slot(int block) { return block % STAGES; }
    // Parity of the phase that block `block` fills (consumers wait on it).
    static __device__ __forceinline__ unsigned parity(int block) { return (block / STAGES) & 1; }

    // Producer: waits until the consumers are done with the slot's previous tile, then copies
    // the tile's block `block` (the CTA's `seq`-th) of head `kv_head` of batch `b`: its K, its
    // V, or both.
    __device__ __forceinline__ void load_k(int seq, int block, int kv_head, int b) const {
        copy(bars->k_full, bars->k_empty, k_tiles, tma_k, seq, block, kv_head, b);
    }
    __device__ __forceinline__ void load_v(int seq, int block, int kv_head, int b) const {
        copy(bars->v_full, bars->v_empty, v_tiles, tma_v, seq, block, kv_head, b);
    }
    __device__ __forceinline__ void load(int seq, int block, int kv_head, int b) const {
        load_k(seq, block, kv_head, b);
        load_v(seq, block, kv_head, b);
    }

  private:
    __device__ __forceinline__ void copy(unsigned long long *full, unsigned long long *empty,
                                         unsigned tiles, const CUtensorMap *map, int seq,
                                         int block, int kv_head, int b) const {
        const int s = slot(seq);
        mbar_wait(&empty[s], parity(seq) ^ 1);  // passes at once on the first lap
        mbar_expect_tx(&full[s], TILE_BYTES);
        const unsigned dst = tiles + s * TILE_BYTES;
        if (!MULTICAST) {
            tma_load_tile<BLOCK_N, L2Priority::evict_last>(dst, map, &full[s], block * BLOCK_N,
                                                           kv_head, b);
        } else if (shared) {
            tma_load_half(dst, map, &full[s], block * BLOCK_N, rank, kv_head, b, 0b11);
        } else {
            tma_load_half(dst, map, &full[s], block * BLOCK_N, 0, kv_head, b, 0);
            tma_load_half(dst, map, &full[s], block * BLOCK_N, 1, kv_head, b, 0);
        }
    }
};

// avo:end kv_ring
// avo:region consumer_gemms: one consumer warpgroup: S = Q K^T (issue_qk) and O += P V (issue_pv) by wgmma, slot releases, ping-pong turns
// ---- one consumer warpgroup ---------------------------------------------------------------------

struct Consumer {
    const Ring &ring;
    int cwg;       // consumer warpgroup index: rows 64 * cwg .. of the CTA's tile
    int tid;       // thread index inside the warpgroup
    bool issuer;   // without a producer warpgroup: the thread that also issues the copies
    unsigned long long desc_q, desc_k0, desc_v0;
    int base = 0;  // the ring's running block count when the current tile began

    __device__ __forceinline__ int slot(int block) const { return Ring::slot(base + block); }
    __device__ __forceinline__ unsigned parity(int block) const {
        return Ring::parity(base + block);
    }

    // MULTICAST: a slot's empty barrier counts the consumers of both CTAs (this one's twice
    // where the two do not share tiles), since either CTA's copy fills it in both. PEER_ARRIVE
    // 0: the releasing lane arrives on both, the second through a mapa each time; 1: the second
    // at the offset kept in the ring; 2 (FA3's cubin): one arrival a lane, lane 0 on this
    // CTA's barrier and lane 1 on the second, the same instruction.
    __device__ __forceinline__ void release(unsigned long long *bar) const {
        const int releaser = tid % (128 / RELEASES);
        if (MULTICAST && PEER_ARRIVE == 2) {
            if (releaser < 2) mbar_arrive_at(smem_addr(bar) + (releaser ? ring.peer : 0u));
            return;
        }
        if (releaser != 0) return;
        mbar_arrive(bar);
        if (MULTICAST && PEER_ARRIVE == 1)
            mbar_arrive_at(smem_addr(bar) + ring.peer);
        else if (MULTICAST)
            mbar_arrive_in(bar, ring.shared ? ring.rank ^ 1 : ring.rank);
    }

    // Hand the slot of the tile's block `block` back: its K, or its V.
    __device__ __forceinline__ void release_k(int block) const {
        release(&ring.bars->k_empty[slot(block)]);
    }
    // Keeps the wgmma wait that follows in program order after the computation of `x`: ptxas
    // does not move a wait above an mbarrier arrival, and this one depends on x. It never
    // happens (x is a row sum, never negative, and NaN fails the test too).
    __device__ __forceinline__ void wait_after(float x) const {
        if (x < 0.0f) mbar_arrive(&ring.bars->never);
    }
    __device__ __forceinline__ void release_v(int block) const {
        release(&ring.bars->v_empty[slot(block)]);
    }

    // Issues S = Q K_block^T once K has landed (committed as one wgmma group).
    __device__ __forceinline__ void issue_qk(float (&s)[S_REGS], int block) const {
        const int k_slot = slot(block);
        mbar_wait(&ring.bars->k_full[k_slot], parity(block));
        const unsigned long long desc_k = desc_k0 + desc_offset(k_slot * TILE_BYTES);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < K_STEPS_QK; ++kk)
            wg::wgmma_ss(s, desc_q + desc_offset((kk >> 2) * (BLOCK_M * 128) + (kk & 3) * 32),
                         desc_k + desc_offset((kk >> 2) * (BLOCK_N * 128) + (kk & 3) * 32), kk);
        wgmma_commit();
    }

    // Issues O += P V_block once V has landed.
    __device__ __forceinline__ void issue_pv(float (&o)[O_REGS], unsigned (&p)[K_STEPS_PV][4],
                                             int block) const {
        const int v_slot = slot(block);
        mbar_wait(&ring.bars->v_full[v_slot], parity(block));
        const unsigned long long desc_v = desc_v0 + desc_offset(v_slot * TILE_BYTES);
        wgmma_fence();
#pragma unroll
        for (int t = 0; t < K_STEPS_PV; ++t)
            wg::wgmma_rs(o, p[t], desc_v + desc_offset(t * 2048));
        wgmma_commit();
    }

    // Hand a block's K or V back unread (its keys are all masked for this warpgroup's rows).
    // Waiting for the data first keeps each slot's arrivals in phase order.
    __device__ __forceinline__ void pass_k(int block) const {
        mbar_wait(&ring.bars->k_full[slot(block)], parity(block));
        release_k(block);
    }
    __device__ __forceinline__ void pass_v(int block) const {
        mbar_wait(&ring.bars->v_full[slot(block)], parity(block));
        release_v(block);
    }

    // Ping-pong: wait for this warpgroup's turn at the tensor cores / hand the turn over to
    // the next consumer, round robin. CARRY_TURNS 0: the last consumer gives the first turn
    // away as each tile begins, so it skips the tile's last hand-over and every barrier ends
    // the tile balanced; the first consumer's next tile then waits for the last one's epilogue.
    // CARRY_TURNS 1 (FA3): the first turn is given once per CTA and every consumer takes the
    // same number of turns a tile, so the round robin runs on across tiles, and the first
    // consumer starts its next tile under the others' epilogues. The CTA's very last hand-over
    // is left pending on a barrier no one waits at again (as FA3's).
    __device__ __forceinline__ void turn_end(bool last) const {
        if (PINGPONG && (CARRY_TURNS || !(last && cwg == NUM_WG - 1)))
            named_arrive(1 + (cwg + 1) % NUM_WG);
    }
    __device__ __forceinline__ void turn_begin() const {
        if (PINGPONG) named_sync(1 + cwg);
    }
};

// avo:end consumer_gemms
}  // namespace

// avo:region setup: the kernel entry: the persistent walk, the shared-memory carve-up, barrier init
extern "C" __global__ void __launch_bounds__(NUM_THREADS, 1)
avo_attention_fwd(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                  const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int batch,
                  int heads_q, int heads_kv, int seq_len, int head_dim, int causal, float scale,
                  const __grid_constant__ CUtensorMap tma_q,
                  const __grid_constant__ CUtensorMap tma_k,
                  const __grid_constant__ CUtensorMap tma_v,
                  const __grid_constant__ CUtensorMap tma_o,
                  unsigned *__restrict__ tile_counter) {
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    (void)q, (void)k, (void)v, (void)batch, (void)head_dim;  // tiles come by TMA; D by contract

    const int tid = threadIdx.x;
    // Made warp-uniform, so that ptxas keeps the Q descriptors in uniform registers (FA4's
    // make_warp_uniform): 127 fewer instructions in the d=128 main loop, +3-4% (RESULTS.md).
    const int warpgroup = __shfl_sync(0xffffffffu, tid >> 7, 0);
    const int m_blocks = (seq_len + BLOCK_M - 1) / BLOCK_M;
    const int tiles = m_blocks * heads_q * batch;
    // PERSISTENT: a CTA per SM at most, its ring and barriers running on from one tile to the
    // next. PERSISTENT 1: in each round every CTA takes one tile of tile_of's order, forward on
    // even rounds and backward on odd ones (a snake: the CTAs that took a round's longest tiles
    // take the next round's shortest). That evens out a sorted order, but TILE_ORDER 1's causal
    // lengths repeat group by group, and the SMs end 6-9% apart where the hardware's assignment
    // of a CTA per tile keeps them within 1% (benchmarks/persistent_balance.py). PERSISTENT 2:
    // each CTA's first tile is its own, and every next one the scratch counter's, drawn by the
    // producer as it starts a tile's loads and handed to the consumers with the tile's Q
    // (Barriers::tile), so a CTA that finishes early takes the next tile in tile_of's order, as
    // the hardware hands out CTAs. Else a CTA per tile: one round.
    // MULTICAST: the walk (or the draw) is over pairs of tiles, a pair to a cluster, rank r
    // taking its tile r.
    // The two share each K and V tile where both tiles of every pair read the same keys:
    // without causal, neighbouring query blocks of a head (a head's count of them even); under
    // causal, one query block of two heads that read one K/V head (TILE_ORDER 1's groups).
    const unsigned rank = MULTICAST ? cluster_rank() : 0;
    // UNSHARED: never, each CTA copying both halves for itself (the pair still drawn together),
    // by a test the compiler cannot fold (heads_kv is never 0), so the code stays rung 3b's
    // (folded, the producer spills) and only the branch taken differs.
    const bool shared =
        MULTICAST && !(UNSHARED && heads_kv > 0) && (causal ? causal_group(seq_len) >= 2 && (heads_q / heads_kv) % 2 == 0
                             : m_blocks % 2 == 0);
    const int units = MULTICAST ? (tiles + 1) / 2 : tiles;
    const int unit_id = MULTICAST ? (int)blockIdx.x / 2 : (int)blockIdx.x;
    const int ctas = MULTICAST ? (int)gridDim.x / 2 : PERSISTENT ? (int)gridDim.x : tiles;
    const int rounds = (units + ctas - 1) / ctas;
    auto walk = [&](int round) {
        const int unit = round * ctas + ((round & 1) ? ctas - 1 - unit_id : unit_id);
        return MULTICAST ? 2 * unit + (int)rank : unit;
    };

    // Swizzled tiles need 1024-byte alignment, which the dynamic window does not promise.
    unsigned char *smem = smem_raw + ((1024 - smem_addr(smem_raw) % 1024) % 1024);
    const unsigned s_q = smem_addr(smem);
    // O_BUFFER: O is staged in rows of its own after the ring, so Q's are free for the next tile
    // as soon as the GEMMs are done; else in Q's rows.
    unsigned char *const o_stage = O_BUFFER ? smem + Q_BYTES + 2 * STAGES * TILE_BYTES : smem;
    Barriers *bars =
        reinterpret_cast<Barriers *>(smem + (1 + O_BUFFER) * Q_BYTES + 2 * STAGES * TILE_BYTES);
    // where a release's second arrival goes (Ring::peer)
    const unsigned second = shared ? rank ^ 1 : rank;
    const unsigned peer =
        MULTICAST && PEER_ARRIVE ? mapa(smem_addr(bars), second) - smem_addr(bars) : 0u;
    const Ring ring{bars, s_q + Q_BYTES, s_q + Q_BYTES + STAGES * TILE_BYTES, &tma_k, &tma_v,
                    rank, shared, peer};

    if (tid == 0) {
        mbar_init(&bars->q_full, 1);
        mbar_init(&bars->q_empty, 4 * NUM_WG);  // one arrival per consumer warp
        if (PERSISTENT == 2) bars->counter = tile_counter;
        for (int s = 0; s < STAGES; ++s) {
            mbar_init(&bars->k_full[s], 1);
            mbar_init(&bars->v_full[s], 1);
            mbar_init(&bars->k_empty[s], RELEASES * NUM_WG * (1 + MULTICAST));
            mbar_init(&bars->v_empty[s], RELEASES * NUM_WG * (1 + MULTICAST));
        }
        if (MULTICAST && PERSISTENT == 2) {
            mbar_init(&bars->pair_full, 1);
            mbar_init(&bars->pair_free, 1);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    // MULTICAST: the peer's barriers are ready before either CTA arrives on them or copies in
    if (MULTICAST)
        cluster_sync();
    else
        __syncthreads();

    // Thread 0 issues every copy: the producer's first thread, or else the first consumer's.
    const bool copier = tid == 0;
    auto load_q = [&](int q0, int head, int b) {
        mbar_expect_tx(&bars->q_full, Q_BYTES);
        tma_load_tile<BLOCK_M, L2Priority::evict_first>(s_q, &tma_q, &bars->q_full, q0, head, b);
    };
// avo:end setup
    // avo:region producer: the producer warpgroup: setmaxnreg.dec, tensormap prefetch, the tile draw (dynamic scheduler), Q, K and V loads per tile
    if (WARP_SPECIALIZE && warpgroup == 0) {
        if (NUM_WG > 1) asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(PRODUCER_REGS));
        if (copier) {
            for (const CUtensorMap *map : {&tma_q, &tma_k, &tma_v, &tma_o})
                asm volatile("prefetch.tensormap [%0];\n" ::"l"(
                                 reinterpret_cast<unsigned long long>(map))
                             : "memory");
            int base = 0;  // the ring's running block count
            int done = 0;  // tiles loaded
            int index = blockIdx.x;  // MULTICAST: a cluster's CTAs are neighbours in x
            // PERSISTENT 2: the next tile, from the scratch counter. MULTICAST: rank 0 draws
            // the cluster's next pair and hands it to rank 1 (each takes its own of the two).
            auto draw = [&](int round) {
                volatile int *drawn = reinterpret_cast<volatile int *>(&bars->drawn);
                unsigned *counter = *reinterpret_cast<unsigned *volatile *>(&bars->counter);
                if (!MULTICAST) {
                    *drawn = gridDim.x + (int)atomicAdd(counter, 1u);
                } else if (rank == 0) {
                    const int first = 2 * ((int)gridDim.x / 2 + (int)atomicAdd(counter, 1u));
                    *drawn = first;
                    if (round > 0) mbar_wait_cluster_acquire(&bars->pair_free, (round - 1) & 1);
                    st_peer(&bars->pair_tile, 1, first);
                    mbar_arrive_cluster_release(&bars->pair_full, 1);
                } else {
                    mbar_wait_cluster_acquire(&bars->pair_full, round & 1);
                    *drawn = *reinterpret_cast<volatile int *>(&bars->pair_tile) + 1;
                    mbar_arrive_cluster_release(&bars->pair_free, 0);
                }
            };
            for (int round = 0;; ++round) {
                if (PERSISTENT == 2 && !MULTICAST) {
                    if (done > 0) index = *reinterpret_cast<volatile int *>(&bars->drawn);
                    if (index >= tiles) break;
                } else if (PERSISTENT == 2) {
                    if (round > 0) index = *reinterpret_cast<volatile int *>(&bars->drawn);
                    if (index - (int)rank >= tiles) break;  // rank 1 leaves with rank 0
                    if (index >= tiles) {  // rank 1 of an odd count's last pair: no tile
                        draw(round);
                        continue;
                    }
                } else {
                    if (round >= rounds) break;
                    index = walk(round);
                    if (index >= tiles) continue;  // the last round is short
                }
                const Tile t = tile_of(index, m_blocks, heads_q, heads_kv, tiles, seq_len, causal);
                // read by the consumers once q_full passes: the arrival releases this store
                if (PERSISTENT == 2) bars->tile[done & 1] = t;
                const int q0 = t.m_block * BLOCK_M;
                const int kv_len = causal ? min(seq_len, q0 + BLOCK_M) : seq_len;
                const int n_blocks = (kv_len + BLOCK_N - 1) / BLOCK_N;
                const int kv_head = t.kv_head;
                // After the first tile, the next tile's first K and V go in as soon as their
                // slots free, while the consumers finish this one; its Q once every consumer
                // warp is done with the rows (their epilogue stages O there). Q_RELEASE 1
                // (FA3's order): only the first K goes ahead of Q, which then waits for the
                // current tile's last S rather than for V slots its last P V still holds.
                const int early = done == 0 ? 0 : q_release(causal) ? 1 : min(STAGES, n_blocks);
                if (q_release(causal)) {
                    if (early) ring.load_k(base, key_block(0, n_blocks, causal), kv_head, t.b);
                } else {
                    for (int block = 0; block < early; ++block)
                        ring.load(base + block, key_block(block, n_blocks, causal), kv_head, t.b);
                }
                if (done > 0) mbar_wait(&bars->q_empty, (done - 1) & 1);
                load_q(q0, t.head, t.b);
                if (q_release(causal) && early)
                    ring.load_v(base, key_block(0, n_blocks, causal), kv_head, t.b);
                // DRAW_AHEAD: the next tile drawn now, a whole tile before it is needed, so the
                // pair's hand-over (an atomic, then a store and an arrival across the cluster)
                // is hidden even where the slots' slack is not.
                if (PERSISTENT == 2 && DRAW_AHEAD) draw(round);
                for (int block = early; block < n_blocks; ++block)
                    ring.load(base + block, key_block(block, n_blocks, causal), kv_head, t.b);
                base += n_blocks;
                ++done;
                // Drawn once this tile's loads are all issued: the next tile's first loads wait
                // for slots this tile still holds, longer than the atomic takes.
                if (PERSISTENT == 2 && !DRAW_AHEAD) draw(round);
            }
            if (PERSISTENT == 2) {  // no tile left: said on q_full, after the last one's Q is free
                if (done > 0) mbar_wait(&bars->q_empty, (done - 1) & 1);
                bars->tile[done & 1].m_block = -1;
                mbar_arrive(&bars->q_full);
            }
        }
        // MULTICAST: neither CTA leaves while the other may still arrive on its barriers
        if (MULTICAST) {
            __syncwarp();
            cluster_sync();
        }
        return;
    }
    // avo:end producer
    if (WARP_SPECIALIZE && NUM_WG > 1)
        asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(CONSUMER_REGS));

    // avo:region kv_loop: the consumers: setmaxnreg.inc, per tile: Q wait, O, row max and row sum init, the loop over key blocks (masked and unmasked, OVERLAP, PINGPONG), causal skipping
    // ---- consumers ----
    const int cwg = warpgroup - WARP_SPECIALIZE;
    const int wtid = tid & 127;
    const int lane = tid & 31;
    const int warp = wtid >> 5;  // 16 of the warpgroup's rows
    Consumer c{ring,
               cwg,
               wtid,
               !WARP_SPECIALIZE && copier,
               make_desc(s_q + cwg * 64 * 128, 16),
               make_desc(ring.k_tiles, 16),
               make_desc(ring.v_tiles, BLOCK_N * 128)};

    if (PINGPONG && CARRY_TURNS && cwg == NUM_WG - 1) named_arrive(1);
    for (int round = 0, done = 0;; ++round) {
        Tile tile;
        if (PERSISTENT == 2) {  // the producer names the tile with its Q
            mbar_wait(&bars->q_full, done & 1);
            const volatile Tile &named = bars->tile[done & 1];
            tile = {named.m_block, named.head, named.b, named.kv_head};
            if (tile.m_block < 0) break;
        } else {
            if (round >= rounds) break;
            const int index = walk(round);
            if (index >= tiles) continue;  // the last round is short
            tile = tile_of(index, m_blocks, heads_q, heads_kv, tiles, seq_len, causal);
        }
        const int head = tile.head, b = tile.b, kv_head = tile.kv_head;
        const int q0 = tile.m_block * BLOCK_M;
        const int kv_len = causal ? min(seq_len, q0 + BLOCK_M) : seq_len;
        const int n_blocks = (kv_len + BLOCK_N - 1) / BLOCK_N;
        if (!WARP_SPECIALIZE && copier) {
            load_q(q0, head, b);
            for (int block = 0; block < STAGES - 1 && block < n_blocks; ++block)
                ring.load(c.base + block, key_block(block, n_blocks, causal), kv_head, b);
        }
        __syncwarp();  // the copier's warp meets again before warp-aligned wgmma instructions

        float acc[O_REGS];
#pragma unroll
        for (int i = 0; i < O_REGS; ++i) acc[i] = 0.0f;
        float row_max[2] = {neg_inf(), neg_inf()};
        float row_sum[2] = {0.0f, 0.0f};
        float alpha[2];
        float s[S_REGS];
        unsigned p[K_STEPS_PV][4];

        const float scale_log2 = scale * 1.4426950408889634f;
        const int warp_row0 = q0 + cwg * 64 + warp * 16;  // first query row of this warp
        // `block` counts the tile's blocks in ring order; key_block says which keys it holds.
        auto mask = [&](int block) {
            const int key0 = key_block(block, n_blocks, causal) * BLOCK_N;
            if (key0 + BLOCK_N > seq_len || (causal && key0 + BLOCK_N - 1 > warp_row0))
                mask_block(s, warp_row0, key0, seq_len, causal, lane);
        };
        // Key blocks 0 .. full_blocks - 1 need no mask for any row of this warpgroup. The main
        // loops run those apart from the rest, so that their body has no mask code: ptxas turns
        // the mask's branch into selects executed on every block (~200 of the d=128 loop's 670
        // instructions).
        const int wg_row0 = q0 + cwg * 64;
        const int full_blocks = max(0, min(seq_len / BLOCK_N,
                                           causal ? (wg_row0 + 1) / BLOCK_N : seq_len / BLOCK_N));

        if (PERSISTENT != 2) mbar_wait(&bars->q_full, done & 1);
        // the first consumer takes the tile's first turn (CARRY_TURNS: the CTA's, given above)
        if (PINGPONG && !CARRY_TURNS && cwg == NUM_WG - 1) named_arrive(1);

        // This warpgroup's own trip count: causal, the blocks up to its last row's diagonal; rows
        // all past the end need none. (A warpgroup-uniform branch around the wgmmas would do the
        // same, but then ptxas serializes them: C7518 / C7512. Loops of their own do not.)
        const int wg_blocks = wg_row0 >= seq_len ? 0
                              : causal ? min(n_blocks, (wg_row0 + 64 + BLOCK_N - 1) / BLOCK_N)
                                       : n_blocks;
        // The warpgroup computes ring blocks first .. end - 1 (key blocks 0 .. own - 1) and
        // passes the others, which come after those or, walking the diagonal first, before.
        // `split` divides its masked blocks from the rest: the masked ones are last or first.
        const bool reverse = diagonal_first(causal);
        auto own_span = [&](int own, int &first, int &end, int &split) {
            first = reverse ? n_blocks - own : 0;
            end = first + own;
            split = reverse ? n_blocks - full_blocks : min(full_blocks, end);
        };
        int first, end, split;

        if (OVERLAP) {
            // S(0) alone, then per block: S(j) and P(j-1) V(j-1) in flight together, softmax of
            // S(j) while P V runs; O is rescaled for P(j-1) while S(j) runs, just before P(j-1) V
            // is issued (as FA3 does: +1.2% on mha, benchmarks/RESULTS.md); the last P V alone.
            // (Waiting for K and V before the turn instead of inside it cost 4%: a consumer that
            // takes its turn only with its data in hand lets the two drift apart.)
            // A warpgroup computes its own blocks (at least one, which the prologue needs) and
            // walks the rest of the ring in step with the others: the same turns, each slot
            // handed back where a computing warpgroup would release it. Its turns cost the tensor
            // pipe nothing, so the other consumers' GEMMs run sooner (causal rows below the
            // diagonal, and the rows past the end of the last query block).
            own_span(max(1, wg_blocks), first, end, split);
            // Turn j of the others issues S(j) and P(j-1) V(j-1); this one hands K(j) and V(j-1)
            // back instead.
            for (int block = 0; block < first; ++block) {
                c.turn_begin();
                c.turn_end(false);
                c.pass_k(block);
                if (block > 0) c.pass_v(block - 1);
            }
            bool grew = false;  // whether O needs `alpha` before the next P V
            c.turn_begin();
            c.issue_qk(s, first);
            c.turn_end(false);
            wgmma_wait<0>();
            pin(s);
            c.release_k(first);
            if (first > 0) c.pass_v(first - 1);
            mask(first);
            softmax_step<true>(s, row_max, row_sum, alpha, scale_log2);  // O is still zero
            pack_p(p, s);
            auto step = [&](int block, bool masked) {
                pin(p);
                pin(acc);
                c.turn_begin();
                c.issue_qk(s, block);
                if (grew) rescale(acc, alpha);
                c.issue_pv(acc, p, block - 1);
                c.turn_end(false);
                // Where P V is waited for. ptxas puts the wait right after the last arrival
                // before it, and it interleaves P's packing, which needs the wait, with the
                // exponentials: with PV_WAIT 0 it lands after 0 to 18 of the 66, as edits
                // elsewhere move it. 1: before the softmax, V's slot freed at once. 2: after
                // all of it (ptxas then moves K's arrival there too). 3: below.
                if (PV_WAIT == 1)
                    wgmma_wait<0>();
                else
                    wgmma_wait<1>();
                pin(s);
                c.release_k(block);
                auto release_v = [&] {
                    pin(acc);
                    pin(p);
                    c.release_v(block - 1);
                };
                if (PV_WAIT == 1) release_v();
                if (masked) mask(block);
                float held = 0.0f;
                grew = masked ? softmax_step<true>(s, row_max, row_sum, alpha, scale_log2, &held)
                              : softmax_step<false>(s, row_max, row_sum, alpha, scale_log2, &held);
                if (PV_WAIT == 2) c.wait_after(row_sum[0] + row_sum[1]);
                // 3: after PV_HOLD exponentials at least (ptxas puts it no higher than an
                // arrival that needs them; it moved to 4 and 7 of 66 in the multicast builds)
                if (PV_WAIT == 3) c.wait_after(held);
                if (PV_WAIT != 1) {
                    wgmma_wait<0>();
                    release_v();
                }
                pack_p(p, s);
            };
            int block = first + 1;
            if (reverse)
                for (; block < split; ++block) step(block, true);
            for (; block < (reverse ? end : split); ++block) step(block, false);
            if (DIAGONAL_FIRST != 1)  // walking back it never runs, yet ptxas kept its 720
                for (; block < end; ++block) step(block, true);
            // Q_RELEASE 1 (FA3): the tile's last S is in, so Q's rows are free and the next
            // tile's Q loads under this tile's last P V and epilogue (the producer issues it
            // right after the next tile's first K).
            if (q_release(causal)) {  // each warp's one arrival
                __syncwarp();
                if (lane == 0) mbar_arrive(&bars->q_empty);
            }
            pin(p);
            pin(acc);
            c.turn_begin();
            if (grew) rescale(acc, alpha);
            c.issue_pv(acc, p, end - 1);
            c.turn_end(end == n_blocks);
            wgmma_wait<0>();
            pin(acc);
            pin(p);
            c.release_v(end - 1);
            // The last turn (j = n_blocks) has only V.
            if (end < n_blocks) c.pass_k(end);
            for (block = end + 1; block <= n_blocks; ++block) {
                c.turn_begin();
                c.turn_end(block == n_blocks);
                if (block < n_blocks) c.pass_k(block);
                c.pass_v(block - 1);
            }
        } else {
            // Without a producer, refill the slot every consumer is done with (while S runs).
            auto refill = [&](int block) {
                const int next = block + STAGES - 1;
                if (c.issuer && next < n_blocks)
                    ring.load(c.base + next, key_block(next, n_blocks, causal), kv_head, b);
                __syncwarp();
            };
            auto pass = [&](int block) {
                refill(block);
                c.pass_k(block);
                c.pass_v(block);
            };
            auto step = [&](int block, bool masked) {
                c.issue_qk(s, block);
                refill(block);
                wgmma_wait<0>();
                pin(s);
                c.release_k(block);
                if (masked) mask(block);
                const bool grew =
                    masked ? softmax_step<true>(s, row_max, row_sum, alpha, scale_log2)
                           : softmax_step<false>(s, row_max, row_sum, alpha, scale_log2);
                if (grew) rescale(acc, alpha);
                pack_p(p, s);
                pin(p);
                pin(acc);
                c.issue_pv(acc, p, block);
                wgmma_wait<0>();
                pin(acc);
                pin(p);
                c.release_v(block);
            };
            own_span(wg_blocks, first, end, split);
            int block = 0;
            for (; block < first; ++block) pass(block);
            if (reverse)
                for (; block < split; ++block) step(block, true);
            for (; block < (reverse ? end : split); ++block) step(block, false);
            if (DIAGONAL_FIRST != 1)  // walking back it never runs, yet ptxas kept its 720
                for (; block < end; ++block) step(block, true);
            for (; block < n_blocks; ++block) pass(block);
        }

    // avo:end kv_loop
        // avo:region epilogue: per tile: O / l, stage_rows, the global or TMA store of O, Q released for the next tile
        // Epilogue: O / l in bf16, staged in this warp's own 16 rows (of Q, or of O_BUFFER), then
        // 16-byte global stores (or, with O_STORE_TMA, a TMA store of them). With O_BUFFER, this
        // warp's GEMMs are done with Q's rows already.
        const int tile_row0 = cwg * 64 + warp * 16;  // first row of this warp inside the Q tile
        __syncwarp();
        if (O_BUFFER && !q_release(causal) && lane == 0) mbar_arrive(&bars->q_empty);
        if (O_STORE_TMA) {  // the last tile's store has read this warp's rows before they refill
            if (lane == 0) tma_store_wait<true>();
            __syncwarp();
        }
        float inv[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float l = row_sum[h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            // l >= 1 for a row with any key (its maximum adds 2^0): the fast reciprocal, not
            // the IEEE division's slow path
            inv[h] = l > 0.0f ? __fdividef(1.0f, l) : 0.0f;
        }
        stage_rows(acc, inv, smem_addr(o_stage), tile_row0, lane);
        const size_t q_offset = (((size_t)b * heads_q + head) * seq_len + q0) * HEAD_DIM;
        __nv_bfloat16 *out = o + q_offset + (size_t)tile_row0 * HEAD_DIM;
        if (O_STORE_TMA) {
            // each thread's staged writes (generic proxy) before the TMA's reads (async proxy)
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncwarp();
            if (lane == 0)
                tma_store_rows<BLOCK_M>(&tma_o, smem_addr(o_stage) + tile_row0 * 128,
                                        q0 + tile_row0, head, b);
        } else {
            __syncwarp();
            store_rows(out, o_stage, tile_row0, seq_len - warp_row0, lane);
        }
#if AVO_EXTRA_WORK > 0
        if (lane == 0) {
            float x = acc[0];
            for (int i = 0; i < AVO_EXTRA_WORK * n_blocks / 8; ++i) x = fmaf(x, 0.999f, 1e-3f);
            // Never true (no FMA makes this NaN), but the chain cannot be proven dead.
            if (__float_as_uint(x) == 0x7fc00001u) out[0] = __float2bfloat16(x);
        }
#endif
        // Without O_BUFFER, Q's rows are free for the next tile once every warp has read its
        // staged O back. The staging wrote them through the generic proxy and the next Q comes by
        // TMA (the async proxy): each thread's writes are ordered before that copy by a proxy
        // fence.
        if (!O_BUFFER) {
            if (PERSISTENT) asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncwarp();
            if (lane == 0) mbar_arrive(&bars->q_empty);
        }
        c.base += n_blocks;
        // avo:end epilogue
        ++done;
    }
    // The shared memory of the last stores stays the CTA's until they have read it.
    if (O_STORE_TMA && lane == 0) tma_store_wait<false>();
    if (MULTICAST) cluster_sync();  // as the producer's, above
}
