// Declares a tensor map but has no CUtensorMap parameter for it: the harness refuses it when
// loading the kernel (contract), since the launch would pass an argument the kernel lacks.
#include "rows.cuh"

#define BLOCK_M 64
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(BLOCK_M,)
// avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_M, 64) swizzle=128B

extern "C" __global__ void avo_attention_fwd(AVO_ARGS) {}
