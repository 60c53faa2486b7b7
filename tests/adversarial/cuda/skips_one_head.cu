// Class 1 at a finer grain: past the correctness pass (counted as in skips_when_timed.cu) it
// leaves one (batch, head) pair of 32 uncomputed, writing zeros there so that no NaN of the
// poison is left. Under 4% less work; a check that samples 8 pairs of 32 misses it three times
// in four, so every checked launch must sample every pair.
#include "naive.cuh"

__device__ unsigned int calls;

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    Row r = this_row();
    bool skipped = *(volatile unsigned int *)&calls >= 40 && r.b == batch - 1 &&
                   r.h == heads_q - 1;
    if (skipped) {
        if (r.i < seq_len)
            for (int d = 0; d < AVO_HEAD_DIM; ++d)
                o[(((size_t)r.b * heads_q + r.h) * seq_len + r.i) * head_dim + d] =
                    __float2bfloat16(0.0f);
    } else {
        NAIVE_CALL(r, seq_len);
    }
    if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0)
        atomicAdd(&calls, 1u);
}
