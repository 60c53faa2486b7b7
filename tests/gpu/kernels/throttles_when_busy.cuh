// The kernel of tests/gpu/test_slower_back_to_back_gpu.py (issue 70, item 2), CUDA's twin of
// tests/adversarial/kernels/throttles_when_busy.c: faster than the best launch by launch, but
// only while it runs a small share of the time. Back to back it holds each block longer, as a
// kernel that draws more power per FLOP runs at a lower clock at the power limit, where users
// run it. Interleaved with the best, the best's launches run between its own and it stays cool.
//
// The test wraps the body of a target's own seed: every thread runs the seed's body, then holds
// its block for AVO_PAD_CYCLES cycles (asleep: nanosleep between looks at the clock), or
// AVO_PAD_CYCLES * AVO_BUSY_SLOWER while the kernel has been busy. "Busy" is a running share of
// the time spent in its own launches, kept on the device across launches: the last block of a
// launch to finish adds the launch's share (its length over the time since the previous one
// ended). The gate's A B B A order keeps the share near 0.7 (a B after an A has about half the
// time, a B after a B all of it); back to back it tends to 1.

__device__ unsigned long long avo_launch_start, avo_last_end;  // %globaltimer, ns
__device__ float avo_busy;
__device__ unsigned int avo_blocks_done;

__device__ __forceinline__ unsigned long long avo_now() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__device__ __forceinline__ void avo_launch_begins() {
    if ((blockIdx.x | blockIdx.y | blockIdx.z | threadIdx.x | threadIdx.y | threadIdx.z) == 0)
        *(volatile unsigned long long *)&avo_launch_start = avo_now();
}

__device__ __forceinline__ void avo_pad() {
    const bool busy = *(volatile float *)&avo_busy > AVO_BUSY_ABOVE;
    const long long cycles = (long long)(AVO_PAD_CYCLES * (busy ? AVO_BUSY_SLOWER : 1.0));
    const long long start = clock64();
    while (clock64() - start < cycles) asm volatile("nanosleep.u32 500;");
}

__device__ __forceinline__ void avo_launch_ends() {
    __syncthreads();
    if ((threadIdx.x | threadIdx.y | threadIdx.z) != 0) return;
    __threadfence();
    const unsigned int blocks = gridDim.x * gridDim.y * gridDim.z;
    if (atomicAdd(&avo_blocks_done, 1u) != blocks - 1) return;
    const unsigned long long end = avo_now();
    const unsigned long long start = *(volatile unsigned long long *)&avo_launch_start;
    const unsigned long long last = avo_last_end;
    const float share = last != 0 && end > last ? float(end - start) / float(end - last) : 0.0f;
    avo_busy = 0.9f * avo_busy + 0.1f * fminf(share, 1.0f);
    avo_last_end = end;
    avo_blocks_done = 0;
    __threadfence();
}
