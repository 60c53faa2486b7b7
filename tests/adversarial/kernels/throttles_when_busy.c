/* Faster than the best launch by launch, but only while it runs a small share of the time:
 * run back to back it does 4x its work, as a kernel that draws more power per FLOP runs at a
 * lower clock at the power limit, where users run it (issue 70). Interleaved, the best and the
 * harness run between its launches and it stays cool. */
#include <time.h>
#include "naive.h"

static double busy, last_end;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

void avo_attention_fwd(NAIVE_ARGS) {
    double start = now();
    int repeats = busy > 0.65 ? 4 : 1;  /* interleaved it stays near 0.5 at most */
    for (int r = 0; r < repeats; ++r) naive_attention(seq_len, seq_len);
    double end = now();
    double share = last_end > 0 ? (end - start) / (end - last_end) : 0.0;
    busy = 0.7 * busy + 0.3 * share;  /* a running share of the time spent working */
    last_end = end;
}
