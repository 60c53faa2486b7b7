/* A compile error on a known line. */
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    naive_attention(seq_len, seq_len)  /* EXPECT-ERROR: missing semicolon */
}
