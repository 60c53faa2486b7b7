// Naive attention whose tiles move by TMA through harness-built tensor maps: Q in 128B-swizzled
// boxes of 64 columns, K and V in plain boxes of whole rows, O stored back by TMA. One thread
// per query row; correct for any length (TMA zero-fills rows past the end and clips the store).
#include <cuda_bf16.h>

#include "tma.cuh"

#define BLOCK_M 64
#define BLOCK_N 64
#define SWIZZLE_COLS 64  // one 128-byte swizzle row of bf16
#define Q_BOXES (AVO_HEAD_DIM / SWIZZLE_COLS)
#define ROW_BYTES (AVO_HEAD_DIM * 2)
#define Q_BYTES (BLOCK_M * ROW_BYTES)
#define KV_BYTES (BLOCK_N * ROW_BYTES)
#define SMEM_BYTES (1024 + Q_BYTES + 2 * KV_BYTES)  // 1024: room to align for the swizzle
// avo:require BLOCK_N >= BLOCK_M
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(BLOCK_M,) smem=SMEM_BYTES
// avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_M, SWIZZLE_COLS) swizzle=128B
// avo:tensormap tma_k tensor=k box=(1, 1, BLOCK_N, AVO_HEAD_DIM) l2=256B
// avo:tensormap tma_v tensor=v box=(1, 1, BLOCK_N, AVO_HEAD_DIM) l2=256B
// avo:tensormap tma_o tensor=out box=(1, 1, BLOCK_M, AVO_HEAD_DIM)

typedef __nv_bfloat16 bf16;

// Element (r, d) of the Q tile: box d / 64, where the 16-byte chunk of row r's 128 bytes sits
// at chunk ^ (r % 8), the 128B swizzle (the box starts 1024-byte aligned).
__device__ __forceinline__ float q_at(const unsigned char *qs, int r, int d) {
    unsigned offset = r * 128 + (d % SWIZZLE_COLS) * 2;
    offset ^= (r & 7) << 4;
    const unsigned char *box = qs + (d / SWIZZLE_COLS) * BLOCK_M * 128;
    return __bfloat162float(*reinterpret_cast<const bf16 *>(box + offset));
}

extern "C" __global__ void avo_attention_fwd(
    const bf16 *__restrict__ q, const bf16 *__restrict__ k, const bf16 *__restrict__ v,
    bf16 *__restrict__ o, int batch, int heads_q, int heads_kv, int seq_len, int head_dim,
    int causal, float scale, const __grid_constant__ CUtensorMap tma_q,
    const __grid_constant__ CUtensorMap tma_k, const __grid_constant__ CUtensorMap tma_v,
    const __grid_constant__ CUtensorMap tma_o) {
    extern __shared__ unsigned char raw[];
    __shared__ alignas(8) unsigned long long bars[2];  // Q, then K+V of each key block
    unsigned char *qs = raw + (1024 - smem_addr(raw) % 1024) % 1024;
    bf16 *ks = reinterpret_cast<bf16 *>(qs + Q_BYTES);
    bf16 *vs = ks + BLOCK_N * AVO_HEAD_DIM;
    const int t = threadIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int kv_head = h / (heads_q / heads_kv);
    const int row0 = blockIdx.x * BLOCK_M, i = row0 + t;

    if (t == 0) {
        mbar_init(&bars[0], 1);
        mbar_init(&bars[1], 1);
        mbar_fence_init();
    }
    __syncthreads();
    if (t == 0) {
        mbar_expect_tx(&bars[0], Q_BYTES);
        for (int box = 0; box < Q_BOXES; ++box)
            tma_load_4d(qs + box * BLOCK_M * 128, &tma_q, &bars[0], box * SWIZZLE_COLS, row0, h,
                        b);
    }
    mbar_wait(&bars[0], 0);

    float m = -__int_as_float(0x7f800000), l = 0.0f, acc[AVO_HEAD_DIM];
    for (int d = 0; d < AVO_HEAD_DIM; ++d) acc[d] = 0.0f;
    const int key_end = causal ? min(seq_len, row0 + BLOCK_M) : seq_len;
    unsigned phase = 0;
    for (int key0 = 0; key0 < key_end; key0 += BLOCK_N) {
        if (t == 0) {
            mbar_expect_tx(&bars[1], 2 * KV_BYTES);
            tma_load_4d(ks, &tma_k, &bars[1], 0, key0, kv_head, b);
            tma_load_4d(vs, &tma_v, &bars[1], 0, key0, kv_head, b);
        }
        mbar_wait(&bars[1], phase);
        phase ^= 1;
        int keys = min(BLOCK_N, key_end - key0);
        if (causal) keys = min(keys, i + 1 - key0);
        for (int j = 0; j < keys; ++j) {
            float s = 0.0f;
            for (int d = 0; d < AVO_HEAD_DIM; ++d)
                s += q_at(qs, t, d) * __bfloat162float(ks[j * AVO_HEAD_DIM + d]);
            s *= scale;
            float m_new = fmaxf(m, s);
            float correction = __expf(m - m_new), p = __expf(s - m_new);
            l = l * correction + p;
            for (int d = 0; d < AVO_HEAD_DIM; ++d)
                acc[d] = acc[d] * correction + p * __bfloat162float(vs[j * AVO_HEAD_DIM + d]);
            m = m_new;
        }
        __syncthreads();  // K and V are read by all before the next block overwrites them
    }

    // O goes through the K buffer, then out in one TMA store that skips rows past seq_len.
    bf16 *os = ks;
    for (int d = 0; d < AVO_HEAD_DIM; ++d)
        os[t * AVO_HEAD_DIM + d] = __float2bfloat16(i < seq_len ? acc[d] / l : 0.0f);
    fence_proxy_async();
    __syncthreads();
    if (t == 0) {
        tma_store_4d(&tma_o, os, 0, row0, h, b);
        tma_store_wait();
    }
}
