// Writes far outside the output: CUDA_ERROR_ILLEGAL_ADDRESS, a sticky error.
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    NAIVE_CALL(this_row(), seq_len);
    if (threadIdx.x == 0) o[(size_t)1 << 40] = __float2bfloat16(1.0f);
}
