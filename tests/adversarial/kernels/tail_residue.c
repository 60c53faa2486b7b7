/* Class 5: mishandles a remainder. Keys come in tiles of 16, and when the length leaves 48 to
 * 63 keys past a multiple of 64 the last partial tile is dropped. No fixed edge length of the
 * target has such a remainder (1, 37, 100, 129, 200 and the grid's multiples of 64). */
#include "naive.h"

void avo_attention_fwd(NAIVE_ARGS) {
    int keys = seq_len;
    if (seq_len % 64 >= 48 && seq_len % 16) keys = seq_len - seq_len % 16;
    if (keys == 0) keys = seq_len;
    naive_attention(seq_len, keys);
}
