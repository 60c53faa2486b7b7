// Never finishes.
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    volatile int forever = 1;
    while (forever) {
    }
}
