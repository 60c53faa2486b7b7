// Class 5: mishandles a remainder. When the length leaves 48 to 63 keys past a multiple of 64,
// the last partial tile of 16 keys is dropped. No fixed edge length of the targets (1, 37, 129,
// 1000, 4097, and the grid's multiples of 4096) has such a remainder.
#include "naive.cuh"

extern "C" __global__ void avo_attention_fwd(NAIVE_ARGS) {
    int keys = seq_len;
    if (seq_len % 64 >= 48 && seq_len % 16) keys = seq_len - seq_len % 16;
    NAIVE_CALL(this_row(), keys);
}
