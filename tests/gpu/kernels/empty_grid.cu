// A launch declaration that gives an empty grid when S < 8192: the evaluation must fail as
// `contract` for that configuration before anything is launched, so the body does nothing.
#include "rows.cuh"

// avo:launch grid=(S / 8192,) block=(128,)

extern "C" __global__ void avo_attention_fwd(AVO_ARGS) {}
