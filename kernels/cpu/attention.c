/*
 * Attention forward on the CPU: tiled, with an online (streaming) softmax, FlashAttention style.
 *
 * Contract (knowledge/kernel-contract.md, target cpu-attention): q, k, v and o are contiguous
 * float32 arrays laid out [batch, heads, seq_len, head_dim]; query head h reads key/value head
 * h / (heads_q / heads_kv). With causal, query i attends keys 0..i. o arrives filled with NaN.
 *
 * Each OpenMP task owns one block of BLOCK_Q queries of one head. It walks the keys BLOCK_K at
 * a time, keeping per query the running maximum m, the running sum l of exp(s - m) and the
 * unnormalised output acc, rescaled whenever m grows. o = acc / l at the end.
 *
 * The seed runs on one thread (THREADS 1; 0 means every core) and with middling tiles: it is
 * a starting point, and finding parallelism and better tiles is the search's first job.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#define BLOCK_Q 32      // avo:knob 8 16 32 64
#define BLOCK_K 64      // avo:knob 16 32 64 128
#define UNROLL 4        // avo:knob 1 2 4 8
#define THREADS 1       // avo:knob 0 1 2 4 8
#define MAX_HEAD_DIM 256
// avo:require BLOCK_Q * BLOCK_K <= 8192
// Extra work for benchmarks/gate_power.py, which needs a copy of this kernel slower by a known
// amount: a dependent chain of AVO_EXTRA_WORK FMAs per key block. 0 in every real use.
#ifndef AVO_EXTRA_WORK
#define AVO_EXTRA_WORK 0
#endif

// avo:region dot: the dot product of a query and a key row, UNROLL partial sums
static inline float dot(const float *a, const float *b, int n) {
    float partial[UNROLL] = {0};
    int d = 0;
    for (; d + UNROLL <= n; d += UNROLL)
        for (int u = 0; u < UNROLL; ++u)
            partial[u] += a[d + u] * b[d + u];
    float sum = 0.0f;
    for (; d < n; ++d)
        sum += a[d] * b[d];
    for (int u = 0; u < UNROLL; ++u)
        sum += partial[u];
    return sum;
}
// avo:end dot

static void attend_block(const float *q, const float *k, const float *v, float *o, int seq_len,
                         int head_dim, int q_start, int causal, float scale) {
    float acc[BLOCK_Q][MAX_HEAD_DIM];
    float m[BLOCK_Q], l[BLOCK_Q], s[BLOCK_Q][BLOCK_K];
    int rows = seq_len - q_start < BLOCK_Q ? seq_len - q_start : BLOCK_Q;
    for (int i = 0; i < rows; ++i) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
        memset(acc[i], 0, sizeof(float) * head_dim);
    }
    int k_end = causal ? q_start + rows : seq_len;
    // avo:region kv_loop: the loop over key blocks of BLOCK_K keys, for each query row of the block
    for (int k_start = 0; k_start < k_end; k_start += BLOCK_K) {
        int cols = k_end - k_start < BLOCK_K ? k_end - k_start : BLOCK_K;
        for (int i = 0; i < rows; ++i) {
            const float *qi = q + (size_t)(q_start + i) * head_dim;
            int limit = causal ? q_start + i - k_start + 1 : cols;  /* keys this query may see */
            if (limit > cols) limit = cols;
            // avo:region scores: the scores s = q.k * scale of a key block, the causal mask, the block max
            float block_max = -INFINITY;
            for (int j = 0; j < cols; ++j) {
                s[i][j] = j < limit ? dot(qi, k + (size_t)(k_start + j) * head_dim, head_dim) * scale
                                    : -INFINITY;
                if (s[i][j] > block_max) block_max = s[i][j];
            }
            // avo:end scores
            // avo:region softmax: the online softmax: the running max m, the correction of l and acc, p = exp, acc += p v
            if (block_max == -INFINITY) continue;  /* every key in this block is masked */
            float m_new = m[i] > block_max ? m[i] : block_max;
            float correction = expf(m[i] - m_new);
            l[i] *= correction;
            for (int d = 0; d < head_dim; ++d) acc[i][d] *= correction;
            for (int j = 0; j < cols; ++j) {
                float p = expf(s[i][j] - m_new);
                l[i] += p;
                const float *vj = v + (size_t)(k_start + j) * head_dim;
                for (int d = 0; d < head_dim; ++d) acc[i][d] += p * vj[d];
            }
            m[i] = m_new;
            // avo:end softmax
        }
    }
    // avo:end kv_loop
#if AVO_EXTRA_WORK > 0
    float x = l[0];
    for (long i = 0; i < (long)AVO_EXTRA_WORK * ((k_end + BLOCK_K - 1) / BLOCK_K); ++i)
        x = fmaf(x, 0.999f, 1e-3f);
    if (x != x) o[0] = x;  /* never: l[0] is finite and no FMA of finite values makes a NaN */
#endif
    // avo:region epilogue: o = acc / l, written back
    for (int i = 0; i < rows; ++i) {
        float inv = 1.0f / l[i];
        float *oi = o + (size_t)(q_start + i) * head_dim;
        for (int d = 0; d < head_dim; ++d) oi[d] = acc[i][d] * inv;
    }
    // avo:end epilogue
}

void avo_attention_fwd(const float *q, const float *k, const float *v, float *o, int batch,
                       int heads_q, int heads_kv, int seq_len, int head_dim, int causal,
                       float scale) {
    // avo:region schedule: the OpenMP task loop over (batch, head, query block), causal blocks longest first
    int group = heads_q / heads_kv;
    int q_blocks = (seq_len + BLOCK_Q - 1) / BLOCK_Q;
    long tasks = (long)batch * heads_q * q_blocks;
    size_t q_head = (size_t)seq_len * head_dim;
#pragma omp parallel for schedule(dynamic) num_threads(THREADS > 0 ? THREADS : omp_get_max_threads())
    for (long t = 0; t < tasks; ++t) {
        /* Causal blocks near the end do the most work; hand them out first. */
        long task = causal ? tasks - 1 - t : t;
        int block = (int)(task % q_blocks);
        int head = (int)(task / q_blocks % heads_q);
        int b = (int)(task / q_blocks / heads_q);
        size_t qo = ((size_t)b * heads_q + head) * q_head;
        size_t kv = ((size_t)b * heads_kv + head / group) * q_head;
        attend_block(q + qo, k + kv, v + kv, o + qo, seq_len, head_dim, block * BLOCK_Q, causal,
                     scale);
    }
    // avo:end schedule
}
