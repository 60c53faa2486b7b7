/*
 * Attention forward, FlashAttention-2 style, for every GPU from sm_80 on, compiled with NVRTC:
 * the seed on every architecture but Hopper (which gets attention_wgmma.cu).
 *
 * Contract (knowledge/kernel-contract.md, CUDA targets): q and o are [batch, heads_q, seq_len,
 * head_dim], k and v are [batch, heads_kv, seq_len, head_dim], contiguous bf16. Query head h
 * reads key/value head h / (heads_q / heads_kv). head_dim == AVO_HEAD_DIM (64 or 128), set by
 * the harness at compile time. Any seq_len >= 1; with causal, query i sees keys 0..i.
 *
 * Structure
 *  - One CTA owns BLOCK_M consecutive queries of one (batch, query head). The grid is
 *    (ceil_div(S, BLOCK_M), HQ, B) and blockIdx.x is walked backwards, so under causal masking
 *    the longest query blocks start first and the short ones fill the tail.
 *  - NUM_WARPS warps split those rows: each warp owns WARP_M = 16 or 32 rows (one or two m16
 *    tiles) against every key of a key block, so a row's softmax statistics never leave its
 *    warp (4 lanes of a quad share a row and reduce with two shuffles).
 *  - Q is copied once into shared memory; with Q_IN_REGS its A-fragments are then held in
 *    registers, otherwise they are re-read with ldmatrix for every key block.
 *  - K and V tiles of BLOCK_N keys stream through a ring of STAGES shared buffers, filled with
 *    16-byte cp.async (rows past seq_len are zero-filled). One barrier per key block: after
 *    it, the buffer that every warp finished with in the previous step is refilled.
 *  - S = Q K^T and O += P V run on mma.sync m16n8k16 (bf16 in, fp32 accumulate). K
 *    B-fragments come from ldmatrix, V B-fragments from ldmatrix.trans. P never touches shared
 *    memory: the fp32 S accumulators of two adjacent n8 tiles are exactly one bf16 A-fragment.
 *  - Online softmax in fp32, base 2: scale * log2(e) is folded into the single FMA that also
 *    subtracts the running maximum before ex2. The row sums stay per lane and are reduced once.
 *  - Causal: key blocks wholly above the diagonal are neither loaded nor computed (per CTA), and
 *    a warp also skips blocks that lie above the diagonal for its own rows. Element masks run
 *    only on blocks that cross the diagonal or the end of the sequence.
 *  - Shared rows are head_dim bf16 (8 or 16 chunks of 16 bytes); chunk c of row r sits at
 *    c ^ (r & 7). cp.async stores, ldmatrix reads and the epilogue are all conflict-free.
 *  - Epilogue: O / l rounded to bf16, staged in the warp's own Q rows, written with 16-byte
 *    stores guarded by seq_len.
 *
 * Knobs. Defaults measured on an H200 (D=128, H=16, B*S=32768): BLOCK_M=128 with 4 warps of
 * 32 rows (each K/V fragment feeds 4 mma, halving ldmatrix traffic against 16-row warps),
 * BLOCK_N=64, 2 stages, 2 CTAs per SM at 255 registers. LAZY_RESCALE skips the O rescale when
 * no row maximum of the warp moved. SMEM_PAD (padded rows instead of the XOR swizzle) and
 * PIPE_QK (S of block j+1 computed alongside the softmax of block j, 16-row warps) are correct
 * alternatives that measured slower; BLOCK_M=256 with 8 warps is about even.
 */
#include <cuda_bf16.h>

#ifndef AVO_HEAD_DIM
#error "AVO_HEAD_DIM (64 or 128) must be defined by the harness"
#endif

#define BLOCK_M 128     // avo:knob 64 128 256
#define BLOCK_N 64      // avo:knob 32 64 128
#define NUM_WARPS 4     // avo:knob 4 8
#define STAGES 2        // avo:knob 2 3 4
#define Q_IN_REGS 0     // avo:knob 0 1
#define MIN_BLOCKS 2    // avo:knob 1 2 3
#define SMEM_PAD 0      // avo:knob 0 1
#define LAZY_RESCALE 2  // avo:knob 0 1 2
#define PIPE_QK 0       // avo:knob 0 1
// avo:require BLOCK_M % (16 * NUM_WARPS) == 0 && BLOCK_M / NUM_WARPS <= 32
// avo:require (BLOCK_M + 2 * STAGES * BLOCK_N) * (256 + 16 * SMEM_PAD) <= 232448
// avo:require PIPE_QK == 0 || STAGES >= 3

#define NUM_THREADS (NUM_WARPS * 32)
#define SMEM_BYTES ((BLOCK_M + 2 * STAGES * BLOCK_N) * (AVO_HEAD_DIM * 2 + 16 * SMEM_PAD))
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(NUM_THREADS,) smem=SMEM_BYTES

namespace {

constexpr int HEAD_DIM = AVO_HEAD_DIM;
constexpr int ROW_BYTES = HEAD_DIM * 2 + 16 * SMEM_PAD;  // one row of Q, K, V or O in smem
constexpr int CHUNKS = HEAD_DIM / 8;             // 16-byte chunks per row
constexpr int WARP_M = BLOCK_M / NUM_WARPS;      // query rows per warp
constexpr int M_TILES = WARP_M / 16;             // m16 tiles per warp
constexpr int N_TILES = BLOCK_N / 8;             // n8 tiles of S per key block
constexpr int D_TILES = HEAD_DIM / 8;            // n8 tiles of O
constexpr int K_STEPS_QK = HEAD_DIM / 16;        // k16 steps of Q K^T
constexpr int K_STEPS_PV = BLOCK_N / 16;         // k16 steps of P V
constexpr int TILE_BYTES = BLOCK_N * ROW_BYTES;  // one K or V tile
constexpr int STAGE_BYTES = 2 * TILE_BYTES;      // K tile then V tile
// LAZY_RESCALE: 0 off, 1 on, 2 on for head_dim 128 only (measured: +3% there, -2% at 64).
constexpr bool LAZY = LAZY_RESCALE == 1 || (LAZY_RESCALE == 2 && HEAD_DIM >= 128);
constexpr int Q_FRAG_M = Q_IN_REGS ? M_TILES : 1;
constexpr int Q_FRAG_K = Q_IN_REGS ? K_STEPS_QK : 1;

static_assert(HEAD_DIM == 64 || HEAD_DIM == 128, "head_dim must be 64 or 128");
static_assert(WARP_M == 16 || WARP_M == 32, "each warp owns 16 or 32 query rows");
static_assert(NUM_THREADS % CHUNKS == 0 && (NUM_THREADS / CHUNKS) % 8 == 0,
              "tile loader assumes a fixed chunk and swizzle phase per thread");
static_assert((BLOCK_N * CHUNKS) % NUM_THREADS == 0 && (BLOCK_M * CHUNKS) % NUM_THREADS == 0,
              "tiles must split evenly over the threads");
static_assert(STAGES >= 2, "the ring needs two buffers at least");
static_assert(!PIPE_QK || STAGES >= 3, "the pipelined loop keeps three key blocks live");
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

// 2^x on the special-function unit (what exp2f becomes under fast math); ex2(-inf) = 0.
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// ---- global -> shared tiles ---------------------------------------------------------------

// Byte offset of 16-byte chunk `chunk` of row `row` in a tile: XOR-swizzled by (row & 7), or,
// with SMEM_PAD, unswizzled in rows padded by 16 bytes (both spread 8 rows over all banks).
__device__ __forceinline__ unsigned chunk_offset(int row, int chunk) {
    return row * ROW_BYTES + ((SMEM_PAD ? chunk : (chunk ^ (row & 7))) << 4);
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
    // ROW_STEP is a multiple of 8, so every row this thread copies has the same swizzle phase.
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

// ---- per-key-block steps (one warp) ------------------------------------------------------

// Lane-specific byte offset, within a row, of the chunk that ldmatrix reads in k16 step kk: the
// step covers chunks (2kk, 2kk+1) and `hi` picks this lane's one. Every lane address row is
// = lane (mod 8), so the swizzle phase is lane & 7 and only 4 XOR patterns exist. With SMEM_PAD
// the lane part (hi * 16) goes into the lane's base address and the rest is an immediate.
struct ChunkCols {
    unsigned off[SMEM_PAD ? 1 : 4];
    __device__ __forceinline__ ChunkCols(int hi, int phase) {
#pragma unroll
        for (int i = 0; i < (SMEM_PAD ? 1 : 4); ++i) off[i] = ((2 * i + hi) ^ phase) << 4;
    }
    static __device__ __forceinline__ unsigned lane_bias(int hi) { return SMEM_PAD ? hi << 4 : 0; }
    __device__ __forceinline__ unsigned operator()(int kk) const {
        return SMEM_PAD ? kk * 32 : (kk >> 2) * 128 + off[SMEM_PAD ? 0 : (kk & 3)];
    }
};

__device__ __forceinline__ void load_q_fragments(unsigned (&qf)[Q_FRAG_M][Q_FRAG_K][4],
                                                 unsigned q_lane, const ChunkCols &swz_a) {
#pragma unroll
    for (int mt = 0; mt < Q_FRAG_M; ++mt)
#pragma unroll
        for (int kk = 0; kk < Q_FRAG_K; ++kk)
            ldsm_x4(qf[mt][kk], q_lane + mt * 16 * ROW_BYTES + swz_a(kk));
}

// s = Q K^T for the warp's rows against the BLOCK_N keys of the tile at k_lane.
__device__ __forceinline__ void qk_block(float (&s)[M_TILES][N_TILES][4],
                                         const unsigned (&qf)[Q_FRAG_M][Q_FRAG_K][4],
                                         unsigned q_lane, unsigned k_lane, const ChunkCols &swz_a,
                                         const ChunkCols &swz_k) {
#pragma unroll
    for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
        for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < K_STEPS_QK; ++kk) {
        unsigned a[M_TILES][4];
#pragma unroll
        for (int mt = 0; mt < M_TILES; ++mt) {
            if (Q_IN_REGS) {
#pragma unroll
                for (int r = 0; r < 4; ++r) a[mt][r] = qf[Q_IN_REGS ? mt : 0][Q_IN_REGS ? kk : 0][r];
            } else {
                ldsm_x4(a[mt], q_lane + mt * 16 * ROW_BYTES + swz_a(kk));
            }
        }
#pragma unroll
        for (int np = 0; np < N_TILES / 2; ++np) {
            unsigned b[4];
            ldsm_x4(b, k_lane + np * 16 * ROW_BYTES + swz_k(kk));
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt) {
                mma_bf16(s[mt][2 * np], a[mt], b[0], b[1]);
                mma_bf16(s[mt][2 * np + 1], a[mt], b[2], b[3]);
            }
        }
    }
}

// Sets to -inf the scores of keys at or past seq_len and, with causal, keys after the query.
__device__ __forceinline__ void mask_block(float (&s)[M_TILES][N_TILES][4], int row0, int key0,
                                           int seq_len, int causal, int lane) {
#pragma unroll
    for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
        for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int row = row0 + mt * 16 + (lane >> 2) + (e >> 1) * 8;
                const int key = key0 + nt * 8 + (lane & 3) * 2 + (e & 1);
                if (key >= seq_len || (causal && key > row)) s[mt][nt][e] = neg_inf();
            }
}

// Online softmax step: turns s into unnormalised probabilities p = 2^(s*scale_log2 - m_new),
// rescales the running output and row sums by 2^(m_old - m_new).
__device__ __forceinline__ void softmax_update(float (&s)[M_TILES][N_TILES][4],
                                               float (&row_max)[M_TILES][2],
                                               float (&row_sum)[M_TILES][2],
                                               float (&acc)[M_TILES][D_TILES][4],
                                               float scale_log2) {
    float alphas[M_TILES][2];
    bool grew = false;
#pragma unroll
    for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = neg_inf();
#pragma unroll
            for (int nt = 0; nt < N_TILES; ++nt)
                mx = fmaxf(mx, fmaxf(s[mt][nt][2 * h], s[mt][nt][2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_old = row_max[mt][h];
            const float m_new = fmaxf(m_old, mx * scale_log2);
            // A row with every key masked so far keeps m = -inf; subtract 0 to avoid inf - inf.
            const float m_use = m_new == neg_inf() ? 0.0f : m_new;
            const float alpha = fast_exp2(m_old - m_use);
            row_max[mt][h] = m_new;
            float sum = 0.0f;
#pragma unroll
            for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const float p = fast_exp2(fmaf(s[mt][nt][2 * h + e], scale_log2, -m_use));
                    s[mt][nt][2 * h + e] = p;
                    sum += p;
                }
            row_sum[mt][h] = row_sum[mt][h] * alpha + sum;
            alphas[mt][h] = alpha;
            grew |= m_new != m_old;
        }
    // Lazily, the warp skips the multiply when no row maximum moved (every alpha == 1).
    if (!LAZY || __any_sync(0xffffffffu, grew)) {
#pragma unroll
        for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
            for (int dt = 0; dt < D_TILES; ++dt) {
                acc[mt][dt][0] *= alphas[mt][0];
                acc[mt][dt][1] *= alphas[mt][0];
                acc[mt][dt][2] *= alphas[mt][1];
                acc[mt][dt][3] *= alphas[mt][1];
            }
    }
}

// acc += P V, with P taken straight from the S accumulators (bf16-rounded) and V at v_lane.
__device__ __forceinline__ void pv_block(float (&acc)[M_TILES][D_TILES][4],
                                         const float (&p)[M_TILES][N_TILES][4], unsigned v_lane,
                                         const ChunkCols &swz_a) {
#pragma unroll
    for (int kk = 0; kk < K_STEPS_PV; ++kk) {
        unsigned a[M_TILES][4];
#pragma unroll
        for (int mt = 0; mt < M_TILES; ++mt) {
            a[mt][0] = pack_bf16x2(p[mt][2 * kk][0], p[mt][2 * kk][1]);
            a[mt][1] = pack_bf16x2(p[mt][2 * kk][2], p[mt][2 * kk][3]);
            a[mt][2] = pack_bf16x2(p[mt][2 * kk + 1][0], p[mt][2 * kk + 1][1]);
            a[mt][3] = pack_bf16x2(p[mt][2 * kk + 1][2], p[mt][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dp = 0; dp < D_TILES / 2; ++dp) {
            unsigned b[4];
            ldsm_x4_trans(b, v_lane + kk * 16 * ROW_BYTES + swz_a(dp));
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt) {
                mma_bf16(acc[mt][2 * dp], a[mt], b[0], b[1]);
                mma_bf16(acc[mt][2 * dp + 1], a[mt], b[2], b[3]);
            }
        }
    }
}

// Normalises the warp's rows by their softmax sums and writes them to o (rows < valid_rows),
// staged through this warp's own rows of shared memory at stage (swizzled like Q).
__device__ __forceinline__ void store_output(float (&acc)[M_TILES][D_TILES][4],
                                             float (&row_sum)[M_TILES][2], unsigned char *stage,
                                             __nv_bfloat16 *out, int valid_rows, int lane) {
    __syncwarp();
#pragma unroll
    for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float l = row_sum[mt][h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const float inv = l > 0.0f ? 1.0f / l : 0.0f;
            const int row = mt * 16 + (lane >> 2) + h * 8;
#pragma unroll
            for (int dt = 0; dt < D_TILES; ++dt)
                *reinterpret_cast<unsigned *>(stage + chunk_offset(row, dt) + (lane & 3) * 4) =
                    pack_bf16x2(acc[mt][dt][2 * h] * inv, acc[mt][dt][2 * h + 1] * inv);
        }
    __syncwarp();
#pragma unroll
    for (int i = 0; i < WARP_M * CHUNKS / 32; ++i) {
        const int idx = lane + i * 32;
        const int row = idx / CHUNKS;
        const int chunk = idx % CHUNKS;
        if (row < valid_rows)
            *reinterpret_cast<uint4 *>(out + row * HEAD_DIM + chunk * 8) =
                *reinterpret_cast<const uint4 *>(stage + chunk_offset(row, chunk));
    }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(NUM_THREADS, MIN_BLOCKS)
avo_attention_fwd(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                  const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int batch,
                  int heads_q, int heads_kv, int seq_len, int head_dim, int causal, float scale) {
    extern __shared__ __align__(128) unsigned char smem[];
    (void)batch;
    (void)head_dim;  // == AVO_HEAD_DIM by contract

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int m_block = gridDim.x - 1 - blockIdx.x;  // longest causal blocks first
    const int head = blockIdx.y;
    const int b = blockIdx.z;
    const int kv_head = head / (heads_q / heads_kv);
    const int q0 = m_block * BLOCK_M;

    const size_t q_offset = (((size_t)b * heads_q + head) * seq_len + q0) * HEAD_DIM;
    const size_t kv_offset = ((size_t)b * heads_kv + kv_head) * seq_len * HEAD_DIM;
    const __nv_bfloat16 *q_tile = q + q_offset;
    const __nv_bfloat16 *k_head = k + kv_offset;
    const __nv_bfloat16 *v_head = v + kv_offset;

    const unsigned s_q = smem_addr(smem);
    const unsigned s_kv = s_q + BLOCK_M * ROW_BYTES;

    const int kv_len = causal ? min(seq_len, q0 + BLOCK_M) : seq_len;
    const int n_blocks = (kv_len + BLOCK_N - 1) / BLOCK_N;

    // Key block `block` lives in ring slot block % STAGES. Blocks past the last one are not
    // loaded (their slot is free and never read).
    auto load_kv = [&](int block) {
        if (block >= n_blocks) return;
        const unsigned dst = s_kv + (block % STAGES) * STAGE_BYTES;
        const int key0 = block * BLOCK_N;
        load_tile<BLOCK_N>(dst, k_head + (size_t)key0 * HEAD_DIM, seq_len - key0, tid);
        load_tile<BLOCK_N>(dst + TILE_BYTES, v_head + (size_t)key0 * HEAD_DIM, seq_len - key0, tid);
    };

    load_tile<BLOCK_M>(s_q, q_tile, seq_len - q0, tid);
    cp_async_commit();
#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        load_kv(st);
        cp_async_commit();
    }

    // Per-lane ldmatrix row addresses. A-operand / V.trans pattern: lane addresses row lane & 15,
    // chunk pair half lane >> 4. K pattern: row (lane & 7) + 8 * (lane >> 4), half (lane >> 3) & 1.
    const ChunkCols swz_a(lane >> 4, lane & 7);
    const ChunkCols swz_k((lane >> 3) & 1, lane & 7);
    const unsigned bias_a = ChunkCols::lane_bias(lane >> 4);
    const unsigned bias_k = ChunkCols::lane_bias((lane >> 3) & 1);
    const unsigned q_lane = s_q + (warp * WARP_M + (lane & 15)) * ROW_BYTES + bias_a;
    const unsigned k_lane_off = ((lane & 7) + 8 * (lane >> 4)) * ROW_BYTES + bias_k;
    const unsigned v_lane_off = TILE_BYTES + (lane & 15) * ROW_BYTES + bias_a;

    unsigned qf[Q_FRAG_M][Q_FRAG_K][4];
    if (Q_IN_REGS) {
        cp_async_wait<STAGES - 1>();  // the Q group is the oldest
        __syncthreads();
        load_q_fragments(qf, q_lane, swz_a);
    }

    float acc[M_TILES][D_TILES][4];
    float row_max[M_TILES][2], row_sum[M_TILES][2];
#pragma unroll
    for (int mt = 0; mt < M_TILES; ++mt) {
#pragma unroll
        for (int dt = 0; dt < D_TILES; ++dt)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mt][dt][e] = 0.0f;
        row_max[mt][0] = row_max[mt][1] = neg_inf();
        row_sum[mt][0] = row_sum[mt][1] = 0.0f;
    }

    const float scale_log2 = scale * 1.4426950408889634f;
    const int warp_row0 = q0 + warp * WARP_M;  // first query row of this warp
    const int warp_row_last = warp_row0 + WARP_M - 1;

    auto stage_of = [&](int block) { return s_kv + (block % STAGES) * STAGE_BYTES; };
    auto needs_mask = [&](int key0) {
        return key0 + BLOCK_N > seq_len || (causal && key0 + BLOCK_N - 1 > warp_row0);
    };

    if constexpr (!PIPE_QK) {
        // Per key block: barrier, refill the slot freed by block j - 1, S = Q K^T, mask, softmax,
        // O += P V.
        for (int j = 0; j < n_blocks; ++j) {
            cp_async_wait<STAGES - 2>();  // block j (and Q) have landed for this thread ...
            __syncthreads();              // ... and for all; everyone is done with block j - 1
            load_kv(j + STAGES - 1);
            cp_async_commit();

            const int key0 = j * BLOCK_N;
            // Rows past the sequence, or keys wholly above this warp's diagonal: nothing to do.
            if (warp_row0 >= seq_len || (causal && key0 > warp_row_last)) continue;

            const unsigned stage = stage_of(j);
            float s[M_TILES][N_TILES][4];
            qk_block(s, qf, q_lane, stage + k_lane_off, swz_a, swz_k);
            if (needs_mask(key0)) mask_block(s, warp_row0, key0, seq_len, causal, lane);
            softmax_update(s, row_max, row_sum, acc, scale_log2);
            pv_block(acc, s, stage + v_lane_off, swz_a);
        }
    } else {
        // Software-pipelined by one block: S for block j + 1 is computed in the same straight-line
        // stretch as the softmax and P V of block j, so the tensor pipe has work while the
        // softmax runs. Slots j - 1, j, j + 1 are live at once, hence STAGES >= 3. Every warp
        // runs every block of the CTA here (masked scores just give p = 0).
        float s_cur[M_TILES][N_TILES][4], s_next[M_TILES][N_TILES][4];
        cp_async_wait<STAGES - 2>();  // block 0 (and Q)
        __syncthreads();
        qk_block(s_cur, qf, q_lane, stage_of(0) + k_lane_off, swz_a, swz_k);
        for (int j = 0; j + 1 < n_blocks; ++j) {
            const int key0 = j * BLOCK_N;
            if (needs_mask(key0)) mask_block(s_cur, warp_row0, key0, seq_len, causal, lane);
            cp_async_wait<PIPE_QK ? STAGES - 3 : 0>();  // block j + 1 has landed ...
            __syncthreads();  // ... for all; everyone is done with block j - 1 (slot reused now)
            load_kv(j + STAGES - 1);
            cp_async_commit();
            qk_block(s_next, qf, q_lane, stage_of(j + 1) + k_lane_off, swz_a, swz_k);
            softmax_update(s_cur, row_max, row_sum, acc, scale_log2);
            pv_block(acc, s_cur, stage_of(j) + v_lane_off, swz_a);
#pragma unroll
            for (int mt = 0; mt < M_TILES; ++mt)
#pragma unroll
                for (int nt = 0; nt < N_TILES; ++nt)
#pragma unroll
                    for (int e = 0; e < 4; ++e) s_cur[mt][nt][e] = s_next[mt][nt][e];
        }
        const int last = n_blocks - 1;
        if (needs_mask(last * BLOCK_N)) mask_block(s_cur, warp_row0, last * BLOCK_N, seq_len, causal, lane);
        softmax_update(s_cur, row_max, row_sum, acc, scale_log2);
        pv_block(acc, s_cur, stage_of(last) + v_lane_off, swz_a);
    }

    cp_async_wait<0>();
    store_output(acc, row_sum, smem + warp * WARP_M * ROW_BYTES, o + q_offset + (size_t)warp * WARP_M * HEAD_DIM,
                 seq_len - warp_row0, lane);
}
