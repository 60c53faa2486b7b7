/*
 * out = gelu_tanh(a @ w^T + bias) in bf16, for every GPU from sm_80 on, compiled with NVRTC:
 * the seed of gemm-bias-act (targets/gemm_bias_act.py; knowledge/gemm-epilogue.md).
 *
 * Contract: a is [m, k], w is [n, k] (a Linear layer's weight: k contiguous in both), bias is
 * [n], out is [m, n]; contiguous bf16, 16-byte aligned. m, n >= 1 any; k >= 8 and a multiple
 * of 8, so a row of a or w is whole 16-byte chunks. GELU is the tanh approximation. out
 * arrives full of NaN: every element in m x n is written, nothing outside.
 *
 * Structure
 *  - One CTA computes a BLOCK_M x BLOCK_N tile of out. The grid is one-dimensional and its
 *    blocks are ordered in groups of GROUP_M tile rows: consecutive CTAs share the rows of a
 *    they read and walk across n together, so a panel of a and a panel of w are both read
 *    from L2 by several CTAs at about the same time.
 *  - WARPS_M x WARPS_N warps split the tile; each owns a WM x WN piece (64 x 64 by default)
 *    whose fp32 accumulators stay in registers for the whole k loop.
 *  - k advances BLOCK_K at a time through a ring of STAGES shared buffers filled with 16-byte
 *    cp.async.cg (L2 only): STAGES - 1 tiles are in flight while one is multiplied. Rows past
 *    m or n and chunks past k are zero-filled, never read, so they add nothing. One barrier
 *    per k tile: after it, the buffer every warp finished with last step is refilled.
 *  - Operands reach the tensor cores with ldmatrix: a's m16 x k16 fragment in one x4 load, and
 *    w, stored [n][k], is already the column-major B operand, so one x4 load gives two n8 x k16
 *    fragments without a transpose. mma.sync m16n8k16: bf16 in, fp32 accumulate.
 *  - Shared tiles are rows of BLOCK_K bf16 (4 or 8 chunks of 16 bytes), swizzled: chunk L of a
 *    tile (counted along rows) sits at slot (L % 8) ^ ((L / 8) % 8) of its 128-byte line. The
 *    8 rows one ldmatrix phase reads then fall in 8 different 16-byte bank groups, and so do
 *    the chunks a warp's cp.async writes.
 *  - Epilogue in registers: + bias, GELU, one rounding to bf16, stored as bf16 pairs (4 bytes)
 *    where n is even, one value at a time where it is odd (rows not 4-byte aligned), guarded
 *    by m and n.
 *
 * Knobs: defaults 128 x 128 x 32 tiles, 2 x 2 warps of 64 x 64, 4 stages (64 KB of shared
 * memory), groups of 8 tile rows. Not measured on a GPU yet.
 */
#include <cuda_bf16.h>

#define BLOCK_M 128    // avo:knob 64 128 256
#define BLOCK_N 128    // avo:knob 64 128 256
#define BLOCK_K 32     // avo:knob 32 64
#define WARPS_M 2      // avo:knob 1 2 4
#define WARPS_N 2      // avo:knob 1 2 4
#define STAGES 4       // avo:knob 2 3 4 5
#define GROUP_M 8      // avo:knob 1 4 8 16
#define MIN_BLOCKS 1   // avo:knob 1 2
// avo:require BLOCK_M % (16 * WARPS_M) == 0 && BLOCK_N % (16 * WARPS_N) == 0
// Accumulators (WM * WN / 32 a thread) and about 64 registers more within the budget:
// avo:require (BLOCK_M / WARPS_M) * (BLOCK_N / WARPS_N) / 32 + 64 <= min(255, 65536 / (NUM_THREADS * MIN_BLOCKS))
// avo:require (BLOCK_M * BLOCK_K / 8) % NUM_THREADS == 0
// avo:require (BLOCK_N * BLOCK_K / 8) % NUM_THREADS == 0
// avo:require SMEM_BYTES <= 232448

#define NUM_THREADS (WARPS_M * WARPS_N * 32)
#define SMEM_BYTES (STAGES * (BLOCK_M + BLOCK_N) * BLOCK_K * 2)
// avo:launch grid=(ceil_div(M, BLOCK_M) * ceil_div(N, BLOCK_N),) block=(NUM_THREADS,) smem=SMEM_BYTES

namespace {

using bf16 = __nv_bfloat16;

constexpr int WM = BLOCK_M / WARPS_M;  // rows of out per warp
constexpr int WN = BLOCK_N / WARPS_N;  // columns of out per warp
constexpr int M_TILES = WM / 16;       // m16 tiles per warp
constexpr int N_TILES = WN / 8;        // n8 tiles per warp (an even number)
constexpr int K_STEPS = BLOCK_K / 16;  // k16 steps per k tile
constexpr int CHUNKS = BLOCK_K / 8;    // 16-byte chunks per row of a shared tile
constexpr int A_BYTES = BLOCK_M * BLOCK_K * 2;
constexpr int STAGE_BYTES = (BLOCK_M + BLOCK_N) * BLOCK_K * 2;  // a's tile, then w's

static_assert(WM % 16 == 0 && WN % 16 == 0, "a warp owns whole m16 tiles and n8 tile pairs");
static_assert(BLOCK_K == 32 || BLOCK_K == 64, "the swizzle is laid out for 4 or 8 chunks a row");
static_assert((BLOCK_M * CHUNKS) % NUM_THREADS == 0 && (BLOCK_N * CHUNKS) % NUM_THREADS == 0,
              "tiles split evenly over the threads");
static_assert(STAGES >= 2, "the ring needs two buffers at least");

__device__ __forceinline__ unsigned shared_address(const void *pointer) {
    return static_cast<unsigned>(__cvta_generic_to_shared(pointer));
}

// Byte offset, in a shared tile, of 16-byte chunk `chunk` of row `row` (the swizzle above).
__device__ __forceinline__ unsigned swizzled(int row, int chunk) {
    const int linear = row * CHUNKS + chunk;
    return static_cast<unsigned>((linear & ~7) | ((linear ^ (linear >> 3)) & 7)) << 4;
}

// ---- the PTX this kernel uses (sm_80 on) ------------------------------------------------

// 16 bytes from global to shared through L2 only; `bytes` 0 reads nothing and writes zeros.
__device__ __forceinline__ void copy_chunk(unsigned to, const bf16 *from, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(to), "l"(from), "r"(bytes) : "memory");
}

// The copies this thread issued since the last call form one group.
__device__ __forceinline__ void close_group() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Until at most `Pending` of this thread's groups are still in flight (the oldest land first).
template <int Pending>
__device__ __forceinline__ void wait_groups() {
    asm volatile("cp.async.wait_group %0;\n" :: "n"(Pending) : "memory");
}

// Four 8x8 bf16 matrices from shared memory; lane l gives the address of row l % 8 of
// matrix l / 8 and receives, from each matrix, row l / 4's elements 2 (l % 4) and 2 (l % 4) + 1.
__device__ __forceinline__ void load_matrices(unsigned address, unsigned (&to)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(to[0]), "=r"(to[1]), "=r"(to[2]), "=r"(to[3]) : "r"(address));
}

// acc (16 x 8, fp32) += x (16 x 16, row-major fragment) * y (16 x 8, column-major fragment).
__device__ __forceinline__ void tensor_core_step(float *acc, const unsigned (&x)[4],
                                                 const unsigned *y) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
        : "r"(x[0]), "r"(x[1]), "r"(x[2]), "r"(x[3]), "r"(y[0]), "r"(y[1]));
}

// ---- the kernel's steps -------------------------------------------------------------------

// ROWS rows of BLOCK_K values from `rows` (row r at rows + r * k, column k0 on) into the
// shared tile at `tile`; rows at or past `valid_rows` and chunks at or past k are zeros.
template <int ROWS>
__device__ __forceinline__ void fill_tile(unsigned tile, const bf16 *rows, int valid_rows,
                                          int k, int k0) {
    constexpr int PER_THREAD = ROWS * CHUNKS / NUM_THREADS;
    const int chunk = threadIdx.x % CHUNKS;  // the same for every chunk this thread copies
    const bool in_k = k0 + chunk * 8 < k;
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        const int row = (threadIdx.x + i * NUM_THREADS) / CHUNKS;
        const bool valid = in_k && row < valid_rows;
        const bf16 *from = valid ? rows + static_cast<size_t>(row) * k + k0 + chunk * 8 : rows;
        copy_chunk(tile + swizzled(row, chunk), from, valid ? 16 : 0);
    }
}

// One k tile of the warp's product, from the shared tiles at a_tile and w_tile.
__device__ __forceinline__ void multiply_tile(float (&acc)[M_TILES][N_TILES][4], unsigned a_tile,
                                              unsigned w_tile, int warp_row, int warp_col,
                                              int lane) {
#pragma unroll
    for (int step = 0; step < K_STEPS; ++step) {
        unsigned x[M_TILES][4];
        unsigned y[N_TILES][2];
#pragma unroll
        for (int i = 0; i < M_TILES; ++i) {
            // matrices: rows 0-7 | 8-15 of the m16 tile (lane % 16), at k 0-7 | 8-15 (lane / 16)
            load_matrices(a_tile + swizzled(warp_row + i * 16 + (lane & 15),
                                            step * 2 + (lane >> 4)), x[i]);
        }
#pragma unroll
        for (int j = 0; j < N_TILES; j += 2) {
            // matrices: n 0-7 at k 0-7 | 8-15, then n 8-15 at k 0-7 | 8-15
            unsigned pair[4];
            load_matrices(w_tile + swizzled(warp_col + j * 8 + (lane & 7) + ((lane >> 4) << 3),
                                            step * 2 + ((lane >> 3) & 1)), pair);
            y[j][0] = pair[0];
            y[j][1] = pair[1];
            y[j + 1][0] = pair[2];
            y[j + 1][1] = pair[3];
        }
#pragma unroll
        for (int i = 0; i < M_TILES; ++i) {
#pragma unroll
            for (int j = 0; j < N_TILES; ++j) tensor_core_step(acc[i][j], x[i], y[j]);
        }
    }
}

// 0.5 x (1 + tanh(u)) computed as x / (1 + exp(-2u)): the same value, without tanh's
// cancellation near -1; for very negative x, exp overflows to infinity and x / inf is a zero,
// never a NaN, and a cube that overflows still lands on the right side.
__device__ __forceinline__ float gelu_tanh(float x) {
    const float u = 0.7978845608028654f * fmaf(0.044715f * x, x * x, x);
    return x / (1.0f + __expf(-2.0f * u));
}

__device__ __forceinline__ float bias_at(const bf16 *bias, int col, int n) {
    return col < n ? __bfloat162float(bias[col]) : 0.0f;
}

// The warp's accumulators + bias, through GELU, rounded once to bf16 and stored. A lane holds,
// for each m16 x n8 tile, rows lane / 4 and lane / 4 + 8 at columns 2 (lane % 4) and + 1.
__device__ __forceinline__ void store_tile(const float (&acc)[M_TILES][N_TILES][4],
                                           const bf16 *bias, bf16 *out, int m, int n,
                                           int row0, int col0, int lane) {
    const bool pairs = (n & 1) == 0;  // rows of out start 4-byte aligned
#pragma unroll
    for (int j = 0; j < N_TILES; ++j) {
        const int col = col0 + j * 8 + 2 * (lane & 3);
        const float bias0 = bias_at(bias, col, n);
        const float bias1 = bias_at(bias, col + 1, n);
#pragma unroll
        for (int i = 0; i < M_TILES; ++i) {
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int row = row0 + i * 16 + (lane >> 2) + half * 8;
                if (row >= m || col >= n) continue;
                const float v0 = gelu_tanh(acc[i][j][2 * half] + bias0);
                const float v1 = gelu_tanh(acc[i][j][2 * half + 1] + bias1);
                bf16 *at = out + static_cast<size_t>(row) * n + col;
                if (pairs) {  // col is even and n even: col + 1 < n
                    *reinterpret_cast<__nv_bfloat162 *>(at) = __floats2bfloat162_rn(v0, v1);
                } else {
                    at[0] = __float2bfloat16_rn(v0);
                    if (col + 1 < n) at[1] = __float2bfloat16_rn(v1);
                }
            }
        }
    }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(NUM_THREADS, MIN_BLOCKS)
avo_gemm_bias_act(const bf16 *__restrict__ a, const bf16 *__restrict__ w,
                  const bf16 *__restrict__ bias, bf16 *__restrict__ out, int m, int n, int k) {
    extern __shared__ __align__(128) unsigned char smem[];
    const unsigned ring = shared_address(smem);

    // This CTA's tile, GROUP_M tile rows at a time (see Structure).
    const int tiles_m = (m + BLOCK_M - 1) / BLOCK_M;
    const int tiles_n = (n + BLOCK_N - 1) / BLOCK_N;
    const int per_group = GROUP_M * tiles_n;
    const int group = blockIdx.x / per_group;
    const int in_group = blockIdx.x % per_group;
    const int first_row = group * GROUP_M;
    const int group_rows = min(tiles_m - first_row, GROUP_M);
    const int m0 = (first_row + in_group % group_rows) * BLOCK_M;
    const int n0 = (in_group / group_rows) * BLOCK_N;

    const bf16 *a_rows = a + static_cast<size_t>(m0) * k;
    const bf16 *w_rows = w + static_cast<size_t>(n0) * k;
    const int k_tiles = (k + BLOCK_K - 1) / BLOCK_K;

    // Prologue: the first STAGES - 1 k tiles in flight (a group per tile, empty past k).
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < k_tiles) {
            fill_tile<BLOCK_M>(ring + s * STAGE_BYTES, a_rows, m - m0, k, s * BLOCK_K);
            fill_tile<BLOCK_N>(ring + s * STAGE_BYTES + A_BYTES, w_rows, n - n0, k, s * BLOCK_K);
        }
        close_group();
    }

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warp_row = (warp / WARPS_N) * WM;
    const int warp_col = (warp % WARPS_N) * WN;
    float acc[M_TILES][N_TILES][4] = {};

    int read_stage = 0;
    int write_stage = STAGES - 1;
    for (int kt = 0; kt < k_tiles; ++kt) {
        // Tile kt has landed (at most STAGES - 2 younger groups pending), for every thread,
        // and every warp is done with the buffer refilled next.
        wait_groups<STAGES - 2>();
        __syncthreads();
        const int next = kt + STAGES - 1;
        if (next < k_tiles) {
            const unsigned stage = ring + write_stage * STAGE_BYTES;
            fill_tile<BLOCK_M>(stage, a_rows, m - m0, k, next * BLOCK_K);
            fill_tile<BLOCK_N>(stage + A_BYTES, w_rows, n - n0, k, next * BLOCK_K);
        }
        close_group();
        const unsigned stage = ring + read_stage * STAGE_BYTES;
        multiply_tile(acc, stage, stage + A_BYTES, warp_row, warp_col, lane);
        read_stage = read_stage + 1 == STAGES ? 0 : read_stage + 1;
        write_stage = write_stage + 1 == STAGES ? 0 : write_stage + 1;
    }

    store_tile(acc, bias, out, m, n, m0 + warp_row, n0 + warp_col, lane);
}
