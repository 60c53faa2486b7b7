/*
 * RMSNorm with a residual add, bf16, for every GPU from sm_80 on, compiled with NVRTC: the seed
 * of the shipped target rmsnorm (targets/rmsnorm.py).
 *
 * Contract: x and residual are [rows, hidden], weight is [hidden], out is [rows, hidden], all
 * contiguous bf16 on the GPU, each 16-byte aligned at its start; any rows >= 1, hidden >= 1.
 *     h = bf16(x + residual)                      (the sum rounded to bf16, as torch's is)
 *     out = bf16(h * rsqrt(mean(h^2) + eps) * weight), in float32
 *
 * Structure
 *  - One CTA of BLOCK threads per row (grid = rows). The kernel moves 3 * rows * hidden * 2
 *    bytes at least and does almost no arithmetic: it is bound by memory bandwidth, and the
 *    score is GB/s (knowledge/rmsnorm.md).
 *  - One pass over global memory: x and residual are read once, their sum h is kept in
 *    dynamic shared memory (hidden bf16), and the output is written once. The weight is
 *    read by every row, and stays in L2.
 *  - Loads and stores move VEC bf16 at a time (VEC = 8: 16 bytes), where hidden is a multiple
 *    of VEC (then every row starts 16-byte aligned); other widths take a scalar path.
 *  - The sum of squares accumulates in float32 per thread, then a warp shuffle reduction and
 *    one across the warps through shared memory: every thread ends with the row's sum.
 *  - Each thread reads back from shared memory only the h it wrote itself, so the only
 *    barrier is the reduction's.
 *
 * Knobs: BLOCK (threads per row), VEC (bf16 per load and store), UNROLL (iterations of each
 * loop unrolled, so that their loads issue together), CACHE_HINTS (streaming loads and stores
 * for the data used once, the read-only path for the weight).
 */
#include <cuda_bf16.h>

#define BLOCK 256      // avo:knob 64 128 256 512 1024
#define VEC 8          // avo:knob 1 2 4 8
#define UNROLL 2       // avo:knob 1 2 4
#define CACHE_HINTS 0  // avo:knob 0 1
// avo:launch grid=(ROWS,) block=(BLOCK,) smem=ceil_div(HIDDEN, 8) * 16

namespace {

constexpr int WARPS = BLOCK / 32;

template <int N>
struct alignas(2 * N) Pack {
    __nv_bfloat16 v[N];
};

// The unsigned type of N bf16: what one load or store instruction moves.
template <int N> struct Raw;
template <> struct Raw<1> { using type = unsigned short; };
template <> struct Raw<2> { using type = unsigned int; };
template <> struct Raw<4> { using type = uint2; };
template <> struct Raw<8> { using type = uint4; };

template <int N>
union Bits {
    typename Raw<N>::type raw;
    Pack<N> pack;
};

// Vector i of a bf16 array. With CACHE_HINTS, what is read once (x, residual: ``once``) is
// loaded evict-first (ld.global.cs) and out stored so (st.global.cs), and the weight, which
// every row reads, through the read-only path: the streams do not push the weight out of L2.
template <int N>
__device__ __forceinline__ Pack<N> load(const __nv_bfloat16 *p, int i, bool once) {
    Bits<N> bits;
    const typename Raw<N>::type *q = reinterpret_cast<const typename Raw<N>::type *>(p) + i;
    bits.raw = !CACHE_HINTS ? *q : once ? __ldcs(q) : __ldg(q);
    return bits.pack;
}

template <int N>
__device__ __forceinline__ void store_once(__nv_bfloat16 *p, int i, const Pack<N> &value) {
    Bits<N> bits;
    bits.pack = value;
    typename Raw<N>::type *q = reinterpret_cast<typename Raw<N>::type *>(p) + i;
    if (CACHE_HINTS)
        __stcs(q, bits.raw);
    else
        *q = bits.raw;
}

// The sum of ``value`` over the block, in every thread.
__device__ __forceinline__ float block_sum(float value, float *scratch) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0)
        scratch[warp] = value;
    __syncthreads();
    value = lane < WARPS ? scratch[lane] : 0.0f;
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

__device__ __forceinline__ __nv_bfloat16 add_bf16(__nv_bfloat16 a, __nv_bfloat16 b) {
    return __float2bfloat16_rn(__bfloat162float(a) + __bfloat162float(b));
}

__device__ __forceinline__ __nv_bfloat16 scale_bf16(__nv_bfloat16 h, float inv,
                                                    __nv_bfloat16 w) {
    return __float2bfloat16_rn(__bfloat162float(h) * inv * __bfloat162float(w));
}

}  // namespace

extern "C" __global__ void __launch_bounds__(BLOCK)
avo_rmsnorm(const __nv_bfloat16 *__restrict__ x, const __nv_bfloat16 *__restrict__ residual,
            const __nv_bfloat16 *__restrict__ weight, __nv_bfloat16 *__restrict__ out, int rows,
            int hidden, float eps) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    __nv_bfloat16 *h = reinterpret_cast<__nv_bfloat16 *>(smem_raw);
    __shared__ float scratch[WARPS];
    const size_t start = static_cast<size_t>(blockIdx.x) * hidden;
    const __nv_bfloat16 *xr = x + start, *rr = residual + start;
    __nv_bfloat16 *o = out + start;
    const bool vectors = hidden % VEC == 0;

    float sum = 0.0f;
    if (vectors) {
        const int count = hidden / VEC;
#pragma unroll UNROLL
        for (int i = threadIdx.x; i < count; i += BLOCK) {
            const Pack<VEC> a = load<VEC>(xr, i, true);
            const Pack<VEC> b = load<VEC>(rr, i, true);
            Pack<VEC> s;
#pragma unroll
            for (int j = 0; j < VEC; ++j) {
                s.v[j] = add_bf16(a.v[j], b.v[j]);
                const float f = __bfloat162float(s.v[j]);
                sum += f * f;
            }
            reinterpret_cast<Pack<VEC> *>(h)[i] = s;
        }
    } else {
        for (int i = threadIdx.x; i < hidden; i += BLOCK) {
            h[i] = add_bf16(xr[i], rr[i]);
            const float f = __bfloat162float(h[i]);
            sum += f * f;
        }
    }
    const float inv = rsqrtf(block_sum(sum, scratch) / static_cast<float>(hidden) + eps);

    if (vectors) {
        const int count = hidden / VEC;
#pragma unroll UNROLL
        for (int i = threadIdx.x; i < count; i += BLOCK) {
            const Pack<VEC> s = reinterpret_cast<const Pack<VEC> *>(h)[i];
            const Pack<VEC> w = load<VEC>(weight, i, false);
            Pack<VEC> r;
#pragma unroll
            for (int j = 0; j < VEC; ++j)
                r.v[j] = scale_bf16(s.v[j], inv, w.v[j]);
            store_once<VEC>(o, i, r);
        }
    } else {
        for (int i = threadIdx.x; i < hidden; i += BLOCK)
            o[i] = scale_bf16(h[i], inv, weight[i]);
    }
}
