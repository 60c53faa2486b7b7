// Naive attention on 2-CTA thread-block clusters: both CTAs of a cluster own the same query
// rows and each folds in half of the keys; rank 1 writes its partial softmax state into rank
// 0's shared memory (distributed shared memory), and rank 0 merges the two and writes O.
// It traps unless the harness launched real 2-CTA clusters over exactly the declared grid.
#include "rows.cuh"

#define BLOCK_M 64
#define CLUSTER 2
// avo:launch grid=(CLUSTER * ceil_div(S, BLOCK_M), HQ, B) block=(BLOCK_M,) cluster=(CLUSTER, 1, 1)

__device__ __forceinline__ unsigned cluster_special(int which) {
    unsigned value;
    if (which == 0)
        asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(value));
    else
        asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(value));
    return value;
}

// Every thread of every CTA in the cluster; release/acquire orders shared-memory traffic.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n\t"
                 "barrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// The shared::cluster address of `p` (a shared variable) in the CTA of rank `rank`.
__device__ __forceinline__ unsigned remote(const void *p, unsigned rank) {
    unsigned local = static_cast<unsigned>(__cvta_generic_to_shared(p)), address;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(address) : "r"(local), "r"(rank));
    return address;
}

__device__ __forceinline__ void store_remote(unsigned address, float value) {
    asm volatile("st.shared::cluster.f32 [%0], %1;" ::"r"(address), "f"(value) : "memory");
}

extern "C" __global__ void avo_attention_fwd(AVO_ARGS) {
    __shared__ float peer_m[BLOCK_M], peer_l[BLOCK_M], peer_acc[AVO_HEAD_DIM][BLOCK_M];
    const unsigned rank = cluster_special(0);
    const int tile = blockIdx.x / CLUSTER, t = threadIdx.x, h = blockIdx.y, b = blockIdx.z;
    if (cluster_special(1) != CLUSTER || tile >= (seq_len + BLOCK_M - 1) / BLOCK_M) __trap();
    const int i = tile * BLOCK_M + t;
    const int key_end = causal ? min(seq_len, (tile + 1) * BLOCK_M) : seq_len;
    const int half = (key_end + 1) / 2;  // rank 0 always holds key 0, so its maximum is finite
    int begin = rank == 0 ? 0 : half, end = rank == 0 ? half : key_end;
    if (causal) end = min(end, i + 1);

    cluster_sync();  // the peer must be running before its shared memory is written
    RowState st;
    row_init(st);
    const int kv_head = h / (heads_q / heads_kv);
    if (i < seq_len)
        attend(q + row_offset(b, h, heads_q, seq_len, i),
               k + row_offset(b, kv_head, heads_kv, seq_len, 0),
               v + row_offset(b, kv_head, heads_kv, seq_len, 0), begin, end, scale, st);
    if (rank == 1) {
        store_remote(remote(&peer_m[t], 0), st.m);
        store_remote(remote(&peer_l[t], 0), st.l);
        for (int d = 0; d < AVO_HEAD_DIM; ++d) store_remote(remote(&peer_acc[d][t], 0), st.acc[d]);
    }
    cluster_sync();  // rank 1's state has landed in rank 0
    if (rank != 0 || i >= seq_len) return;
    const float m = fmaxf(st.m, peer_m[t]);
    const float mine = __expf(st.m - m), theirs = __expf(peer_m[t] - m);
    st.l = st.l * mine + peer_l[t] * theirs;
    for (int d = 0; d < AVO_HEAD_DIM; ++d) st.acc[d] = st.acc[d] * mine + peer_acc[d][t] * theirs;
    write_row(o + row_offset(b, h, heads_q, seq_len, i), st);
}
