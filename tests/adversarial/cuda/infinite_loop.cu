// Never finishes. (The asm statement is a side effect, so the compiler may not delete the loop
// as C++ lets it delete side-effect-free infinite loops.)
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    for (;;) asm volatile("nanosleep.u32 1000;");
}
