// The selective failures of tests/gpu/test_gpu_selective_failures.py (issue 52): a kernel that
// computes the honest answer until it believes the commit gate is measuring it, and then
// crashes (trap) or hangs, to cancel a decision it expects to lose.
//
// The test wraps the body of a target's own seed: every thread of every block calls
// avo_watch(ints) first, with the entry point's int scalars, then runs the seed's body. Before
// this file it defines:
//   AVO_WATCH_INTS     how many int scalars the entry point takes (at least 1)
//   AVO_WATCH_CONFIG   their values on the timed configuration watched, as an initializer
//   AVO_WATCH_AFTER    launches of that configuration that run honestly; the next one fails
//   AVO_WATCH_HANG     0: the failing launch traps (a sticky CUDA error); 1: it never ends
//
// The state is a __device__ counter: it lives as long as the loaded module, that is one
// evaluation (each evaluation loads the kernel afresh), and it is bumped once per launch of
// the watched configuration by the first thread of the first block. That thread alone fails:
// a trap in one thread ends the whole grid, and one block that never ends holds the launch.

__device__ unsigned int avo_watch_launches;
__device__ int avo_watch_never;  // written by nobody: the hang's loop can never end

__device__ __forceinline__ void avo_watch(const int *ints) {
    if ((threadIdx.x | threadIdx.y | threadIdx.z | blockIdx.x | blockIdx.y | blockIdx.z) != 0)
        return;
    const int watched[AVO_WATCH_INTS] = AVO_WATCH_CONFIG;
    for (int i = 0; i < AVO_WATCH_INTS; ++i)
        if (ints[i] != watched[i]) return;
    if (atomicAdd(&avo_watch_launches, 1u) < (unsigned int)(AVO_WATCH_AFTER)) return;
#if AVO_WATCH_HANG
    // A volatile read and an asm statement each iteration: side effects the compiler keeps.
    while (*(volatile int *)&avo_watch_never == 0) asm volatile("nanosleep.u32 1000;");
#else
    asm volatile("trap;");
#endif
}
