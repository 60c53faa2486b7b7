/*
 * Attention backward, FlashAttention-2's order, for every GPU from sm_80 on, compiled with NVRTC:
 * the portable seed of mha-bwd and gqa-bwd.
 *
 * Contract (avo_tui/evaluation/problems/attention_backward.py): q, o, dout and dq are [batch,
 * heads_q, seq_len, head_dim], k, v, dk and dv [batch, heads_kv, seq_len, head_dim], contiguous
 * bf16; lse is [batch, heads_q, seq_len] float32, the forward's NATURAL log-sum-exp of each row's
 * scaled logits. Query head h reads key/value head h / (heads_q / heads_kv); dk and dv sum over
 * the heads_q / heads_kv query heads that share a key/value head. Any seq_len >= 1; with causal,
 * query i sees keys 0..i. head_dim == AVO_HEAD_DIM, set by the harness.
 *
 *   P = exp(scale * Q K^T - lse)   (masked entries 0),   D = rowsum(dO * O)
 *   dV = P^T dO,   dP = dO V^T,   dS = P * (dP - D),   dK = scale * dS^T Q,   dQ = scale * dS K
 *
 * How dQ is accumulated, two ways (DQ_ATOMIC). FA2 adds each key block's dQ share into an fp32
 * buffer with atomics and converts it to bf16 in a second kernel; a seed has one launch.
 *  - DQ_ATOMIC 0 (the file's default, correct on every GPU from sm_80 on): FA2's alternative, a
 *    second pass. CTAs of a second kind own a block of queries and loop over the key blocks,
 *    recomputing S, P, dP and dS, and accumulate dQ in registers. No atomics, no cross-CTA
 *    ordering, a deterministic result; the price is two products recomputed (seven, not five).
 *  - DQ_ATOMIC 1 (the seed on sm_90a, targets/mha_bwd.py): the dK/dV CTAs alone. Each step also
 *    stages dS^T in shared memory (over the step's O tile, free once D is summed) and computes
 *    the block's dQ share, dS K, split over the warps; the share is added into fp32 sums in the
 *    launch's scratch (zeroed before the launch), on sm_90 and later by one bulk reduction
 *    (cp.reduce.async.bulk) from shared memory a step, before that by atomics. The last CTA of
 *    a (batch, key/value head) to finish, told by an arrival counter behind fences, converts its
 *    group's sums to bf16 dq. Five products; the sums' order of addition varies from run to run.
 *    Under causal masking its CTAs take every head's first key block first (the longest).
 *
 * Grid (ceil_div(S, OWN_ROWS), HKV + HQ, B), or (ceil_div(S, OWN_ROWS), HKV, B) with DQ_ATOMIC:
 *  - blockIdx.y < HKV: a dK/dV CTA. It owns OWN_ROWS = 16 * NUM_WARPS keys of one (batch,
 *    key/value head), 16 per warp, and loops over every query head of its group and every query
 *    block of STEP_Q rows that its keys can see (under causal, from the block holding query k0
 *    on). Per step: S^T = K Q^T and dP^T = V dO^T (each warp's own 16 keys as the A operand),
 *    P^T, dS^T, then dV += P^T dO and dK += dS^T Q with the P^T and dS^T accumulators as A
 *    fragments (no trip through shared memory). dK and dV are written once, as bf16.
 *    These CTAs come first in launch order, since they carry more work (four products, and a
 *    whole GQA group).
 *  - blockIdx.y >= HKV: a dQ CTA. It owns OWN_ROWS queries of one (batch, query head), 16 per
 *    warp, and loops over key blocks of STEP_K keys: S = Q K^T, dP = dO V^T, dS, dQ += dS K.
 *    blockIdx.x is walked backwards so that, under causal masking, the longest blocks start first.
 *  - D and lse * log2(e) of a query block are computed in fp32 (16 lanes per row, a shuffle
 *    reduction) by the CTA that needs them, into a small shared array. A dQ CTA reads its rows'
 *    dO and O straight from global memory, once. A dK/dV CTA needs them for every query block
 *    it visits, so the ring stages each block's O rows and lse beside its Q and dO tiles, by
 *    cp.async like them, and D is summed from shared memory once the step has landed, behind a
 *    second barrier: read from global memory inside the loop, one row after another, their
 *    latency stalled every warp of the step (the ring made the seed 1.26x faster on an H200,
 *    benchmarks/RESULTS.md, issue 91).
 *  - Every element is masked explicitly (key past seq_len, query past seq_len, key after query
 *    under causal) to P = 0 before it enters any product; rows past seq_len are zero-filled by
 *    cp.async, so no NaN can come from them. A warp whose keys (or queries) lie wholly past the
 *    sequence or wholly on the masked side of the diagonal skips the step's products (its
 *    share is zero) but still takes part in every barrier.
 *  - Tiles stream through a ring of STAGES shared buffers filled by 16-byte cp.async, XOR
 *    swizzled (chunk c of row r at c ^ (r & 7)), one barrier per step (two in a dK/dV CTA,
 *    whose D is summed between them): the forward's seed
 *    (attention_fwd.cu) and its ldmatrix patterns, whose helpers are copied here.
 *
 * Knobs: NUM_WARPS sets OWN_ROWS (64 or 128 rows per CTA); STEP_Q and STEP_K the queries and
 * keys per step; STAGES the ring depth; MIN_BLOCKS the occupancy the compiler is asked for;
 * DQ_ATOMIC how dQ is summed (above; with it OWN_ROWS may not pass the head dim, as dS^T takes
 * an O tile). Every value keeps the kernel correct on every sequence length. The defaults (8 warps, 64
 * queries a step, one CTA an SM) spill a few bytes at head dim 128, where 4 warps, 16 queries
 * and two CTAs do not; they measured 1.27x faster on an H200 all the same (targets/mha_bwd.py).
 */
#include <cuda_bf16.h>

#ifndef AVO_HEAD_DIM
#error "AVO_HEAD_DIM (64 or 128) must be defined by the harness"
#endif

#define NUM_WARPS 8     // avo:knob 4 8
#define STEP_Q 64       // avo:knob 16 32 64
#define STEP_K 64       // avo:knob 32 64 128
#define STAGES 2        // avo:knob 2 3
#define MIN_BLOCKS 1    // avo:knob 1 2
#define DQ_ATOMIC 0     // avo:knob 0 1
// avo:require NUM_WARPS * MIN_BLOCKS <= 8

#define NUM_THREADS (NUM_WARPS * 32)
#define OWN_ROWS (16 * NUM_WARPS)
#define KV_SMEM ((2 * OWN_ROWS + 3 * STAGES * STEP_Q) * AVO_HEAD_DIM * 2 + (STAGES + 2) * STEP_Q * 4)
#define DQ_SMEM ((2 * OWN_ROWS + 2 * STAGES * STEP_K) * AVO_HEAD_DIM * 2 + 2 * OWN_ROWS * 4)
// The fp32 dQ sums, [batch, heads_q, seq_len, head_dim] (each row's columns permuted: see
// sum_column), then one arrival counter per (batch, key/value head).
#define DQ_SCRATCH (B * HQ * S * D * 4 + B * HKV * 4)
// avo:require max(KV_SMEM, DQ_SMEM) <= 232448
// avo:require DQ_ATOMIC * OWN_ROWS <= AVO_HEAD_DIM
// avo:launch grid=(ceil_div(S, OWN_ROWS), HKV + (0 if DQ_ATOMIC else HQ), B) block=(NUM_THREADS,) smem=(KV_SMEM if DQ_ATOMIC else max(KV_SMEM, DQ_SMEM)) scratch=(DQ_SCRATCH if DQ_ATOMIC else 0)

namespace {

constexpr int HEAD_DIM = AVO_HEAD_DIM;
constexpr int ROW_BYTES = HEAD_DIM * 2;   // one row of a tile in shared memory
constexpr int CHUNKS = HEAD_DIM / 8;      // 16-byte chunks per row
constexpr int D_TILES = HEAD_DIM / 8;     // n8 tiles of a dK, dV or dQ row block
constexpr int K_STEPS = HEAD_DIM / 16;    // k16 steps of a product over head_dim
constexpr float LOG2E = 1.4426950408889634f;

static_assert(HEAD_DIM == 64 || HEAD_DIM == 128, "head_dim must be 64 or 128");
static_assert(NUM_THREADS % CHUNKS == 0 && (NUM_THREADS / CHUNKS) % 8 == 0,
              "tile loader assumes a fixed chunk and swizzle phase per thread");
static_assert((STEP_Q * CHUNKS) % NUM_THREADS == 0 && (STEP_K * CHUNKS) % NUM_THREADS == 0 &&
                  (OWN_ROWS * CHUNKS) % NUM_THREADS == 0,
              "tiles must split evenly over the threads");
static_assert(STEP_Q % 16 == 0 && STEP_K % 16 == 0, "steps are whole k16 slices");
static_assert(STAGES >= 2, "the ring needs two buffers at least");

__device__ __forceinline__ unsigned smem_addr(const void *p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// ---- cp.async ---------------------------------------------------------------------------

// 16 bytes global -> shared; when !valid nothing is read and the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async_16(unsigned dst, const void *src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(valid ? 16 : 0)
                 : "memory");
}

// 4 bytes global -> shared, zero-filled when !valid (then src is never read).
__device__ __forceinline__ void cp_async_4(unsigned dst, const void *src, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
                 "r"(valid ? 4 : 0)
                 : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int PENDING>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory");
}

// ---- ldmatrix and mma -------------------------------------------------------------------

__device__ __forceinline__ void ldsm_x4(unsigned (&r)[4], unsigned addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldsm_x4_trans(unsigned (&r)[4], unsigned addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// c += a * b for one m16n8k16 tile: a is a 16x16 row-major fragment, b0/b1 a 16x8 column one.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                         unsigned b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

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

// ---- global -> shared tiles ---------------------------------------------------------------

// Byte offset of 16-byte chunk `chunk` of row `row` in a tile, XOR-swizzled by (row & 7).
__device__ __forceinline__ unsigned chunk_offset(int row, int chunk) {
    return row * ROW_BYTES + ((chunk ^ (row & 7)) << 4);
}

// Copies ROWS rows of HEAD_DIM bf16 starting at src into the swizzled tile at dst. Rows at or
// beyond valid_rows are zero-filled (their source address is never read).
template <int ROWS>
__device__ __forceinline__ void load_tile(unsigned dst, const __nv_bfloat16 *src, int valid_rows,
                                          int tid) {
    constexpr int ROW_STEP = NUM_THREADS / CHUNKS;
    constexpr int ITERS = ROWS * CHUNKS / NUM_THREADS;
    const int chunk = tid % CHUNKS;
    const int row0 = tid / CHUNKS;
    const unsigned dst0 = dst + chunk_offset(row0, chunk);
    const __nv_bfloat16 *src0 = src + row0 * HEAD_DIM + chunk * 8;
#pragma unroll
    for (int i = 0; i < ITERS; ++i) {
        const int row = row0 + i * ROW_STEP;
        const bool valid = row < valid_rows;
        cp_async_16(dst0 + i * ROW_STEP * ROW_BYTES, valid ? src0 + i * ROW_STEP * HEAD_DIM : src,
                    valid);
    }
}

// sum += the dot product of two 16-byte chunks of 8 bf16 each, in fp32, in element order.
__device__ __forceinline__ float chunk_dot(const uint4 &a, const uint4 &b, float sum) {
    const __nv_bfloat162 *a2 = reinterpret_cast<const __nv_bfloat162 *>(&a);
    const __nv_bfloat162 *b2 = reinterpret_cast<const __nv_bfloat162 *>(&b);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 x = __bfloat1622float2(a2[i]);
        const float2 y = __bfloat1622float2(b2[i]);
        sum = fmaf(x.x, y.x, sum);
        sum = fmaf(x.y, y.y, sum);
    }
    return sum;
}

// The sum of `sum` over the CHUNKS lanes of a row (aligned groups of lanes).
__device__ __forceinline__ float row_sum(float sum) {
#pragma unroll
    for (int off = CHUNKS / 2; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    return sum;
}

// For ROWS query rows: lse2[r] = lse[r] * log2(e) and d[r] = sum over head_dim of dO * O in
// fp32, read from global memory (CHUNKS lanes per row, reduced by shuffles). Rows at or beyond
// valid_rows get 0 (their products are masked anyway). Every thread runs the same trip count.
template <int ROWS>
__device__ __forceinline__ void row_terms(float *lse2, float *d, const float *lse_rows,
                                          const __nv_bfloat16 *do_rows,
                                          const __nv_bfloat16 *o_rows, int valid_rows, int tid) {
    constexpr int ROW_STEP = NUM_THREADS / CHUNKS;
    static_assert(ROWS % ROW_STEP == 0, "every thread takes the same rows");
    const int chunk = tid % CHUNKS;
#pragma unroll 1  // one row's loads in flight at a time: the dK/dV CTA has no registers to spare
    for (int r = tid / CHUNKS; r < ROWS; r += ROW_STEP) {
        float sum = 0.0f;
        if (r < valid_rows) {
            const uint4 a = *reinterpret_cast<const uint4 *>(do_rows + r * HEAD_DIM + chunk * 8);
            const uint4 b = *reinterpret_cast<const uint4 *>(o_rows + r * HEAD_DIM + chunk * 8);
            sum = chunk_dot(a, b, sum);
        }
        sum = row_sum(sum);
        if (chunk == 0) {
            d[r] = sum;
            lse2[r] = r < valid_rows ? lse_rows[r] * LOG2E : 0.0f;
        }
    }
}

// ---- the products (one warp) ----------------------------------------------------------------

// Lane-specific byte offset, within a row, of the chunk that ldmatrix reads in k16 step kk: the
// step covers chunks (2kk, 2kk+1) and `hi` picks this lane's one; the swizzle phase is lane & 7
// (every row a lane addresses is = lane mod 8), so only 4 XOR patterns exist.
struct ChunkCols {
    unsigned off[4];
    __device__ __forceinline__ ChunkCols(int hi, int phase) {
#pragma unroll
        for (int i = 0; i < 4; ++i) off[i] = ((2 * i + hi) ^ phase) << 4;
    }
    __device__ __forceinline__ unsigned operator()(int kk) const {
        return (kk >> 2) * 128 + off[kk & 3];
    }
};

// acc = A B^T over head_dim: A is the warp's 16 rows at a_lane (A pattern: row lane & 15),
// B the NT * 8 rows of the tile at b_lane (B pattern: row (lane & 7) + 8 * (lane >> 4)).
template <int NT>
__device__ __forceinline__ void gemm_abt(float (&acc)[NT][4], unsigned a_lane, unsigned b_lane,
                                         const ChunkCols &swz_a, const ChunkCols &swz_b) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[nt][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < K_STEPS; ++kk) {
        unsigned a[4];
        ldsm_x4(a, a_lane + swz_a(kk));
#pragma unroll
        for (int np = 0; np < NT / 2; ++np) {
            unsigned b[4];
            ldsm_x4(b, b_lane + np * 16 * ROW_BYTES + swz_b(kk));
            mma_bf16(acc[2 * np], a, b[0], b[1]);
            mma_bf16(acc[2 * np + 1], a, b[2], b[3]);
        }
    }
}

// acc += P B: P the warp's 16 x (NT * 8) accumulators (rounded to bf16 A fragments), B the
// NT * 8 rows of head_dim of the tile at b_lane (read transposed: row lane & 15).
template <int NT>
__device__ __forceinline__ void gemm_pb(float (&acc)[D_TILES][4], const float (&p)[NT][4],
                                        unsigned b_lane, const ChunkCols &swz_a) {
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk) {
        unsigned a[4];
        a[0] = pack_bf16x2(p[2 * kk][0], p[2 * kk][1]);
        a[1] = pack_bf16x2(p[2 * kk][2], p[2 * kk][3]);
        a[2] = pack_bf16x2(p[2 * kk + 1][0], p[2 * kk + 1][1]);
        a[3] = pack_bf16x2(p[2 * kk + 1][2], p[2 * kk + 1][3]);
#pragma unroll
        for (int dp = 0; dp < D_TILES / 2; ++dp) {
            unsigned b[4];
            ldsm_x4_trans(b, b_lane + kk * 16 * ROW_BYTES + swz_a(dp));
            mma_bf16(acc[2 * dp], a, b[0], b[1]);
            mma_bf16(acc[2 * dp + 1], a, b[2], b[3]);
        }
    }
}

// Writes the warp's 16 rows of acc * factor as bf16 to out (rows < valid_rows), staged through
// the warp's own 16 rows of a tile at stage, which no other warp reads.
__device__ __forceinline__ void store_rows(const float (&acc)[D_TILES][4], float factor,
                                           unsigned char *stage, __nv_bfloat16 *out,
                                           int valid_rows, int lane) {
    __syncwarp();
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = (lane >> 2) + h * 8;
#pragma unroll
        for (int dt = 0; dt < D_TILES; ++dt)
            *reinterpret_cast<unsigned *>(stage + chunk_offset(row, dt) + (lane & 3) * 4) =
                pack_bf16x2(acc[dt][2 * h] * factor, acc[dt][2 * h + 1] * factor);
    }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < 16 * CHUNKS / 32; ++i) {
        const int idx = lane + i * 32;
        const int row = idx / CHUNKS;
        const int chunk = idx % CHUNKS;
        if (row < valid_rows)
            *reinterpret_cast<uint4 *>(out + row * HEAD_DIM + chunk * 8) =
                *reinterpret_cast<const uint4 *>(stage + chunk_offset(row, chunk));
    }
}

struct Args {
    const __nv_bfloat16 *q, *k, *v, *o, *dout;
    const float *lse;
    __nv_bfloat16 *dq, *dk, *dv;
    int heads_q, heads_kv, seq_len, causal;
    float scale;
    float *dq_sums;  // DQ_ATOMIC: the fp32 dQ sums, then the arrival counters (scratch)
};

// For ROWS query rows staged in shared memory: lse2[r] = lse[r] * log2(e) and d[r] = sum over
// head_dim of dO * O in fp32, from the swizzled dO and O tiles and the staged lse (CHUNKS lanes
// per row, reduced by shuffles, in row_terms' order, so that D rounds as it does). Rows past the
// sequence were zero-filled, so their terms are 0.
template <int ROWS>
__device__ __forceinline__ void staged_row_terms(float *lse2, float *d, const float *lse_rows,
                                                 const unsigned char *do_tile,
                                                 const unsigned char *o_tile, int tid) {
    constexpr int ROW_STEP = NUM_THREADS / CHUNKS;
    static_assert(ROWS % ROW_STEP == 0, "every thread takes the same rows");
    const int chunk = tid % CHUNKS;
#pragma unroll 1  // dK and dV's accumulators are live here: no registers for more rows
    for (int r = tid / CHUNKS; r < ROWS; r += ROW_STEP) {
        const uint4 a = *reinterpret_cast<const uint4 *>(do_tile + chunk_offset(r, chunk));
        const uint4 b = *reinterpret_cast<const uint4 *>(o_tile + chunk_offset(r, chunk));
        const float sum = row_sum(chunk_dot(a, b, 0.0f));
        if (chunk == 0) {
            d[r] = sum;
            lse2[r] = lse_rows[r] * LOG2E;
        }
    }
}

// ---- dQ by atomics (DQ_ATOMIC) ----------------------------------------------------------------

// The dS^T tile: a row of STEP_Q bf16 per key of the block, in the step's O tile, which is
// free once D is summed and until the next step's load (OWN_ROWS <= HEAD_DIM: it fits). Its
// 16-byte chunks are XOR-swizzled so that ldmatrix's eight rows and a warp's stores each fall
// in distinct banks.
constexpr int DS_CHUNKS = STEP_Q / 8;             // 2, 4 or 8 a row
constexpr int DS_ROWS_PER_PHASE = 8 / DS_CHUNKS;  // consecutive rows that share a swizzle phase
static_assert(!DQ_ATOMIC || OWN_ROWS <= HEAD_DIM, "dS^T must fit in the step's O tile");

// Byte offset of (key, query) in the dS^T tile.
__device__ __forceinline__ unsigned ds_offset(int key, int query) {
    const int chunk = (query >> 3) ^ ((key / DS_ROWS_PER_PHASE) & (DS_CHUNKS - 1));
    return key * STEP_Q * 2 + (chunk << 4) + (query & 7) * 2;
}

// The warp's 16 key rows of dS^T into the tile, as bf16, for every warp's dQ product to read;
// a warp whose keys see none of the step's queries stages zeros (ds == nullptr).
__device__ __forceinline__ void stage_ds(unsigned char *s_ds, const float (*ds)[4], int warp,
                                         int lane) {
#pragma unroll
    for (int nt = 0; nt < STEP_Q / 8; ++nt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int key = warp * 16 + (lane >> 2) + h * 8;
            *reinterpret_cast<unsigned *>(s_ds + ds_offset(key, nt * 8 + (lane & 3) * 2)) =
                ds == nullptr ? 0u : pack_bf16x2(ds[nt][2 * h], ds[nt][2 * h + 1]);
        }
}

// dQ's output tile of a step, STEP_Q queries by HEAD_DIM, in units of 16 x 16: a warp takes
// DQ_UNITS_PER_WARP of them, side by side in one 16-query group.
constexpr int DQ_PAIRS = D_TILES / 2;
constexpr int DQ_UNITS = (STEP_Q / 16) * DQ_PAIRS;
constexpr int DQ_UNITS_PER_WARP = DQ_UNITS / NUM_WARPS;
static_assert(!DQ_ATOMIC || (DQ_UNITS % NUM_WARPS == 0 && DQ_PAIRS % DQ_UNITS_PER_WARP == 0),
              "every warp takes whole units of one query group");
// Where column c of query row r lies in its row of fp32 sums: its 8-float unit XOR (r & 3). A row
// stays one contiguous span (a query block's rows are one span a bulk reduction adds, sm_90 on),
// and a warp's store of a fragment register pair (8 rows, one unit each) falls in distinct banks
// of shared memory, as it would not with rows 512 bytes apart.
__device__ __forceinline__ int sum_column(int r, int c) {
    return (((c >> 3) ^ (r & 3)) << 3) + (c & 7);
}
constexpr bool DQ_BULK =
#if __CUDA_ARCH__ >= 900
    true;
#else
    false;
#endif

__device__ __forceinline__ void bulk_reduce_add(float *dst, unsigned src, int bytes) {
#if __CUDA_ARCH__ >= 900
    asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n"
                 "cp.async.bulk.commit_group;\n" ::"l"(dst), "r"(src), "r"(bytes)
                 : "memory");
#endif
}

// The shared memory a bulk reduction reads may be written again (its reads are done).
__device__ __forceinline__ void bulk_wait_read() {
#if __CUDA_ARCH__ >= 900
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
#endif
}

// Every bulk reduction of this thread has been performed, its writes visible to ordinary loads.
__device__ __forceinline__ void bulk_wait_done() {
#if __CUDA_ARCH__ >= 900
    asm volatile("cp.async.bulk.wait_group 0;\nfence.proxy.async.global;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void add(float *sum, float x, float y) {
#if __CUDA_ARCH__ >= 900
    atomicAdd(reinterpret_cast<float2 *>(sum), make_float2(x, y));
#else
    atomicAdd(sum, x);
    atomicAdd(sum + 1, y);
#endif
}

// This block's share of dQ for the step's queries, dS K over its OWN_ROWS keys (dS read
// transposed from the dS^T tile, K from the block's own K tile), added into the fp32 sums at
// `sums` (the step's first query row). With DQ_BULK every warp writes its fragments into
// `stage` (STEP_Q x HEAD_DIM floats of shared memory that nothing reads until the next step),
// and thread 0 adds the rows before valid_rows (the sequence's end) by one bulk reduction;
// without, each warp adds its own by atomics. A group of 16 rows wholly before skip_rows
// (queries before every key of the block, under causal masking) has no share.
__device__ __forceinline__ void add_dq_share(float *sums, unsigned ds_tile, unsigned k_tile,
                                             float *stage, int valid_rows, int skip_rows,
                                             int tid) {
    constexpr int NU = DQ_UNITS_PER_WARP;
    const int lane = tid & 31, warp = tid >> 5;
    const int unit0 = warp * NU;
    const int row0 = unit0 / DQ_PAIRS * 16;
    const int pair0 = unit0 % DQ_PAIRS;
    const bool none = row0 + 15 < skip_rows;
    float acc[2 * NU][4];
#pragma unroll
    for (int t = 0; t < 2 * NU; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[t][e] = 0.0f;
    if (!none) {
        // A (query rows, key columns) from the [key][query] tile: lane's matrix lane >> 3,
        // whose query half is bit 0 and key half bit 1.
        const unsigned a_lane =
            ds_tile + ds_offset((lane >> 4) * 8 + (lane & 7), row0 + ((lane >> 3) & 1) * 8);
        // B (key rows, head-dim columns) from the swizzled K tile, read as gemm_pb reads.
        const unsigned b_lane = k_tile + (lane & 15) * ROW_BYTES;
        unsigned cols[NU];
#pragma unroll
        for (int j = 0; j < NU; ++j) {
            const int chunk = 2 * (pair0 + j) + (lane >> 4);
            cols[j] = ((chunk & ~7) << 4) + (((chunk & 7) ^ (lane & 7)) << 4);
        }
#pragma unroll
        for (int kk = 0; kk < OWN_ROWS / 16; ++kk) {
            unsigned a[4];
            ldsm_x4_trans(a, a_lane + kk * 16 * STEP_Q * 2);  // 16 rows on: the same phase
#pragma unroll
            for (int j = 0; j < NU; ++j) {
                unsigned b[4];
                ldsm_x4_trans(b, b_lane + kk * 16 * ROW_BYTES + cols[j]);
                mma_bf16(acc[2 * j], a, b[0], b[1]);
                mma_bf16(acc[2 * j + 1], a, b[2], b[3]);
            }
        }
    }
    if (DQ_BULK) {
#pragma unroll
        for (int t = 0; t < 2 * NU; ++t)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int r = row0 + (lane >> 2) + 8 * h;
                const int c = (2 * pair0 + t) * 8 + (lane & 3) * 2;
                *reinterpret_cast<float2 *>(stage + r * HEAD_DIM + sum_column(r, c)) =
                    make_float2(acc[t][2 * h], acc[t][2 * h + 1]);
            }
#if __CUDA_ARCH__ >= 900
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
        __syncthreads();
        if (tid == 0)
            bulk_reduce_add(sums, smem_addr(stage), min(STEP_Q, valid_rows) * HEAD_DIM * 4);
    } else if (!none) {
#pragma unroll
        for (int t = 0; t < 2 * NU; ++t)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int r = row0 + (lane >> 2) + 8 * h;
                const int c = (2 * pair0 + t) * 8 + (lane & 3) * 2;
                if (r < valid_rows)
                    add(sums + r * HEAD_DIM + sum_column(r, c), acc[t][2 * h], acc[t][2 * h + 1]);
            }
    }
}

// Once every block of this (batch, key/value head) has added its shares, the last one to
// arrive writes its group's dQ rows as bf16, scaled: each block's adds are fenced before its
// arrival, and the last block fences after it, so it reads every sum complete (from L2: __ldcg).
__device__ __forceinline__ void finish_dq(const Args &a, int b, int kv_head, int tid) {
    __shared__ bool last;
    const int group = a.heads_q / a.heads_kv;
    const size_t head_sums = (size_t)a.seq_len * HEAD_DIM;
    if (DQ_BULK && tid == 0) bulk_wait_done();
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        unsigned *counts =
            reinterpret_cast<unsigned *>(a.dq_sums + gridDim.z * a.heads_q * head_sums);
        last = atomicAdd(counts + b * a.heads_kv + kv_head, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    const size_t first = ((size_t)b * a.heads_q + kv_head * group) * head_sums;
    const float4 *src = reinterpret_cast<const float4 *>(a.dq_sums + first);
    __nv_bfloat16 *dst = a.dq + first;
    // One block converts the group's sums while the others are done: BATCH loads in flight per
    // thread, all issued before any store (dq might alias the sums, for all the compiler knows).
    constexpr int BATCH = 16;
    constexpr int ROW4 = HEAD_DIM / 4;  // float4s a row
    const int n = group * a.seq_len * ROW4;
    for (int i0 = tid; i0 < n; i0 += BATCH * NUM_THREADS) {
        float4 x[BATCH];
#pragma unroll
        for (int j = 0; j < BATCH; ++j)
            if (i0 + j * NUM_THREADS < n) x[j] = __ldcg(src + i0 + j * NUM_THREADS);
#pragma unroll
        for (int j = 0; j < BATCH; ++j) {
            const int i = i0 + j * NUM_THREADS;
            if (i >= n) continue;
            // the group's rows, head after head; sum_column is its own inverse
            const int row = i / ROW4, c = (i % ROW4) * 4;
            *reinterpret_cast<uint2 *>(dst + row * HEAD_DIM + sum_column(row % a.seq_len, c)) =
                make_uint2(pack_bf16x2(x[j].x * a.scale, x[j].y * a.scale),
                           pack_bf16x2(x[j].z * a.scale, x[j].w * a.scale));
        }
    }
}

// ---- a dK/dV CTA -----------------------------------------------------------------------------

__device__ __forceinline__ void dk_dv_block(const Args &a, unsigned char *smem, int b,
                                            int kv_head, int key_block) {
    constexpr int NT = STEP_Q / 8;
    constexpr int TILE_Q = STEP_Q * ROW_BYTES;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int seq_len = a.seq_len;
    const int group = a.heads_q / a.heads_kv;
    const int k0 = key_block * OWN_ROWS;

    unsigned char *s_k = smem;
    unsigned char *s_v = s_k + OWN_ROWS * ROW_BYTES;
    unsigned char *s_ring = s_v + OWN_ROWS * ROW_BYTES;  // per stage: Q, dO and O tiles
    const unsigned ring = smem_addr(s_ring);
    float *s_lse = reinterpret_cast<float *>(s_ring + STAGES * 3 * TILE_Q);  // per stage
    float *s_lse2 = s_lse + STAGES * STEP_Q;  // the current step's, from its stage
    float *s_d = s_lse2 + STEP_Q;

    const size_t kv_offset = (((size_t)b * a.heads_kv + kv_head) * seq_len + k0) * HEAD_DIM;
    load_tile<OWN_ROWS>(smem_addr(s_k), a.k + kv_offset, seq_len - k0, tid);
    load_tile<OWN_ROWS>(smem_addr(s_v), a.v + kv_offset, seq_len - k0, tid);
    cp_async_commit();

    // Steps: every query head of the group, and in each every query block that a key of this
    // CTA can see (under causal, queries before k0 see none of them).
    const int q_blocks = (seq_len + STEP_Q - 1) / STEP_Q;
    const int first = a.causal ? k0 / STEP_Q : 0;
    const int per_head = q_blocks - first;  // >= 1: k0 < seq_len
    const int steps = group * per_head;
    auto query0 = [&](int step) { return (first + step % per_head) * STEP_Q; };
    auto rows_offset = [&](int step) {
        const int head = kv_head * group + step / per_head;
        return ((size_t)b * a.heads_q + head) * seq_len + query0(step);
    };

    // Loads step `step` into ring slot step % STAGES: its Q, dO and O rows and their lse, all
    // by cp.async, so that no thread waits on global memory in the loop (D and lse2 are
    // computed from the slot once it has landed).
    auto load_step = [&](int step) {
        if (step >= steps) return;
        const int slot = step % STAGES;
        const size_t rows = rows_offset(step);
        const int valid = seq_len - query0(step);
        const unsigned dst = ring + slot * 3 * TILE_Q;
        load_tile<STEP_Q>(dst, a.q + rows * HEAD_DIM, valid, tid);
        load_tile<STEP_Q>(dst + TILE_Q, a.dout + rows * HEAD_DIM, valid, tid);
        load_tile<STEP_Q>(dst + 2 * TILE_Q, a.o + rows * HEAD_DIM, valid, tid);
        if (tid < STEP_Q)
            cp_async_4(smem_addr(s_lse + slot * STEP_Q + tid), tid < valid ? a.lse + rows + tid
                                                                        : a.lse, tid < valid);
    };
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        load_step(st);
        cp_async_commit();
    }

    const ChunkCols swz_a(lane >> 4, lane & 7);
    const ChunkCols swz_b((lane >> 3) & 1, lane & 7);
    const unsigned k_lane = smem_addr(s_k) + (warp * 16 + (lane & 15)) * ROW_BYTES;
    const unsigned v_lane = smem_addr(s_v) + (warp * 16 + (lane & 15)) * ROW_BYTES;
    const unsigned b_off = ((lane & 7) + 8 * (lane >> 4)) * ROW_BYTES;  // B pattern
    const unsigned t_off = (lane & 15) * ROW_BYTES;                     // transposed B pattern

    float dk[D_TILES][4], dv[D_TILES][4];
#pragma unroll
    for (int dt = 0; dt < D_TILES; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.0f;

    const float scale_log2 = a.scale * LOG2E;
    const int warp_key0 = k0 + warp * 16;  // this warp's first key

    for (int step = 0; step < steps; ++step) {
        cp_async_wait<STAGES - 2>();  // step `step` (and K, V) have landed for this thread ...
        if (DQ_ATOMIC && DQ_BULK && tid == 0) bulk_wait_read();  // step - 1's dQ share is out
        __syncthreads();              // ... and for all; everyone is done with step - 1's slot
        load_step(step + STAGES - 1);
        cp_async_commit();

        const int slot = step % STAGES;
        const unsigned q_tile = ring + slot * 3 * TILE_Q;
        const unsigned do_tile = q_tile + TILE_Q;
        const unsigned char *s_do = s_ring + slot * 3 * TILE_Q + TILE_Q;
        unsigned char *s_ds = s_ring + slot * 3 * TILE_Q + 2 * TILE_Q;  // DQ_ATOMIC: over O
        staged_row_terms<STEP_Q>(s_lse2, s_d, s_lse + slot * STEP_Q, s_do, s_do + TILE_Q, tid);
        __syncthreads();  // the step's D and lse2, for every warp

        const int qs = query0(step);
        // With DQ_ATOMIC, after every warp's dS^T is staged: the block's dQ share of the step.
        auto share_dq = [&] {
            __syncthreads();
            add_dq_share(a.dq_sums + rows_offset(step) * HEAD_DIM, smem_addr(s_ds), smem_addr(s_k),
                         reinterpret_cast<float *>(s_ring + slot * 3 * TILE_Q), seq_len - qs,
                         a.causal ? k0 - qs : 0, tid);
        };
        // Keys past the sequence, or every key after every query of the step: a zero share.
        if (warp_key0 >= seq_len || (a.causal && warp_key0 > qs + STEP_Q - 1)) {
            if (DQ_ATOMIC) {
                stage_ds(s_ds, nullptr, warp, lane);
                share_dq();
            }
            continue;
        }

        const float *lse2 = s_lse2;
        const float *dd = s_d;

        // Row = key (this warp's 16), column = query of the step.
        float p[NT][4], ds[NT][4];
        gemm_abt(p, k_lane, q_tile + b_off, swz_a, swz_b);   // S^T = K Q^T
        gemm_abt(ds, v_lane, do_tile + b_off, swz_a, swz_b); // dP^T = V dO^T
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = warp_key0 + (lane >> 2) + (e >> 1) * 8;
                const int col = nt * 8 + (lane & 3) * 2 + (e & 1);
                const int query = qs + col;
                const bool seen = key < seq_len && query < seq_len && (!a.causal || key <= query);
                const float pe = seen ? fast_exp2(fmaf(p[nt][e], scale_log2, -lse2[col])) : 0.0f;
                p[nt][e] = pe;
                ds[nt][e] = pe * (ds[nt][e] - dd[col]);
            }
        if (DQ_ATOMIC) stage_ds(s_ds, ds, warp, lane);
        gemm_pb(dv, p, do_tile + t_off, swz_a);   // dV += P^T dO
        gemm_pb(dk, ds, q_tile + t_off, swz_a);   // dK += dS^T Q
        if (DQ_ATOMIC) share_dq();
    }

    cp_async_wait<0>();
    if (DQ_ATOMIC) __syncthreads();  // every warp's last dQ product has read all of K
    const size_t out = kv_offset + (size_t)warp * 16 * HEAD_DIM;
    store_rows(dk, a.scale, s_k + warp * 16 * ROW_BYTES, a.dk + out, seq_len - warp_key0, lane);
    store_rows(dv, 1.0f, s_v + warp * 16 * ROW_BYTES, a.dv + out, seq_len - warp_key0, lane);
    if (DQ_ATOMIC) finish_dq(a, b, kv_head, tid);
}

// ---- a dQ CTA --------------------------------------------------------------------------------

__device__ __forceinline__ void dq_block(const Args &a, unsigned char *smem, int b, int head,
                                         int query_block) {
    constexpr int NT = STEP_K / 8;
    constexpr int TILE_K = STEP_K * ROW_BYTES;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int seq_len = a.seq_len;
    const int kv_head = head / (a.heads_q / a.heads_kv);
    const int q0 = query_block * OWN_ROWS;

    unsigned char *s_q = smem;
    unsigned char *s_do = s_q + OWN_ROWS * ROW_BYTES;
    const unsigned ring = smem_addr(s_do + OWN_ROWS * ROW_BYTES);  // per stage: K tile, V tile
    float *s_lse2 = reinterpret_cast<float *>(s_do + OWN_ROWS * ROW_BYTES + STAGES * 2 * TILE_K);
    float *s_d = s_lse2 + OWN_ROWS;

    const size_t rows = ((size_t)b * a.heads_q + head) * seq_len + q0;
    const size_t kv_offset = ((size_t)b * a.heads_kv + kv_head) * seq_len * HEAD_DIM;
    load_tile<OWN_ROWS>(smem_addr(s_q), a.q + rows * HEAD_DIM, seq_len - q0, tid);
    load_tile<OWN_ROWS>(smem_addr(s_do), a.dout + rows * HEAD_DIM, seq_len - q0, tid);
    cp_async_commit();

    const int kv_len = a.causal ? min(seq_len, q0 + OWN_ROWS) : seq_len;
    const int steps = (kv_len + STEP_K - 1) / STEP_K;
    auto load_step = [&](int step) {
        if (step >= steps) return;
        const unsigned dst = ring + (step % STAGES) * 2 * TILE_K;
        const int key0 = step * STEP_K;
        load_tile<STEP_K>(dst, a.k + kv_offset + (size_t)key0 * HEAD_DIM, seq_len - key0, tid);
        load_tile<STEP_K>(dst + TILE_K, a.v + kv_offset + (size_t)key0 * HEAD_DIM,
                          seq_len - key0, tid);
    };
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        load_step(st);
        cp_async_commit();
    }
    row_terms<OWN_ROWS>(s_lse2, s_d, a.lse + rows, a.dout + rows * HEAD_DIM,
                        a.o + rows * HEAD_DIM, seq_len - q0, tid);
    __syncthreads();  // the row terms, for every warp

    // This lane's two rows (lane >> 2 and 8 more) of the warp's 16.
    const int warp_row0 = q0 + warp * 16;
    float lse2[2], dd[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        lse2[h] = s_lse2[warp * 16 + (lane >> 2) + h * 8];
        dd[h] = s_d[warp * 16 + (lane >> 2) + h * 8];
    }

    const ChunkCols swz_a(lane >> 4, lane & 7);
    const ChunkCols swz_b((lane >> 3) & 1, lane & 7);
    const unsigned q_lane = smem_addr(s_q) + (warp * 16 + (lane & 15)) * ROW_BYTES;
    const unsigned do_lane = smem_addr(s_do) + (warp * 16 + (lane & 15)) * ROW_BYTES;
    const unsigned b_off = ((lane & 7) + 8 * (lane >> 4)) * ROW_BYTES;
    const unsigned t_off = (lane & 15) * ROW_BYTES;

    float dq[D_TILES][4];
#pragma unroll
    for (int dt = 0; dt < D_TILES; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) dq[dt][e] = 0.0f;
    const float scale_log2 = a.scale * LOG2E;

    for (int step = 0; step < steps; ++step) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        load_step(step + STAGES - 1);
        cp_async_commit();

        const int key0 = step * STEP_K;
        // Rows past the sequence, or keys wholly after this warp's rows: a zero share.
        if (warp_row0 >= seq_len || (a.causal && key0 > warp_row0 + 15)) continue;

        const unsigned k_tile = ring + (step % STAGES) * 2 * TILE_K;
        const unsigned v_tile = k_tile + TILE_K;

        // Row = query (this warp's 16), column = key of the step.
        float p[NT][4], ds[NT][4];
        gemm_abt(p, q_lane, k_tile + b_off, swz_a, swz_b);    // S = Q K^T
        gemm_abt(ds, do_lane, v_tile + b_off, swz_a, swz_b);  // dP = dO V^T
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int h = e >> 1;
                const int query = warp_row0 + (lane >> 2) + h * 8;
                const int key = key0 + nt * 8 + (lane & 3) * 2 + (e & 1);
                const bool seen = key < seq_len && query < seq_len && (!a.causal || key <= query);
                const float pe = seen ? fast_exp2(fmaf(p[nt][e], scale_log2, -lse2[h])) : 0.0f;
                ds[nt][e] = pe * (ds[nt][e] - dd[h]);
            }
        gemm_pb(dq, ds, k_tile + t_off, swz_a);  // dQ += dS K
    }

    cp_async_wait<0>();
    store_rows(dq, a.scale, s_q + warp * 16 * ROW_BYTES, a.dq + (rows + warp * 16) * HEAD_DIM,
               seq_len - warp_row0, lane);
}

}  // namespace

extern "C" __global__ void __launch_bounds__(NUM_THREADS, MIN_BLOCKS)
avo_attention_bwd(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                  const __nv_bfloat16 *__restrict__ v, const __nv_bfloat16 *__restrict__ o,
                  const __nv_bfloat16 *__restrict__ dout, const float *__restrict__ lse,
                  __nv_bfloat16 *__restrict__ dq, __nv_bfloat16 *__restrict__ dk,
                  __nv_bfloat16 *__restrict__ dv, int batch, int heads_q, int heads_kv,
                  int seq_len, int head_dim, int causal, float scale,
                  float *__restrict__ scratch) {
    extern __shared__ __align__(128) unsigned char smem[];
    (void)batch;
    (void)head_dim;  // == AVO_HEAD_DIM by contract
    const Args args{q,       k,        v,       o,      dout,  lse,    dq,
                    dk,      dv,       heads_q, heads_kv, seq_len, causal, scale, scratch};
    const int b = blockIdx.z;
    if (DQ_ATOMIC && causal) {
        // Under causal masking a key block's work falls with its index, and a dK/dV block is now
        // all there is: the first blocks launched take every head's first key block, then every
        // head's second, so that the longest start first and the grid ends on short ones.
        const int heads = gridDim.y * gridDim.z;
        const int rank = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
        const int head = rank % heads;
        dk_dv_block(args, smem, head / gridDim.y, head % gridDim.y, rank / heads);
    } else if ((int)blockIdx.y < heads_kv)
        dk_dv_block(args, smem, b, blockIdx.y, blockIdx.x);
    else
        dq_block(args, smem, b, blockIdx.y - heads_kv, gridDim.x - 1 - blockIdx.x);
}
