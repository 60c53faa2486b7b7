// Class 5: softmax without the running maximum, exp(s) of the raw logit: exact for logits near
// N(0, 1), which were all the inputs the harness drew; inf/inf once a logit passes about 88.
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    Row r = this_row();
    if (r.i >= seq_len) return;
    int kv_head = r.h / (heads_q / heads_kv);
    size_t q_off = (((size_t)r.b * heads_q + r.h) * seq_len + r.i) * head_dim;
    size_t kv_base = ((size_t)r.b * heads_kv + kv_head) * seq_len * head_dim;
    float acc[AVO_HEAD_DIM];
    for (int d = 0; d < AVO_HEAD_DIM; ++d) acc[d] = 0.0f;
    float l = 0.0f;
    int keys = causal ? r.i + 1 : seq_len;
    for (int j = 0; j < keys; ++j) {
        float s = 0.0f;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            s += __bfloat162float(q[q_off + d]) * __bfloat162float(k[kv_base + (size_t)j * head_dim + d]);
        float p = __expf(s * scale);
        l += p;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            acc[d] += p * __bfloat162float(v[kv_base + (size_t)j * head_dim + d]);
    }
    for (int d = 0; d < AVO_HEAD_DIM; ++d) o[q_off + d] = __float2bfloat16(acc[d] / l);
}
