/* A plain, correct attention forward shared by the adversarial kernels: each one is this plus
 * one way of cheating or breaking. Rows [row_begin, row_end) of every head; keys [0, key_end)
 * unless causal cuts them shorter. */
#include <math.h>
#include <stdlib.h>

static void naive_rows(const float *q, const float *k, const float *v, float *o, int batch,
                       int heads_q, int heads_kv, int seq_len, int head_dim, int causal,
                       float scale, int row_begin, int row_end, int key_end) {
    float *p = malloc(sizeof(float) * seq_len);
    int group = heads_q / heads_kv;
    for (int b = 0; b < batch; ++b)
        for (int h = 0; h < heads_q; ++h) {
            const float *qh = q + ((size_t)b * heads_q + h) * seq_len * head_dim;
            const float *kh = k + ((size_t)b * heads_kv + h / group) * seq_len * head_dim;
            const float *vh = v + ((size_t)b * heads_kv + h / group) * seq_len * head_dim;
            float *oh = o + ((size_t)b * heads_q + h) * seq_len * head_dim;
            for (int i = row_begin; i < row_end; ++i) {
                int keys = causal && i + 1 < key_end ? i + 1 : key_end;
                float m = -INFINITY, l = 0.0f;
                for (int j = 0; j < keys; ++j) {
                    float s = 0.0f;
                    for (int d = 0; d < head_dim; ++d) s += qh[i * head_dim + d] * kh[j * head_dim + d];
                    p[j] = s * scale;
                    if (p[j] > m) m = p[j];
                }
                for (int d = 0; d < head_dim; ++d) oh[i * head_dim + d] = 0.0f;
                for (int j = 0; j < keys; ++j) {
                    float w = expf(p[j] - m);
                    l += w;
                    for (int d = 0; d < head_dim; ++d) oh[i * head_dim + d] += w * vh[j * head_dim + d];
                }
                for (int d = 0; d < head_dim; ++d) oh[i * head_dim + d] /= l;
            }
        }
    free(p);
}

#define NAIVE_ARGS const float *q, const float *k, const float *v, float *o, int batch, \
    int heads_q, int heads_kv, int seq_len, int head_dim, int causal, float scale

#define naive_attention(rows, keys) naive_rows(q, k, v, o, batch, heads_q, heads_kv, seq_len, \
    head_dim, causal, scale, 0, rows, keys)
