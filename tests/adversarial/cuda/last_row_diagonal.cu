// Class 5: wrong on one row per head. Under the causal mask, on lengths of 512 and more, the
// last query row skips its own key: an off-by-one on the diagonal that hides in the whole
// output's bounds (the row's values are small, and it is one of thousands). Each row's own
// tolerance catches it.
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    Row row = this_row();
    int keys = causal && seq_len >= 512 && row.i == seq_len - 1 ? seq_len - 1 : seq_len;
    NAIVE_CALL(row, keys);
}
