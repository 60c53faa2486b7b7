// Class 5: accumulates the weighted sum of values in half precision (11 significant bits)
// instead of float32: half the registers, and about 1% of error on the longer rows, where an
// honest bf16 kernel stays near 0.2%. The old fixed tolerance (1.5%) let it through.
#include <cuda_fp16.h>
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    Row r = this_row();
    if (r.i >= seq_len) return;
    int kv_head = r.h / (heads_q / heads_kv);
    size_t q_off = (((size_t)r.b * heads_q + r.h) * seq_len + r.i) * head_dim;
    size_t kv_base = ((size_t)r.b * heads_kv + kv_head) * seq_len * head_dim;
    __half acc[AVO_HEAD_DIM];
    for (int d = 0; d < AVO_HEAD_DIM; ++d) acc[d] = __float2half(0.0f);
    float m = -__int_as_float(0x7f800000);
    float l = 0.0f;
    int keys = causal ? r.i + 1 : seq_len;
    for (int j = 0; j < keys; ++j) {
        float s = 0.0f;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            s += __bfloat162float(q[q_off + d]) * __bfloat162float(k[kv_base + (size_t)j * head_dim + d]);
        s *= scale;
        float m_new = fmaxf(m, s);
        float correction_f = __expf(m - m_new), p_f = __expf(s - m_new);
        __half correction = __float2half(correction_f), p = __float2half(p_f);
        l = l * correction_f + p_f;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            acc[d] = __hfma(acc[d], correction,
                            __hmul(p, __float2half(__bfloat162float(v[kv_base + (size_t)j * head_dim + d]))));
        m = m_new;
    }
    for (int d = 0; d < AVO_HEAD_DIM; ++d)
        o[q_off + d] = __float2bfloat16(__half2float(acc[d]) / l);
}
