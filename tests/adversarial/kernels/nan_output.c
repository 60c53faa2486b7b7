/* Correct except for one NaN. */
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    naive_attention(seq_len, seq_len);
    o[0] = NAN;
}
