/* Correct output, but it uses q as scratch space and leaves it changed. */
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    naive_attention(seq_len, seq_len);
    ((float *)q)[0] += 1.0f;
}
