// Stages the first key row of its head in shared memory, one element per thread, and forgets
// the barrier: every thread then reads elements that threads of other warps store. Its output
// is right whenever the stores happen to land first, which they usually do, so the correctness
// checks may pass it; compute-sanitizer's racecheck reports the hazard on every launch.
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    __shared__ float first_key[AVO_HEAD_DIM];
    Row r = this_row();
    int kv_head = r.h / (heads_q / heads_kv);
    const __nv_bfloat16 *k0 = k + ((size_t)r.b * heads_kv + kv_head) * seq_len * head_dim;
    if (threadIdx.x < AVO_HEAD_DIM) first_key[threadIdx.x] = __bfloat162float(k0[threadIdx.x]);
    // the missing __syncthreads() belongs here
    float sum = 0.0f;
    for (int d = 0; d < AVO_HEAD_DIM; ++d) sum += first_key[(d + threadIdx.x) % AVO_HEAD_DIM];
    NAIVE_CALL(r, seq_len);
    // finite keys give a finite sum: the staged row changes nothing, yet it is read
    if (sum != sum && r.i < seq_len) o[(((size_t)r.b * heads_q + r.h) * seq_len + r.i) * head_dim] =
        __float2bfloat16(sum);
}
