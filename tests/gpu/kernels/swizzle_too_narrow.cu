// Declares a Q map whose rows (128 bf16, 256 bytes) are wider than its 128B swizzle span: the
// harness refuses it when loading the kernel (contract), before any launch.
#include "rows.cuh"
#include "tma.cuh"

#define BLOCK_M 64
// avo:launch grid=(ceil_div(S, BLOCK_M), HQ, B) block=(BLOCK_M,)
// avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_M, 128) swizzle=128B

extern "C" __global__ void avo_attention_fwd(AVO_ARGS, const __grid_constant__ CUtensorMap tma_q) {}
