// A plain, correct attention forward shared by the GPU adversarial kernels: one thread per
// query row, fp32 online softmax. Each adversarial kernel is this plus one way to break or cheat.
#include <cuda_bf16.h>

#define ROWS_PER_BLOCK 128
// avo:launch grid=(ceil_div(S, ROWS_PER_BLOCK), HQ, B) block=(ROWS_PER_BLOCK,)

#define NAIVE_ARGS const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k, \
    const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int batch, \
    int heads_q, int heads_kv, int seq_len, int head_dim, int causal, float scale

struct Row {
    int b, h, i;
};

__device__ inline Row this_row() {
    return Row{(int)blockIdx.z, (int)blockIdx.y, (int)(blockIdx.x * blockDim.x + threadIdx.x)};
}

// Writes row r of o, attending keys [0, key_end) (fewer under the causal mask).
__device__ void naive_row(NAIVE_ARGS, Row r, int key_end) {
    if (r.i >= seq_len) return;
    int kv_head = r.h / (heads_q / heads_kv);
    size_t q_off = (((size_t)r.b * heads_q + r.h) * seq_len + r.i) * head_dim;
    size_t kv_base = ((size_t)r.b * heads_kv + kv_head) * seq_len * head_dim;
    float acc[AVO_HEAD_DIM];
    for (int d = 0; d < AVO_HEAD_DIM; ++d) acc[d] = 0.0f;
    float m = -__int_as_float(0x7f800000), l = 0.0f;  // -inf; NVRTC has no math.h
    int keys = causal && r.i + 1 < key_end ? r.i + 1 : key_end;
    for (int j = 0; j < keys; ++j) {
        const __nv_bfloat16 *kj = k + kv_base + (size_t)j * head_dim;
        float s = 0.0f;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            s += __bfloat162float(q[q_off + d]) * __bfloat162float(kj[d]);
        s *= scale;
        float m_new = fmaxf(m, s);
        float correction = __expf(m - m_new), p = __expf(s - m_new);
        l = l * correction + p;
        const __nv_bfloat16 *vj = v + kv_base + (size_t)j * head_dim;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            acc[d] = acc[d] * correction + p * __bfloat162float(vj[d]);
        m = m_new;
    }
    for (int d = 0; d < AVO_HEAD_DIM; ++d) o[q_off + d] = __float2bfloat16(acc[d] / l);
}

#define NAIVE_CALL(row, key_end) naive_row(q, k, v, o, batch, heads_q, heads_kv, seq_len, \
    head_dim, causal, scale, row, key_end)
