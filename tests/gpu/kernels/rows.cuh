// Plain fp32 online-softmax attention over a range of keys, one thread per query row, for the
// GPU test kernels that exercise the launch contract rather than speed.
#pragma once
#include <cuda_bf16.h>

#define AVO_ARGS const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k, \
    const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int batch, \
    int heads_q, int heads_kv, int seq_len, int head_dim, int causal, float scale

#define NEG_INF (-__int_as_float(0x7f800000))  // NVRTC has no math.h

struct RowState {
    float m, l;
    float acc[AVO_HEAD_DIM];
};

__device__ __forceinline__ void row_init(RowState &st) {
    st.m = NEG_INF;
    st.l = 0.0f;
    for (int d = 0; d < AVO_HEAD_DIM; ++d) st.acc[d] = 0.0f;
}

__device__ __forceinline__ size_t row_offset(int b, int h, int heads, int seq_len, int i) {
    return (((size_t)b * heads + h) * seq_len + i) * AVO_HEAD_DIM;
}

// Folds keys [begin, end) of (b, kv_head) into row i's state.
__device__ void attend(const __nv_bfloat16 *q_row, const __nv_bfloat16 *k_head,
                       const __nv_bfloat16 *v_head, int begin, int end, float scale,
                       RowState &st) {
    for (int j = begin; j < end; ++j) {
        const __nv_bfloat16 *kj = k_head + (size_t)j * AVO_HEAD_DIM;
        float s = 0.0f;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            s += __bfloat162float(q_row[d]) * __bfloat162float(kj[d]);
        s *= scale;
        float m_new = fmaxf(st.m, s);
        float correction = __expf(st.m - m_new), p = __expf(s - m_new);
        st.l = st.l * correction + p;
        const __nv_bfloat16 *vj = v_head + (size_t)j * AVO_HEAD_DIM;
        for (int d = 0; d < AVO_HEAD_DIM; ++d)
            st.acc[d] = st.acc[d] * correction + p * __bfloat162float(vj[d]);
        st.m = m_new;
    }
}

__device__ __forceinline__ void write_row(__nv_bfloat16 *o_row, const RowState &st) {
    for (int d = 0; d < AVO_HEAD_DIM; ++d) o_row[d] = __float2bfloat16(st.acc[d] / st.l);
}
