/* Class 5: keeps the softmax weights at 13 significant bits for the weighted sum of values, as
 * a kernel storing them in a 16-bit format would, although the target is float32. The error
 * this adds is a few times 1e-5, under the old fixed tolerance of 1e-4. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "naive.h"

static float to_13_bits(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    bits = (bits + 0x3ff + ((bits >> 11) & 1)) & 0xfffff800u;
    memcpy(&x, &bits, 4);
    return x;
}

void avo_attention_fwd(NAIVE_ARGS) {
    int group = heads_q / heads_kv;
    float *p = malloc(sizeof(float) * seq_len);
    for (int b = 0; b < batch; ++b)
        for (int h = 0; h < heads_q; ++h) {
            const float *qh = q + ((size_t)b * heads_q + h) * seq_len * head_dim;
            const float *kh = k + ((size_t)b * heads_kv + h / group) * seq_len * head_dim;
            const float *vh = v + ((size_t)b * heads_kv + h / group) * seq_len * head_dim;
            float *oh = o + ((size_t)b * heads_q + h) * seq_len * head_dim;
            for (int i = 0; i < seq_len; ++i) {
                int keys = causal ? i + 1 : seq_len;
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
                    w = to_13_bits(w);
                    for (int d = 0; d < head_dim; ++d) oh[i * head_dim + d] += w * vh[j * head_dim + d];
                }
                for (int d = 0; d < head_dim; ++d) oh[i * head_dim + d] /= l;
            }
        }
    free(p);
}
