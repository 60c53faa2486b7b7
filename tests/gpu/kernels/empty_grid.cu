// A launch declaration that gives an empty grid when S < 8192: a contract failure for that
// configuration, reported as such (the body is the persistent kernel, correct when launched).
#include "rows.cuh"

#define BLOCK_M 128
// avo:launch grid=(S / 8192,) block=(BLOCK_M,)

extern "C" __global__ void avo_attention_fwd(AVO_ARGS) {
    const int blocks = (seq_len + BLOCK_M - 1) / BLOCK_M;
    const int tiles = batch * heads_q * blocks;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int m_block = tile % blocks, h = tile / blocks % heads_q;
        const int b = tile / blocks / heads_q;
        const int i = m_block * BLOCK_M + threadIdx.x;
        if (i >= seq_len) continue;
        const int kv_head = h / (heads_q / heads_kv);
        RowState st;
        row_init(st);
        attend(q + row_offset(b, h, heads_q, seq_len, i),
               k + row_offset(b, kv_head, heads_kv, seq_len, 0),
               v + row_offset(b, kv_head, heads_kv, seq_len, 0), 0, causal ? i + 1 : seq_len,
               scale, st);
        write_row(o + row_offset(b, h, heads_q, seq_len, i), st);
    }
}
