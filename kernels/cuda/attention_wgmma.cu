/*
 * Attention forward on Hopper wgmma (sm_90a), compiled with NVRTC: rung 1 of issue 9.
 *
 * Contract (knowledge/kernel-contract.md, CUDA targets): q and o are [batch, heads_q, seq_len,
 * head_dim], k and v are [batch, heads_kv, seq_len, head_dim], contiguous bf16. Query head h
 * reads key/value head h / (heads_q / heads_kv). head_dim == AVO_HEAD_DIM (64 or 128), set by
 * the harness at compile time. Any seq_len >= 1; with causal, query i sees keys 0..i.
 *
 * Structure
 *  - One CTA owns BLOCK_M = 64 * NUM_WG consecutive queries of one (batch, query head); each of
 *    its NUM_WG warpgroups (128 threads) owns 64 of those rows, the M of one wgmma. The grid is
 *    (ceil_div(S, BLOCK_M), HQ, B), walked backwards so the longest causal blocks start first.
 *  - Shared tiles use the wgmma/TMA 128B-swizzle layout: a tile of R rows and head_dim columns is
 *    head_dim / 64 "boxes" of R rows x 128 bytes, stored one after the other, and 16-byte chunk c
 *    of row r of a box sits at chunk c ^ (r % 8). Every tile starts 1024-byte aligned.
 *  - Loads stay cp.async (16 bytes, rows past seq_len zero-filled), all threads of the CTA taking
 *    part: Q once, then K and V tiles of BLOCK_N keys through a ring of STAGES buffers. cp.async
 *    writes through the generic proxy and wgmma reads through the async proxy, so every thread
 *    runs fence.proxy.async.shared::cta after its cp.async wait and before the barrier. One
 *    barrier per key block; after it the slot every warpgroup finished with is refilled.
 *  - S = Q K^T: wgmma m64n<BLOCK_N>k16, SS form, both operands K-major from shared memory through
 *    descriptors (LBO unused, SBO 1024, 128B swizzle; a k16 step is +32 bytes inside the row, the
 *    second box for k >= 64). Scale-d 0 on the first step instead of zeroing S.
 *  - Online softmax on the S accumulators in fp32, base 2: scale * log2(e) folded into the one
 *    FFMA that also subtracts the running max before ex2. A thread holds two rows (r, r + 8), a
 *    quad of lanes shares a row: two shuffles per reduction. Row sums stay per lane until the end.
 *  - O += P V: wgmma m64n<head_dim>k16, RS form. P comes straight from the S accumulators (bf16
 *    pairs; the m64nN accumulator layout equals the k16 A-fragment layout), V from shared memory,
 *    MN-major (imm-trans-b 1): LBO = distance of the two 64-column boxes, SBO 1024, +2048 bytes
 *    per k16 step of 16 keys.
 *  - Each wgmma group is fenced (wgmma.fence), committed and waited (wait_group 0) before its
 *    accumulators are touched; empty asm "pins" keep the compiler from moving register work
 *    across fence and wait (CUTLASS's warpgroup_fence_operand).
 *  - Causal: key blocks wholly above the CTA's diagonal are neither loaded nor computed; a
 *    warpgroup also skips blocks above its own rows (a warpgroup-uniform branch around the
 *    wgmmas). Element masks only on blocks crossing the diagonal or the end of the sequence.
 *  - Epilogue: O / l rounded to bf16, staged in the warp's own Q rows, 16-byte global stores
 *    guarded by seq_len.
 *
 * Knobs: NUM_WG warpgroups per CTA (BLOCK_M = 64 * NUM_WG), BLOCK_N keys per block (the N of the
 * S wgmma), STAGES K/V buffers, MIN_BLOCKS for __launch_bounds__ (2 only fits one warpgroup),
 * LAZY_RESCALE (skip the O rescale when no row maximum of the warp moved). Defaults measured on
 * an H200 (quick grid, B=2 S=4096): NUM_WG=3 beats 2 by about 6% on mha (412 vs 387 TFLOP/s)
 * and 3% on mha-d64 (one CTA of 384 threads per SM either way, 168 / 162 registers), BLOCK_N=64
 * is 7% slower than 128 on mha, BLOCK_N=192 about even with 128 on mha-d64.
 */
#include <cuda_bf16.h>

#ifndef AVO_HEAD_DIM
#error "AVO_HEAD_DIM (64 or 128) must be defined by the harness"
#endif

#define NUM_WG 3        // avo:knob 1 2 3
#define BLOCK_N 128     // avo:knob 64 96 128 192
#define STAGES 2        // avo:knob 2 3 4
#define MIN_BLOCKS 1    // avo:knob 1 2
#define LAZY_RESCALE 1  // avo:knob 0 1
// S accumulators (BLOCK_N / 2), O (head_dim / 2) and P (BLOCK_N / 4) must fit 255 registers.
// avo:require BLOCK_N <= 128 || AVO_HEAD_DIM == 64
// avo:require MIN_BLOCKS == 1 || NUM_WG == 1
// avo:require (64 * NUM_WG + 2 * STAGES * BLOCK_N) * AVO_HEAD_DIM * 2 + 1024 <= 232448

#define BLOCK_M (64 * NUM_WG)
#define NUM_THREADS (128 * NUM_WG)
#define SMEM_BYTES ((BLOCK_M + 2 * STAGES * BLOCK_N) * AVO_HEAD_DIM * 2 + 1024)
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(NUM_THREADS,) smem=SMEM_BYTES

namespace {

constexpr int HEAD_DIM = AVO_HEAD_DIM;
constexpr int CHUNKS = HEAD_DIM / 8;          // 16-byte chunks per row
constexpr int S_REGS = BLOCK_N / 2;           // fp32 S accumulators per thread
constexpr int O_REGS = HEAD_DIM / 2;          // fp32 O accumulators per thread
constexpr int K_STEPS_QK = HEAD_DIM / 16;     // k16 steps of Q K^T
constexpr int K_STEPS_PV = BLOCK_N / 16;      // k16 steps of P V
constexpr int TILE_BYTES = BLOCK_N * HEAD_DIM * 2;  // one K or V tile
constexpr int STAGE_BYTES = 2 * TILE_BYTES;         // K tile then V tile
constexpr int Q_BYTES = BLOCK_M * HEAD_DIM * 2;

static_assert(HEAD_DIM == 64 || HEAD_DIM == 128, "head_dim must be 64 or 128");
static_assert(BLOCK_N % 16 == 0 && BLOCK_N >= 64, "BLOCK_N is a multiple of 16");
static_assert((NUM_THREADS / CHUNKS) % 8 == 0, "loader: one swizzle phase per thread");
static_assert(STAGES >= 2, "the ring needs two buffers at least");
static_assert(Q_BYTES % 1024 == 0 && TILE_BYTES % 1024 == 0, "tiles stay 1024-byte aligned");
static_assert(SMEM_BYTES <= 227 * 1024, "shared memory beyond the sm_90 limit");

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

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

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int PENDING>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory");
}

// cp.async data (generic proxy) is next read by wgmma (async proxy).
__device__ __forceinline__ void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// ---- wgmma ------------------------------------------------------------------------------

__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_wait0() {
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
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

}  // namespace

// The wgmma instructions, one per shape. An m64nNk16 instruction names its N/2 accumulator
// registers one by one, so the operand lists are spelled by macros: R16(b) is "%b, ..., %b+15"
// and ACC8(i) binds d[i .. i+7]. RS: imm-trans-b 1 (V is MN-major); SS: both K-major.
#define R4(a, b, c, d) "%" #a ", %" #b ", %" #c ", %" #d
#define R16(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) \
    R4(a0, a1, a2, a3) ", " R4(a4, a5, a6, a7) ", " R4(a8, a9, a10, a11) ", " R4(a12, a13, a14, a15)
#define REGS_0_31 R16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) ", " \
    R16(16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)
#define REGS_32_63 R16(32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47) ", " \
    R16(48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63)
#define REGS_64_95 R16(64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79) ", " \
    R16(80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95)
#define REGS_32 REGS_0_31
#define REGS_48 REGS_0_31 ", " R16(32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47)
#define REGS_64 REGS_0_31 ", " REGS_32_63
#define REGS_96 REGS_0_31 ", " REGS_32_63 ", " REGS_64_95
#define ACC8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), \
    "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define ACC_32 ACC8(0), ACC8(8), ACC8(16), ACC8(24)
#define ACC_48 ACC_32, ACC8(32), ACC8(40)
#define ACC_64 ACC_32, ACC8(32), ACC8(40), ACC8(48), ACC8(56)
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
WGMMA_SS(192, 96, 96, 97, 98)
WGMMA_RS(64, 32, 32, 33, 34, 35, 36)
WGMMA_RS(128, 64, 64, 65, 66, 67, 68)
}  // namespace wg

namespace {

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

// ---- shared tiles ---------------------------------------------------------------------------

// Byte offset of 16-byte chunk `chunk` (0 .. CHUNKS-1) of row `row` in a swizzled tile of ROWS rows.
template <int ROWS>
__device__ __forceinline__ unsigned chunk_offset(int row, int chunk) {
    return (chunk >> 3) * (ROWS * 128) + row * 128 + (((chunk ^ row) & 7) << 4);
}

// Copies ROWS rows of HEAD_DIM bf16 from src into the swizzled tile at dst; rows at or beyond
// valid_rows are zero-filled (their source is never read).
template <int ROWS>
__device__ __forceinline__ void load_tile(unsigned dst, const __nv_bfloat16 *src, int valid_rows,
                                          int tid) {
    constexpr int ROW_STEP = NUM_THREADS / CHUNKS;
    constexpr int ITERS = (ROWS + ROW_STEP - 1) / ROW_STEP;
    const int chunk = tid % CHUNKS;
    const int row0 = tid / CHUNKS;
    // ROW_STEP is a multiple of 8: every row this thread copies has the same swizzle phase.
    const unsigned dst0 = dst + chunk_offset<ROWS>(row0, chunk);
    const __nv_bfloat16 *src0 = src + row0 * HEAD_DIM + chunk * 8;
#pragma unroll
    for (int i = 0; i < ITERS; ++i) {
        const int row = row0 + i * ROW_STEP;
        if (ROWS % ROW_STEP != 0 && row >= ROWS) break;
        const bool valid = row < valid_rows;
        cp_async_16(dst0 + i * ROW_STEP * 128, valid ? src0 + i * ROW_STEP * HEAD_DIM : src, valid);
    }
}

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

// Turns s into p = 2^(s * scale_log2 - m_new) and rescales o and the row sums by 2^(m_old - m_new).
__device__ __forceinline__ void softmax_update(float (&s)[S_REGS], float (&row_max)[2],
                                               float (&row_sum)[2], float (&o)[O_REGS],
                                               float scale_log2) {
    float alpha[2];
    bool grew = false;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float mx = neg_inf();
#pragma unroll
        for (int i = 0; i < S_REGS; i += 4) mx = fmaxf(mx, fmaxf(s[i + 2 * h], s[i + 2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_old = row_max[h];
        const float m_new = fmaxf(m_old, mx * scale_log2);
        // A row with every key masked so far keeps m = -inf; subtract 0 to avoid inf - inf.
        const float m_use = m_new == neg_inf() ? 0.0f : m_new;
        alpha[h] = fast_exp2(m_old - m_use);
        row_max[h] = m_new;
        float sum = 0.0f;
#pragma unroll
        for (int i = 0; i < S_REGS; i += 4)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float p = fast_exp2(fmaf(s[i + 2 * h + e], scale_log2, -m_use));
                s[i + 2 * h + e] = p;
                sum += p;
            }
        row_sum[h] = row_sum[h] * alpha[h] + sum;
        grew |= m_new != m_old;
    }
    if (!LAZY_RESCALE || __any_sync(0xffffffffu, grew)) {
#pragma unroll
        for (int i = 0; i < O_REGS; ++i) o[i] *= alpha[(i >> 1) & 1];
    }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(NUM_THREADS, MIN_BLOCKS)
avo_attention_fwd(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                  const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int batch,
                  int heads_q, int heads_kv, int seq_len, int head_dim, int causal, float scale) {
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    (void)batch;
    (void)head_dim;  // == AVO_HEAD_DIM by contract

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int wg = tid >> 7;              // warpgroup: 64 query rows
    const int warp = (tid >> 5) & 3;      // warp inside the warpgroup: 16 of those rows
    const int m_block = gridDim.x - 1 - blockIdx.x;  // longest causal blocks first
    const int head = blockIdx.y;
    const int b = blockIdx.z;
    const int kv_head = head / (heads_q / heads_kv);
    const int q0 = m_block * BLOCK_M;

    const size_t q_offset = (((size_t)b * heads_q + head) * seq_len + q0) * HEAD_DIM;
    const size_t kv_offset = ((size_t)b * heads_kv + kv_head) * seq_len * HEAD_DIM;
    const __nv_bfloat16 *k_head = k + kv_offset;
    const __nv_bfloat16 *v_head = v + kv_offset;

    // Swizzled tiles need 1024-byte alignment, which the dynamic window does not promise.
    unsigned char *smem = smem_raw + ((1024 - smem_addr(smem_raw) % 1024) % 1024);
    const unsigned s_q = smem_addr(smem);
    const unsigned s_kv = s_q + Q_BYTES;

    const int kv_len = causal ? min(seq_len, q0 + BLOCK_M) : seq_len;
    const int n_blocks = (kv_len + BLOCK_N - 1) / BLOCK_N;

    auto load_kv = [&](int block) {
        if (block >= n_blocks) return;
        const unsigned dst = s_kv + (block % STAGES) * STAGE_BYTES;
        const int key0 = block * BLOCK_N;
        load_tile<BLOCK_N>(dst, k_head + (size_t)key0 * HEAD_DIM, seq_len - key0, tid);
        load_tile<BLOCK_N>(dst + TILE_BYTES, v_head + (size_t)key0 * HEAD_DIM, seq_len - key0, tid);
    };

    load_tile<BLOCK_M>(s_q, q + q_offset, seq_len - q0, tid);
    cp_async_commit();
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        load_kv(st);
        cp_async_commit();
    }

    // Descriptors. Q: this warpgroup's 64 rows, K-major; k16 step kk is +32 bytes in the row of
    // box kk / 4. K: same pattern over BLOCK_N rows. V: MN-major, LBO = box stride.
    const unsigned long long desc_q = make_desc(s_q + wg * 64 * 128, 16);
    const unsigned long long desc_k0 = make_desc(s_kv, 16);
    const unsigned long long desc_v0 = make_desc(s_kv + TILE_BYTES, BLOCK_N * 128);
    auto k_step = [](int kk) -> unsigned long long {  // encoded (16-byte) offset of a k16 step
        return (unsigned long long)((kk >> 2) * (BLOCK_N * 128) + (kk & 3) * 32) >> 4;
    };
    auto q_step = [](int kk) -> unsigned long long {
        return (unsigned long long)((kk >> 2) * (BLOCK_M * 128) + (kk & 3) * 32) >> 4;
    };

    float acc[O_REGS];
#pragma unroll
    for (int i = 0; i < O_REGS; ++i) acc[i] = 0.0f;
    float row_max[2] = {neg_inf(), neg_inf()};
    float row_sum[2] = {0.0f, 0.0f};

    const float scale_log2 = scale * 1.4426950408889634f;
    const int wg_row0 = q0 + wg * 64;         // first query row of this warpgroup
    const int wg_row_last = wg_row0 + 63;
    const int warp_row0 = wg_row0 + warp * 16;  // first query row of this warp

    for (int j = 0; j < n_blocks; ++j) {
        cp_async_wait<STAGES - 2>();  // block j (and Q) have landed for this thread ...
        fence_proxy_async();          // ... are visible to wgmma ...
        __syncthreads();              // ... for all; everyone is done with block j - 1
        load_kv(j + STAGES - 1);
        cp_async_commit();

        const int key0 = j * BLOCK_N;
        // Warpgroup-uniform: rows past the sequence, or keys wholly above this warpgroup's rows.
        if (wg_row0 >= seq_len || (causal && key0 > wg_row_last)) continue;

        const unsigned long long stage_enc = (unsigned long long)((j % STAGES) * STAGE_BYTES) >> 4;
        const unsigned long long desc_k = desc_k0 + stage_enc;
        const unsigned long long desc_v = desc_v0 + stage_enc;

        float s[S_REGS];
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < K_STEPS_QK; ++kk)
            wg::wgmma_ss(s, desc_q + q_step(kk), desc_k + k_step(kk), kk);
        wgmma_commit();
        wgmma_wait0();
        pin(s);

        if (key0 + BLOCK_N > seq_len || (causal && key0 + BLOCK_N - 1 > warp_row0))
            mask_block(s, warp_row0, key0, seq_len, causal, lane);
        softmax_update(s, row_max, row_sum, acc, scale_log2);

        // P as the A operand: k16 step t takes S registers 8t .. 8t + 7 as four bf16 pairs.
        unsigned p[K_STEPS_PV][4];
#pragma unroll
        for (int t = 0; t < K_STEPS_PV; ++t)
#pragma unroll
            for (int r = 0; r < 4; ++r) p[t][r] = pack_bf16x2(s[8 * t + 2 * r], s[8 * t + 2 * r + 1]);
        pin(p);
        pin(acc);
        wgmma_fence();
#pragma unroll
        for (int t = 0; t < K_STEPS_PV; ++t)
            wg::wgmma_rs(acc, p[t], desc_v + (unsigned long long)(t * 2048 >> 4));
        wgmma_commit();
        wgmma_wait0();
        pin(acc);
    }
    cp_async_wait<0>();

    // Epilogue: O / l in bf16, staged in this warp's own 16 Q rows, then 16-byte global stores.
    const int tile_row0 = wg * 64 + warp * 16;  // first row of this warp inside the Q tile
    __syncwarp();
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float l = row_sum[h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        const int row = tile_row0 + (lane >> 2) + h * 8;
#pragma unroll
        for (int i = 2 * h; i < O_REGS; i += 4)
            *reinterpret_cast<unsigned *>(smem + chunk_offset<BLOCK_M>(row, i >> 2) + (lane & 3) * 4) =
                pack_bf16x2(acc[i] * inv, acc[i + 1] * inv);
    }
    __syncwarp();
    __nv_bfloat16 *out = o + q_offset + (size_t)(wg * 64 + warp * 16) * HEAD_DIM;
    const int valid_rows = seq_len - warp_row0;
#pragma unroll
    for (int i = 0; i < 16 * CHUNKS / 32; ++i) {
        const int idx = lane + i * 32;
        const int row = idx / CHUNKS;
        const int chunk = idx % CHUNKS;
        if (row < valid_rows)
            *reinterpret_cast<uint4 *>(out + row * HEAD_DIM + chunk * 8) =
                *reinterpret_cast<const uint4 *>(smem + chunk_offset<BLOCK_M>(tile_row0 + row, chunk));
    }
}
