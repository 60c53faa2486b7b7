// The padding of benchmarks/heat_pad.py (issue 70, item 2): blocks held for a count of SM
// cycles, asleep or busy, to find a kernel as fast as another launch by launch that draws more
// power.
//
// heat_pad.py wraps the body of a target's own seed: every thread runs the seed's body, then
// avo_pad(), which holds its block for AVO_PAD_CYCLES cycles of the SM clock:
//   AVO_PAD_HOT 0  every warp asleep (nanosleep between looks at the clock): little power;
//   AVO_PAD_HOT n  the first n warps of each block issuing tensor-core MMAs (AVO_PAD_FFMA 1:
//                  FMAs) back to back, the others asleep: more power the more warps.
// Both count cycles, not nanoseconds, so at one clock they last as long whatever the clock is.
// Both paths are compiled into every kernel, chosen by a device variable the compiler cannot
// fold, so that all take as many registers and as many blocks fit on an SM.

__device__ int avo_pad_flip;  // zero, and written by nobody

__device__ __forceinline__ void avo_pad() {
    const long long start = clock64();
    if ((int)(threadIdx.x / 32) < ((AVO_PAD_HOT) ^ *(volatile int *)&avo_pad_flip)) {
        // Operands the compiler cannot know, and volatile asm: the work is issued, not folded.
        const unsigned a = threadIdx.x * 0x9e3779b9u, b = blockIdx.x | 0x3c003c00u;
        float c[4][4] = {};
        while (clock64() - start < (long long)(AVO_PAD_CYCLES)) {
#if AVO_PAD_FFMA
#pragma unroll
            for (int i = 0; i < 16; ++i)
                asm volatile("fma.rn.f32 %0, %0, %1, %2;" : "+f"(c[i / 4][i % 4])
                             : "f"(__uint_as_float(a >> 9 | 0x3f000000u)), "f"(1e-7f));
#else
#pragma unroll
            for (int i = 0; i < 4; ++i)
                asm volatile(
                    "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                    "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                    : "+f"(c[i][0]), "+f"(c[i][1]), "+f"(c[i][2]), "+f"(c[i][3])
                    : "r"(a), "r"(a ^ b), "r"(b), "r"(a + b), "r"(b ^ 0x11u), "r"(a ^ 0x22u));
#endif
        }
    } else {
        while (clock64() - start < (long long)(AVO_PAD_CYCLES)) asm volatile("nanosleep.u32 500;");
    }
}
