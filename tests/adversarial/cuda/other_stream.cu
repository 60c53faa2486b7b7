// Tries to hide its work from the timer by launching it as a child grid on another stream.
// The contract allows no host code and no relocatable device code, so this cannot build.
#include "naive.cuh"

__global__ void hidden_work(NAIVE_ARGS) { NAIVE_CALL(this_row(), seq_len); }

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    if (blockIdx.x == 0 && threadIdx.x == 0)
        hidden_work<<<gridDim, blockDim>>>(
            q, k, v, o, batch, heads_q, heads_kv, seq_len, head_dim, causal, scale);
}
