// TMA and mbarrier through inline PTX, for kernels compiled by NVRTC (sm_90a).
//
// cuda.h cannot be included under NVRTC (it needs the C library's headers), and cuda/barrier
// only forward-declares CUtensorMap, which cannot be passed by value. The harness passes the
// 128-byte descriptor itself, so a kernel declares the type: 16 opaque 64-bit words.
#pragma once

struct alignas(64) CUtensorMap {
    unsigned long long opaque[16];
};

__device__ __forceinline__ unsigned smem_addr(const void *p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(unsigned long long *bar, unsigned arrivals) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(arrivals)
                 : "memory");
}

// Makes initialised barriers visible to the TMA unit (and to the other CTAs of a cluster).
__device__ __forceinline__ void mbar_fence_init() {
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// One arrival that also announces `bytes` of TMA traffic the phase must wait for.
__device__ __forceinline__ void mbar_expect_tx(unsigned long long *bar, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ bool mbar_try_wait(unsigned long long *bar, unsigned parity) {
    unsigned done;
    asm volatile(
        "{\n\t.reg .pred p;\n\t"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
        "selp.u32 %0, 1, 0, p;\n\t}"
        : "=r"(done)
        : "r"(smem_addr(bar)), "r"(parity)
        : "memory");
    return done != 0;
}

__device__ __forceinline__ void mbar_wait(unsigned long long *bar, unsigned parity) {
    while (!mbar_try_wait(bar, parity)) {
    }
}

// Global -> shared copy of one box; coordinates innermost first: (dim, seq, head, batch).
// Rows outside the tensor arrive as zeros and still count towards the barrier's bytes.
__device__ __forceinline__ void tma_load_4d(void *dst, const CUtensorMap *map,
                                            unsigned long long *bar, int d, int s, int h, int b) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%2, %3, %4, %5}], [%6];" ::"r"(smem_addr(dst)),
        "l"(reinterpret_cast<unsigned long long>(map)), "r"(d), "r"(s), "r"(h), "r"(b),
        "r"(smem_addr(bar))
        : "memory");
}

// Shared -> global copy of one box; rows outside the tensor are not written.
__device__ __forceinline__ void tma_store_4d(const CUtensorMap *map, const void *src, int d,
                                             int s, int h, int b) {
    asm volatile(
        "cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [%0, {%1, %2, %3, %4}], [%5];"
        ::"l"(reinterpret_cast<unsigned long long>(map)), "r"(d), "r"(s), "r"(h), "r"(b),
        "r"(smem_addr(src))
        : "memory");
    asm volatile("cp.async.bulk.commit_group;" ::: "memory");
}

// Waits until every committed store has read its shared memory (which may then be reused).
__device__ __forceinline__ void tma_store_wait() {
    asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
}

// Orders this thread's ordinary shared-memory writes before later TMA reads of them.
__device__ __forceinline__ void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
